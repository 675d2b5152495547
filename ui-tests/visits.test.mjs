// 客户回访 (SPEC §4.6): a complaint closed by 阿杰 becomes a follow-up visit in his 回访 list (due
// three days on); he records how it went and it moves to 已回访. Set up over the API; leaves no
// visit open.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot, login } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

async function call(token, method, path, body) {
  const r = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => null);
  assert.ok(r.ok, `${method} ${path}: HTTP ${r.status} ${JSON.stringify(data)}`);
  return data;
}

test('a closed complaint becomes a visit; the agent records its outcome', async () => {
  const { token } = await call('', 'POST', '/auth/login', { shop: 'demo', username: 'ajie', password: 'demo-agent-123' });
  const order = (await call(token, 'GET', '/orders?state=completed&limit=1')).items[0];
  const complaint = `快递太慢了 ${Date.now()}`;
  const ticket = await call(token, 'POST', '/service-tickets', {
    customer_id: order.customer_id, order_id: order.id, kind: 'complaint', reason: 'logistics', content: complaint,
  });
  for (const action of [
    { action: 'set_responsible', party: 'logistics' },
    { action: 'contact', channel: 'phone', reached: true, note: '已催快递' },
    { action: 'close', outcome: 'complaint_withdrawn' },
  ]) await call(token, 'POST', `/service-tickets/${ticket.id}/actions`, action);

  const p = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(p, 'ajie');
  await p.getByTestId('nav-visits').click();
  await p.getByTestId('visits-view').waitFor();
  await p.getByTestId('visits-filter-open').click();
  const row = p.locator(`[data-testid=visit-row][data-source=complaint]`).filter({ hasText: '投诉回访' }).first();
  await row.waitFor({ timeout: 10000 });
  await shot(p, 'visits');
  await row.getByTestId('visit-outcome-select').selectOption('satisfied');
  await row.getByTestId('visit-note').fill('快递已送到，买家满意');
  const id = await row.getAttribute('data-id');
  await row.getByTestId('visit-record').click();
  await p.locator(`[data-testid=visit-row][data-id="${id}"]`).waitFor({ state: 'detached', timeout: 10000 });
  await p.getByTestId('visits-filter-done').click();
  const done = p.locator(`[data-testid=visit-row][data-id="${id}"]`);
  await done.waitFor({ timeout: 10000 });
  assert.match(await done.getByTestId('visit-outcome').textContent(), /买家满意.*快递已送到/);
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

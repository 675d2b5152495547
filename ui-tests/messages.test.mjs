// The workbench's 留言 queue (SPEC §1.3): a buyer leaves a message when nobody can take the chat,
// an agent sees it under 留言 with the open count, notes what was done and marks it handled.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot, login } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

test('an agent marks a buyer\'s message handled with a note, and it leaves the open list', async () => {
  const r = await fetch(`${BASE}/api/v1/widget/demo/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contact: '13800001111', text: '请尽快回电' }),
  });
  assert.ok(r.ok, `leaving a message: HTTP ${r.status} ${await r.text()}`);

  const p = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(p, 'xiaomei');
  const nav = p.getByTestId('nav-messages');
  await nav.waitFor();
  const count = p.getByTestId('messages-count');
  await count.waitFor();
  const before = Number(await count.getAttribute('data-count'));
  assert.ok(before >= 1, `open messages: ${before}`);
  await nav.click();

  const row = p.getByTestId('message-row').filter({ hasText: '请尽快回电' });
  await row.first().waitFor({ timeout: 10000 });
  assert.equal(await row.count(), 1);
  // Newest first: the message just left is on top.
  assert.match(await p.getByTestId('message-row').first().innerText(), /请尽快回电/);
  await row.getByTestId('message-note').fill('已电话联系买家');
  await shot(p, 'workbench-messages');
  await row.getByTestId('message-done').click();
  await p.waitForFunction(() => ![...document.querySelectorAll('[data-testid=message-row]')]
    .some((el) => el.innerText.includes('请尽快回电')), null, { timeout: 10000 });
  await p.waitForFunction((n) => Number(document.querySelector('[data-testid=messages-count]')?.dataset.count) === n - 1,
    before, { timeout: 10000 });

  // Under 已处理, with the note.
  await p.getByTestId('messages-filter-done').click();
  const done = p.getByTestId('message-row').filter({ hasText: '请尽快回电' });
  await done.first().waitFor({ timeout: 10000 });
  assert.match(await done.first().innerText(), /已电话联系买家/);
  assert.equal(await done.first().getAttribute('data-status'), 'done');
  assert.deepEqual(p.errors, []);
});

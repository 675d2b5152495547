// The workbench's 商品 tab (an agent finds products by title) and the owners' 管理 → 知识库: the
// bot's test console explains a question, an entry's answer is edited and saved, and a refused
// save shows the server's own message next to the field to blame.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot, login } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

/** GET through the API with the page's own session (what the server really holds). */
async function apiGet(p, path) {
  return p.evaluate(async (path) => {
    const auth = JSON.parse(sessionStorage.getItem('kefu_auth'));
    const r = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${auth.token}` } });
    return r.json();
  }, path);
}

test('an agent searches products in the 商品 tab', async () => {
  const p = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(p, 'xiaomei');
  await p.getByTestId('tab-products').click();
  const search = p.getByTestId('product-search');
  await search.waitFor();
  await search.fill('连体衣');
  const items = p.getByTestId('product-item');
  await p.waitForFunction(() => {
    const list = [...document.querySelectorAll('[data-testid=product-item]')];
    return list.length > 0 && list.every((el) => el.innerText.includes('连体衣'));
  }, null, { timeout: 10000 });
  const first = items.first();
  const text = await first.innerText();
  assert.match(text, /¥\d+\.\d\d/, `a price: ${text}`);
  assert.match(text, /库存/, `the stock: ${text}`);
  assert.match(text, /尺码/, `the attributes: ${text}`);
  await first.getByTestId('product-send').waitFor();
  // A SKU finds its product too.
  await search.fill('XMA-LT-001');
  await p.waitForFunction(() => {
    const list = [...document.querySelectorAll('[data-testid=product-item]')];
    return list.length > 0 && list.every((el) => el.dataset.sku === 'XMA-LT-001');
  }, null, { timeout: 10000 });
  await shot(p, 'workbench-products');
  assert.deepEqual(p.errors, []);
});

test('a product from the 商品 tab reaches the buyer as a card', async () => {
  const agent = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(agent, 'xiaomei');
  await agent.getByTestId('presence').selectOption('online');
  await agent.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'online');
  const buyer = await page(b, { viewport: { width: 375, height: 667 } });
  await buyer.goto(`${BASE}/widget/demo`);
  await buyer.getByTestId('widget-input').waitFor();
  await buyer.getByTestId('widget-handoff').click();
  const item = agent.getByTestId('chat-item').first();
  await item.waitFor({ timeout: 15000 });
  await item.click();
  await agent.getByTestId('chat-input').waitFor();
  await agent.getByTestId('tab-products').click();
  await agent.getByTestId('product-search').fill('XMA-LT-004');
  const product = agent.getByTestId('product-item').filter({ hasText: '竹纤维' }).first();
  await product.waitFor({ timeout: 10000 });
  await agent.waitForFunction(() => !document.querySelector('[data-testid=product-item] [data-testid=product-send]')?.disabled);
  await product.getByTestId('product-send').click();
  await buyer.getByTestId('product-card').filter({ hasText: '竹纤维' }).first().waitFor({ timeout: 10000 });
  await agent.locator('[data-testid=chat-message][data-sender=agent] [data-testid=product-card]').first().waitFor();
  // End the chat and go offline, leaving xiaomei as the other tests expect her.
  await agent.getByTestId('chat-input').press('Escape');
  await agent.getByTestId('chat-notice').filter({ hasText: '客服结束了会话' }).first().waitFor({ timeout: 10000 });
  await agent.getByTestId('presence').selectOption('offline');
  await agent.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'offline');
  assert.deepEqual(agent.errors, []);
  assert.deepEqual(buyer.errors, []);
  await agent.context().close();
  await buyer.context().close();
});

test('the owner tests the bot, edits an entry, and sees the server refuse an empty question', async () => {
  const p = await page(b, { viewport: { width: 1366, height: 860 } });
  await login(p, 'owner', 'demo-owner-123');
  await p.getByTestId('nav-admin').click();
  await p.getByTestId('admin-nav-kb').click();
  await p.getByTestId('kb-admin').waitFor();

  // The test console: segmentation, candidates with scores, the decision.
  await p.getByTestId('console-input').fill('满多少包邮呀');
  await p.getByTestId('console-run').click();
  const candidate = p.getByTestId('console-candidate').first();
  await candidate.waitFor({ timeout: 10000 });
  assert.match(await candidate.innerText(), /包邮/);
  assert.match(await candidate.innerText(), /\d\.\d{3}/, 'a score');
  const decision = p.getByTestId('console-decision');
  await decision.waitFor();
  assert.equal(await decision.getAttribute('data-kind'), 'answer');
  assert.match(await decision.innerText(), /满多少包邮/);

  // Edit an entry's answer (one the other tests do not ask about).
  const row = p.getByTestId('kb-entry-row').filter({ hasText: '双十一有什么活动' }).first();
  await row.waitFor({ timeout: 10000 });
  const id = await row.getAttribute('data-id');
  await row.click();
  const question = p.getByTestId('kb-edit-question');
  await p.waitForFunction(() => document.querySelector('[data-testid=kb-edit-question]')?.value.includes('双十一'));
  const similar = await p.getByTestId('kb-edit-similar').inputValue();
  assert.ok(similar.split('\n').length > 1, `similar phrasings one per line: ${similar}`);
  const answer = `亲，双十一全店满199减30哦~（测试 ${Date.now()}）`;
  await p.getByTestId('kb-edit-answer').fill(answer);
  await p.getByTestId('kb-save').click();
  await p.getByTestId('kb-edit-saved').waitFor({ timeout: 10000 });
  await p.getByTestId('kb-entry-row').filter({ hasText: answer }).waitFor();
  const stored = await apiGet(p, `/kb/entries/${id}`);
  assert.equal(stored.answer, answer);
  assert.equal(stored.question, '双十一有什么活动?');
  assert.deepEqual(stored.similar, similar.split('\n'));

  // An empty standard question: the server's 422, its message and field.
  await question.fill('');
  await p.getByTestId('kb-save').click();
  const error = p.getByTestId('kb-edit-error');
  await error.waitFor({ timeout: 10000 });
  assert.equal(await error.getAttribute('data-field'), 'question');
  assert.match(await error.innerText(), /must not be empty/);
  assert.equal(await question.getAttribute('aria-invalid'), 'true');
  assert.equal((await apiGet(p, `/kb/entries/${id}`)).question, '双十一有什么活动?', 'nothing was saved');

  await shot(p, 'kb-admin');
  // Back to 接待.
  await p.getByTestId('nav-desk').click();
  await p.getByTestId('chat-list').waitFor();
  assert.deepEqual(p.errors, []);
});

test('an agent is not offered 管理 (nor 知识库管理 in it)', async () => {
  const p = await page(b);
  await login(p, 'xiaoyu');
  assert.equal(await p.getByTestId('nav-admin').count(), 0);
  assert.equal(await p.getByTestId('kb-admin').count(), 0);
  assert.deepEqual(p.errors, []);
});

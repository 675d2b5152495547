// Product knowledge in the workbench (商品知识库, SPEC §2.10): a buyer on the 高铁米粉 page asks
// for a person; the agent opens 商品, searches in traditional characters (純棉) and reads the
// 尺码表, then finds the rice cereal, and sends its related product — "6个月宝宝可以开始吃辅食"
// — as a card in one click; the buyer's widget shows the card. The chat is closed and the
// agent offline at the end.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot, login, signedBuyer } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

async function presence(p, status) {
  await p.getByTestId('presence').selectOption(status);
  await p.waitForFunction((s) => document.querySelector('[data-testid=presence]')?.value === s, status);
}

test('an agent finds a product, reads its knowledge and sends a related product as a card', async () => {
  const agent = await page(b, { viewport: { width: 1280, height: 860 } });
  await login(agent, 'xiaomei');
  await presence(agent, 'online');

  const nick = `tb_商品${Date.now() % 100000}`;
  const buyer = await page(b, { viewport: { width: 375, height: 667 } });
  await buyer.goto(`${BASE}/widget/demo?sku=XMA-MF-001&token=${encodeURIComponent(await signedBuyer(nick))}`);
  await buyer.getByTestId('widget-input').waitFor();
  await buyer.getByTestId('widget-handoff').click();
  const item = agent.getByTestId('chat-item').filter({ hasText: nick });
  await item.waitFor({ timeout: 15000 });
  await item.click();

  await agent.getByTestId('tab-products').click();
  const search = agent.getByTestId('product-search');
  // Traditional characters find the simplified knowledge; the 尺码表 is a table.
  await search.fill('純棉 縮水');
  const cotton = agent.locator('[data-testid=product-item][data-sku=XMA-LT-001]');
  await cotton.waitFor({ timeout: 5000 });
  assert.match(await cotton.getByTestId('product-matched').textContent(), /常见问题/);
  await cotton.getByTestId('product-open').click();
  const detail = agent.getByTestId('product-detail');
  await detail.waitFor();
  const chart = detail.getByTestId('size-chart');
  await chart.waitFor();
  assert.deepEqual(await chart.locator('th').allTextContents(), ['尺码', '身高', '体重', '月龄']);
  assert.match(await detail.getByTestId('pk-comparisons').textContent(), /××家同款便宜10元/);
  await shot(agent, 'products-detail');
  await agent.getByTestId('product-back').click();

  // The rice cereal's related products, each with the reason to give.
  await search.fill('高铁米粉');
  const rice = agent.locator('[data-testid=product-item][data-sku=XMA-MF-001]');
  await rice.waitFor({ timeout: 5000 });
  await rice.getByTestId('product-open').click();
  const related = detail.getByTestId('related-item').filter({ hasText: '6个月宝宝可以开始吃辅食' }).first();
  await related.waitFor();
  const sku = await related.getAttribute('data-sku');
  const title = (await related.locator('.kb-q b').textContent()).trim();
  await related.getByTestId('related-send').click();
  await related.getByTestId('related-send').filter({ hasText: '已发送' }).waitFor();

  // The buyer sees the card, filled from the catalog.
  const card = buyer.locator('[data-testid=widget-message][data-sender=agent]').getByTestId('product-card').filter({ hasText: title });
  await card.waitFor({ timeout: 10000 });
  assert.match(await card.textContent(), new RegExp(sku));
  await agent.locator('[data-testid=chat-message][data-sender=agent]').getByTestId('product-card').filter({ hasText: title }).waitFor();
  await shot(agent, 'products-related-sent');
  await shot(buyer, 'products-widget-card');

  // Leave the shop as the other tests expect it: the chat ended, the agent offline.
  await agent.getByTestId('chat-input').press('Escape');
  await agent.getByTestId('chat-notice').filter({ hasText: '客服结束了会话' }).first().waitFor({ timeout: 10000 });
  await presence(agent, 'offline');
  assert.deepEqual(agent.errors, []);
  assert.deepEqual(buyer.errors, []);
  await agent.context().close();
  await buyer.context().close();
});

test('管理 → 商品知识: an owner edits a product, relates another, and a bad import names its row', async () => {
  const p = await page(b, { viewport: { width: 1366, height: 900 } });
  await login(p, 'owner', 'demo-owner-123');
  await p.getByTestId('nav-admin').click();
  await p.getByTestId('admin-view').waitFor();
  await p.getByTestId('admin-nav-products').click();
  await p.getByTestId('admin-products').waitFor();
  await p.getByTestId('pk-admin-search').fill('吸管杯');
  await p.locator('[data-testid=pk-admin-item][data-sku=XMA-XG-001] button').click();
  const editor = p.locator('[data-testid=pk-editor][data-sku=XMA-XG-001]');
  await editor.waitFor();

  // A size chart row that does not fit its header is refused where it is typed.
  await p.getByTestId('pk-size_chart').fill('容量|适用月龄\n300ml');
  await p.getByTestId('pk-save').click();
  const refused = editor.locator('[data-name=size_chart] [data-testid=field-error]');
  await refused.waitFor();
  assert.equal(await refused.getAttribute('data-field'), 'size_chart.rows[0]');
  await p.getByTestId('pk-size_chart').fill('容量|适用月龄\n300ml|6个月以上');
  await p.getByTestId('pk-selling_points').fill('重力球360°吸水\n防呛防漏');
  await p.getByTestId('pk-save').click();
  await editor.getByTestId('size-chart').waitFor();
  await editor.getByText('已保存').waitFor();

  // 关联推荐 by SKU with the reason the agents will say.
  await p.getByTestId('pk-related-sku').fill('XMA-FS-001');
  await p.getByTestId('pk-related-reason').fill('6个月宝宝可以开始吃辅食');
  await p.getByTestId('pk-related-add').click();
  await p.getByTestId('pk-admin-related').getByText('推荐理由：6个月宝宝可以开始吃辅食').waitFor();
  await shot(p, 'products-admin');

  // An import with a bad row names it, and nothing changes.
  await p.getByTestId('pk-import').click();
  const bad = 'sku,kind,name,value,similar\nXMA-XG-001,卖点,,新卖点,\nXMA-XG-001,关联推荐,XMA-NONE,理由,\n';
  await p.getByTestId('pk-import-dialog-file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await p.getByTestId('pk-import-dialog-submit').click();
  const error = p.getByTestId('pk-import-dialog-error');
  await error.waitFor();
  assert.equal(await error.getAttribute('data-line'), '3');
  await p.keyboard.press('Escape');
  assert.equal(await p.getByTestId('pk-selling_points').inputValue(), '重力球360°吸水\n防呛防漏');
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

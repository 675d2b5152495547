// 买家类型 in the workbench's buyer panel (SPEC §3.1): a signed buyer bargains again and again;
// the agent serving them sees kefu suggest 讲价型 with its reason and the seeds' strategy, takes
// the suggestion, changes it, and clears it. The chat is closed and the agent offline at the end.
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

test('a bargaining buyer is suggested 讲价型 with the strategy, and the agent sets the type', async () => {
  const nick = `tb_砍价${Date.now() % 100000}`;
  const buyer = await page(b, { viewport: { width: 375, height: 667 } });
  await buyer.goto(`${BASE}/widget/demo?token=${encodeURIComponent(await signedBuyer(nick))}`);
  await buyer.getByTestId('widget-input').waitFor();
  for (const text of ['这个能便宜点吗', '少点呗，包邮吧']) {
    const bots = await buyer.locator('[data-testid=widget-message][data-sender=bot]').count();
    await buyer.getByTestId('widget-input').fill(text);
    await buyer.getByTestId('widget-send').click();
    await buyer.locator('[data-testid=widget-message][data-sender=bot]').nth(bots).waitFor({ timeout: 15000 });
  }

  const agent = await page(b, { viewport: { width: 1280, height: 860 } });
  await login(agent, 'xiaomei');
  await presence(agent, 'online');
  await buyer.getByTestId('widget-handoff').click();
  const item = agent.getByTestId('chat-item').filter({ hasText: nick });
  await item.waitFor({ timeout: 15000 });
  await item.click();

  const box = agent.getByTestId('buyer-type');
  const suggestion = box.getByTestId('btype-suggestion');
  await suggestion.waitFor({ timeout: 10000 });
  assert.equal(await suggestion.getAttribute('data-type'), 'bargainer');
  assert.match(await suggestion.textContent(), /讲价型/);
  assert.match(await suggestion.textContent(), /2 条消息在讲价/);
  assert.match(await box.getByTestId('btype-strategy').textContent(), /咬紧牙关/);
  await shot(agent, 'buyer-type-suggested');

  await box.getByTestId('btype-accept').click();
  const current = box.getByTestId('btype-current');
  await agent.waitForFunction(() => document.querySelector('[data-testid=btype-current]')?.dataset.type === 'bargainer');
  assert.match(await current.textContent(), /讲价型/);
  await box.getByTestId('btype-select').selectOption('polite');
  await agent.waitForFunction(() => document.querySelector('[data-testid=btype-current]')?.dataset.type === 'polite');
  assert.match(await box.getByTestId('btype-strategy').textContent(), /能多热情就做到多热情/);
  // The suggestion stays beside the type the agent chose.
  assert.equal(await box.getByTestId('btype-suggestion').getAttribute('data-type'), 'bargainer');
  await box.getByTestId('btype-clear').click();
  await current.waitFor({ state: 'detached' });

  // Leave the shop as the other tests expect it: the chat ended, the agent offline.
  await agent.getByTestId('chat-input').press('Escape');
  await agent.getByTestId('chat-notice').filter({ hasText: '客服结束了会话' }).first().waitFor({ timeout: 10000 });
  await presence(agent, 'offline');
  assert.deepEqual(agent.errors, []);
  assert.deepEqual(buyer.errors, []);
  await agent.context().close();
  await buyer.context().close();
});

// A buyer and an agent talk through the UI, each in their own browser context: the widget's
// 转人工 reaches the agent's workbench, messages go both ways live, an IME's Enter never
// sends, a flagged link is a warning and not a link, the buyer panel shows their orders.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot, login } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

async function goOnline(p) {
  const presence = p.getByTestId('presence');
  await presence.waitFor();
  if (await presence.evaluate((el) => el.tagName === 'SELECT')) {
    await presence.selectOption('online');
  } else {
    await presence.locator('[data-value=online]').click();
  }
  await p.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'online');
}

test('转人工 from the widget reaches the agent, and they talk both ways', async () => {
  const agent = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(agent, 'xiaomei');
  await goOnline(agent);

  const buyer = await page(b, { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  await buyer.goto(`${BASE}/widget/demo`);
  await buyer.getByTestId('widget-input').waitFor();
  await buyer.getByTestId('widget-handoff').click();

  const item = agent.getByTestId('chat-item').first();
  await item.waitFor({ timeout: 15000 });
  await item.click();
  const input = agent.getByTestId('chat-input');
  await input.fill('亲，您好，请问有什么可以帮您？');
  await input.press('Enter');
  await buyer.locator('[data-testid=widget-message][data-sender=agent]').filter({ hasText: '有什么可以帮您' }).waitFor();

  await buyer.getByTestId('widget-input').fill('宝宝6个月穿什么码');
  await buyer.getByTestId('widget-send').click();
  await agent.getByTestId('chat-message').filter({ hasText: '宝宝6个月穿什么码' }).waitFor();

  // Enter confirming a pinyin candidate (composition, keyCode 229) never sends.
  const before = await agent.getByTestId('chat-message').count();
  await input.fill('ni');
  await input.evaluate((el) => {
    el.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true }));
    el.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', keyCode: 229, isComposing: true, bubbles: true }));
  });
  await agent.waitForTimeout(500);
  assert.equal(await agent.getByTestId('chat-message').count(), before, 'an IME Enter sent a message');
  assert.equal(await input.inputValue(), 'ni');
  await input.evaluate((el) => el.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: '你' })));

  // A look-alike link reaches the agent as a warning, never as a clickable link.
  await buyer.getByTestId('widget-input').fill('看看这个 http://taobao.com.evil.cn/item?id=1');
  await buyer.getByTestId('widget-send').click();
  const flagged = agent.getByTestId('chat-message').filter({ hasText: 'taobao.com.evil.cn' });
  await flagged.waitFor();
  assert.equal(await flagged.locator('a[href*="evil.cn"]').count(), 0, 'a flagged link must not be clickable');
  await flagged.locator('[data-testid=link-warning]').first().waitFor();

  await shot(agent, 'workbench-chat');
  await shot(buyer, 'widget-chat');
  // Leave the shop as the other tests expect it: the chat ended, the agent offline.
  await input.fill('');
  await input.press('Escape');
  await agent.getByTestId('chat-notice').filter({ hasText: '客服结束了会话' }).first().waitFor({ timeout: 10000 });
  await agent.getByTestId('presence').selectOption('offline');
  await agent.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'offline');
  assert.deepEqual(agent.errors, []);
  assert.deepEqual(buyer.errors, []);
});

test('the widget survives a dropped connection: nothing lost, nothing twice', async () => {
  const buyer = await page(b, { viewport: { width: 375, height: 667 } });
  await buyer.goto(`${BASE}/widget/demo`);
  await buyer.getByTestId('widget-input').waitFor();
  await buyer.getByTestId('widget-input').fill('发什么快递');
  await buyer.getByTestId('widget-send').click();
  const bot = buyer.locator('[data-testid=widget-message][data-sender=bot]');
  await bot.nth(0).waitFor();
  const count = async () => buyer.getByTestId('widget-message').count();
  await buyer.waitForTimeout(500);
  const seen = await count();
  // Offline, then back: the widget reconnects and replays after the last seq it saw.
  await buyer.context().setOffline(true);
  await buyer.evaluate(() => window.dispatchEvent(new Event('offline')));
  await buyer.waitForTimeout(1500);
  await buyer.context().setOffline(false);
  await buyer.getByTestId('widget-input').fill('几天能到');
  await buyer.getByTestId('widget-send').click();
  await buyer.getByTestId('widget-message').filter({ hasText: '几天能到' }).waitFor();
  await buyer.waitForFunction((n) => document.querySelectorAll('[data-testid=widget-message]').length >= n + 2, seen, { timeout: 15000 });
  const texts = await buyer.getByTestId('widget-message').allInnerTexts();
  const asked = texts.filter((t) => t.includes('几天能到'));
  assert.equal(asked.length, 1, `the message shows once: ${JSON.stringify(texts)}`);
  assert.equal(texts.filter((t) => t.includes('发什么快递')).length, 1);
});

// The compliance guard in the workbench (违规提醒, SPEC §2.9): an agent types a WeChat id into
// the composer and the warning appears under the input before anything is sent; the shop
// warns (the demo's default), so sent anyway the message goes, flagged for the agent and
// plain for the buyer. The chat is closed and the agent offline at the end.
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

test('a WeChat id typed into the composer is warned about before it is sent', async () => {
  const agent = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(agent, 'xiaomei');
  await presence(agent, 'online');

  // A signed buyer, so that their chat is found by nick whatever else is on the desk.
  const nick = `tb_违规${Date.now() % 100000}`;
  const buyer = await page(b, { viewport: { width: 375, height: 667 } });
  await buyer.goto(`${BASE}/widget/demo?token=${encodeURIComponent(await signedBuyer(nick))}`);
  await buyer.getByTestId('widget-input').waitFor();
  await buyer.getByTestId('widget-handoff').click();
  const item = agent.getByTestId('chat-item').filter({ hasText: nick });
  await item.waitFor({ timeout: 15000 });
  await item.click();

  const input = agent.getByTestId('chat-input');
  const sentByAgent = agent.locator('[data-testid=chat-message][data-sender=agent]');
  const before = await sentByAgent.count();
  await input.fill('亲，加我微信 abc123，发您优惠券');
  const strip = agent.getByTestId('compliance-warning');
  await strip.waitFor({ timeout: 5000 });
  assert.equal(await strip.getAttribute('data-mode'), 'warn');
  const finding = strip.locator('[data-testid=compliance-finding][data-kind=off_platform_contact]');
  await finding.waitFor();
  assert.match(await finding.textContent(), /加我微信 abc123/);
  assert.equal(await sentByAgent.count(), before, 'the warning came before anything was sent');
  await shot(agent, 'compliance-warning');

  // Rephrased, the warning goes away.
  await input.fill('亲，优惠券已经发到您的账户啦');
  await strip.waitFor({ state: 'detached', timeout: 5000 });

  // Sent anyway (the shop warns): the agent's copy is flagged, the buyer's is plain.
  await input.fill('加我微信 abc123');
  await strip.waitFor({ timeout: 5000 });
  await input.press('Enter');
  const flagged = sentByAgent.filter({ hasText: '加我微信 abc123' }).filter({ has: agent.getByTestId('compliance-flag') });
  await flagged.waitFor({ timeout: 10000 });
  const heard = buyer.locator('[data-testid=widget-message][data-sender=agent]').filter({ hasText: '加我微信 abc123' });
  await heard.waitFor({ timeout: 10000 });
  assert.doesNotMatch(await heard.textContent(), /违规/);
  await strip.waitFor({ state: 'detached', timeout: 5000 });
  await shot(agent, 'compliance-flagged');

  // Leave the shop as the other tests expect it: the chat ended, the agent offline.
  await input.press('Escape');
  await agent.getByTestId('chat-notice').filter({ hasText: '客服结束了会话' }).first().waitFor({ timeout: 10000 });
  await presence(agent, 'offline');
  assert.deepEqual(agent.errors, []);
  assert.deepEqual(buyer.errors, []);
  await agent.context().close();
  await buyer.context().close();
});

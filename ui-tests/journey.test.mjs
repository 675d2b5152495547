// The whole story of issue 7's "done when", in one run as people live it: a buyer asks the bot
// and gets an answer, picks a suggestion by its number (1), asks for 人工; 小美 receives the chat,
// answers with the quick-phrase code `sc`, finds the buyer's order and changes its address,
// transfers the chat to 小雨; the owner sees it on the live monitor; the statistics page shows
// that chat's first response.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { BASE, browser, page, shot, login } from './lib.mjs';

/** A buyer token as the shop's own servers sign it (docs/chat-protocol.md), with a fresh secret. */
async function signedBuyer(nick) {
  const post = async (path, body, token) => (await fetch(`${BASE}/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body ?? {}),
  })).json();
  const { token } = await post('/auth/login', { shop: 'demo', username: 'owner', password: 'demo-owner-123' });
  const { secret } = await post('/shop/widget-secret', {}, token);
  const payload = Buffer.from(JSON.stringify({ buyer: nick, nick, exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
  const signature = createHmac('sha256', secret).update(`v1.${payload}`).digest('base64url');
  return `v1.${payload}.${signature}`;
}

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

async function online(p) {
  await p.getByTestId('presence').selectOption('online');
  await p.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'online');
}

async function offline(p) {
  await p.getByTestId('nav-desk').click();
  await p.getByTestId('presence').selectOption('offline');
  await p.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'offline');
}

test('bot, suggestion by number, 人工, quick phrase, address change, transfer, monitor, statistics', async () => {
  const mei = await page(b, { viewport: { width: 1366, height: 820 } });
  await login(mei, 'xiaomei');
  await online(mei);
  const yu = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(yu, 'xiaoyu');
  await online(yu);

  // The buyer, signed in on the shop's page (a buyer token), asks the bot from a phone.
  const buyer = await page(b, { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  await buyer.goto(`${BASE}/widget/demo?token=${encodeURIComponent(await signedBuyer('豆豆爸比'))}`);
  const ask = async (text) => {
    const bots = await buyer.locator('[data-testid=widget-message][data-sender=bot]').count();
    await buyer.getByTestId('widget-input').fill(text);
    await buyer.getByTestId('widget-send').click();
    const reply = buyer.locator('[data-testid=widget-message][data-sender=bot]').nth(bots);
    await reply.waitFor({ timeout: 15000 });
    return reply;
  };
  const answer = await ask('发什么快递呀');
  const faq = await (await fetch(`${BASE}/api/v1/widget/demo/faq`)).json();
  const answerOf = (q) => faq.categories.flatMap((c) => c.entries).find((e) => e.question === q).parts[0].text;
  assert.ok((await answer.textContent()).includes(answerOf('发什么快递?').slice(0, 12)));

  const offered = await ask('衣服会起球吗');
  // The buyer replies with a number (智能数字问题回复). The first suggestion is a pre-sales
  // question, so the chat goes to the 售前 agents (the bot's intent picks the skill group).
  const first = offered.getByTestId('widget-suggestion').nth(0);
  await first.waitFor();
  assert.ok(await offered.getByTestId('widget-suggestion').count() >= 2, 'several suggestions');
  const question = (await first.textContent()).replace(/^\s*1\.\s*/, '').trim();
  const picked = await ask('1');
  assert.ok((await picked.textContent()).includes(answerOf(question).slice(0, 12)), `“1” answers ${question}`);
  await shot(buyer, 'journey-widget-bot');

  await buyer.getByTestId('widget-handoff').click();

  // 小美 or 小雨 gets it by load; whoever does, the story goes on from 小美's side.
  let [agent, other] = [mei, yu];
  const item = (p) => p.getByTestId('chat-item').filter({ hasText: '豆豆爸比' });
  await Promise.race([item(mei).waitFor({ timeout: 15000 }), item(yu).waitFor({ timeout: 15000 })]);
  if (await item(yu).count()) [agent, other] = [yu, mei];
  await item(agent).click();

  // The quick phrase code `sc` + space expands; Enter sends.
  const input = agent.getByTestId('chat-input');
  await input.click();
  await input.pressSequentially('sc');
  await input.press(' ');
  await agent.waitForFunction(() => document.querySelector('[data-testid=chat-input]').value.includes('实物拍摄'));
  await input.press('Enter');
  await buyer.locator('[data-testid=widget-message][data-sender=agent]').filter({ hasText: '实物拍摄' }).waitFor();

  // The buyer's order in the panel; its address changed (it is paid, not shipped).
  await agent.getByTestId('tab-panel').click();
  const order = agent.locator('[data-testid=panel-order][data-order-no="220068537448353070"]');
  await order.waitFor({ timeout: 10000 });
  await order.getByTestId('order-change_address').click();
  const address = '上海市徐汇区漕溪北路88号圣爱大厦1203室';
  await order.locator('input[name=address]').fill(address);
  await order.locator('button[type=submit]').click();
  await order.getByTestId('order-message').filter({ hasText: '已保存' }).waitFor({ timeout: 10000 });
  // Agents see addresses masked (买家隐私); the form's hint is the new one, the owner sees it whole.
  await order.getByTestId('order-change_address').click();
  assert.match(await order.locator('input[name=address]').getAttribute('placeholder'), /^上海市/);
  await order.getByTestId('order-change_address').click();
  const owner = await (await fetch(`${BASE}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ shop: 'demo', username: 'owner', password: 'demo-owner-123' }) })).json();
  const seen = await (await fetch(`${BASE}/api/v1/orders?q=220068537448353070`, { headers: { authorization: `Bearer ${owner.token}` } })).json();
  assert.equal(JSON.stringify(seen).includes(address), true, 'the order has the new address');
  await shot(agent, 'journey-workbench');

  // 转接 to the teammate, who gets the chat with its history.
  await agent.getByTestId('transfer-open').click();
  const dialog = agent.getByTestId('transfer-dialog');
  await dialog.waitFor();
  const otherName = other === yu ? '小雨' : '小美';
  await dialog.getByTestId('transfer-agent').filter({ hasText: otherName }).click();
  await dialog.getByTestId('transfer-submit').click();
  await item(other).waitFor({ timeout: 15000 });
  await item(other).click();
  await other.getByTestId('chat-message').filter({ hasText: '实物拍摄' }).waitFor();

  // The owner's live monitor shows the teammate serving the chat.
  const boss = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(boss, 'owner', 'demo-owner-123');
  await boss.getByTestId('nav-monitor').click();
  await boss.waitForFunction((n) => Number.parseInt(document.querySelector(`[data-testid="monitor-agent-${n}"] [data-testid=monitor-load]`)?.textContent.trim(), 10) >= 1,
    otherName, { timeout: 10000 });
  await shot(boss, 'journey-monitor');

  // Statistics: the first response of that chat, for the agent who answered.
  const firstName = agent === mei ? '小美' : '小雨';
  await boss.getByTestId('nav-stats').click();
  const row = boss.getByTestId(`stats-agent-${firstName}`);
  await row.waitFor({ timeout: 10000 });
  assert.match(await row.getByTestId('agent-first-response').textContent(), /^\d+\.\d秒$/);
  await shot(boss, 'journey-statistics');

  // Leave the shop as the other tests expect it: the chat ended, everyone offline.
  await other.getByTestId('chat-input').press('Escape');
  await other.getByTestId('chat-notice').filter({ hasText: '客服结束了会话' }).first().waitFor({ timeout: 10000 });
  await offline(mei);
  await offline(yu);
  for (const p of [mei, yu, buyer, boss]) {
    assert.deepEqual(p.errors, []);
    await p.context().close();
  }
});

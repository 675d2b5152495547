// Statistics and the live monitor (SPEC §5), seen the way a supervisor sees them: a buyer is
// handed to 阿杰, the monitor shows him serving one chat and the buyer waiting; he answers and
// ends the chat; the buyer rates it; the statistics page shows that chat's first response and
// the rating.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot, login } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

test('the monitor shows a chat live, the buyer rates it, statistics show its first response', async () => {
  const agent = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(agent, 'ajie');
  await agent.getByTestId('presence').selectOption('online');
  await agent.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'online');

  const boss = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(boss, 'owner', 'demo-owner-123');
  await boss.getByTestId('nav-monitor').click();
  const row = boss.getByTestId('monitor-agent-阿杰');
  await row.waitFor({ timeout: 10000 });
  await boss.waitForFunction(() => document.querySelector('[data-testid="monitor-agent-阿杰"]')?.textContent.includes('在线'));

  const buyer = await page(b, { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  // The after-sales entry point: the chat goes to 阿杰, the 售后 agent, whoever else is online.
  await buyer.goto(`${BASE}/widget/demo?group=${encodeURIComponent('售后')}`);
  await buyer.getByTestId('widget-input').waitFor();
  await buyer.getByTestId('widget-handoff').click();
  const item = agent.getByTestId('chat-item').first();
  await item.waitFor({ timeout: 15000 });
  await item.click();
  await buyer.getByTestId('widget-input').fill('请问今天能发货吗');
  await buyer.getByTestId('widget-send').click();
  await agent.getByTestId('chat-message').filter({ hasText: '今天能发货吗' }).waitFor();

  // Live, without reloading: 阿杰 serves one chat, the buyer waits for his reply.
  await boss.waitForFunction(() => document.querySelector('[data-testid="monitor-agent-阿杰"] [data-testid=monitor-load]')?.textContent.includes('1/'), null, { timeout: 10000 });
  const waitingRow = boss.getByTestId('monitor-waiting-row').filter({ hasText: '阿杰' });
  await waitingRow.first().waitFor({ timeout: 10000 });
  assert.match(await waitingRow.first().textContent(), /等待客服回复/);
  const nick = (await waitingRow.first().locator('td').first().textContent()).trim();
  await shot(boss, 'monitor');

  const input = agent.getByTestId('chat-input');
  await input.fill('亲，今天下午4点前付款当天发货哦');
  await input.press('Enter');
  await buyer.locator('[data-testid=widget-message][data-sender=agent]').filter({ hasText: '当天发货' }).waitFor();
  await input.press('Escape');
  await agent.getByTestId('chat-notice').filter({ hasText: '客服结束了会话' }).first().waitFor({ timeout: 10000 });

  // The survey at chat end.
  await buyer.getByTestId('rating').waitFor({ timeout: 10000 });
  await shot(buyer, 'widget-rating');
  await buyer.getByTestId('rate-5').click();
  await buyer.getByTestId('rate-comment').fill('回复很快，谢谢');
  await buyer.getByTestId('rate-submit').click();
  await buyer.getByTestId('rating-thanks').waitFor({ timeout: 10000 });

  // The monitor no longer lists this buyer as waiting.
  await boss.waitForFunction((n) => ![...document.querySelectorAll('[data-testid=monitor-waiting-row] td:first-child')]
    .some((td) => td.textContent.trim() === n), nick, { timeout: 10000 });

  // Statistics: today's first response of that chat, per agent and for the team; the rating.
  await boss.getByTestId('nav-stats').click();
  const mine = boss.getByTestId('stats-agent-阿杰');
  await mine.waitFor({ timeout: 10000 });
  assert.match(await mine.getByTestId('agent-first-response').textContent(), /^\d+\.\d秒$/);
  assert.match(await mine.textContent(), /100\.0% \(1\)/);
  assert.match(await boss.getByTestId('stats-first-response').textContent(), /\d+\.\d秒/);
  await boss.getByTestId('chart-first-response').waitFor();
  // "Today" is the shop's day (Asia/Shanghai), not the browser's: from 16:00 UTC they differ.
  const shopToday = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date());
  assert.equal(await boss.getByTestId('stats-from').inputValue(), shopToday);
  assert.equal(await boss.getByTestId('stats-to').inputValue(), shopToday);
  await shot(boss, 'statistics');
  // By day, and the export downloads a file.
  await boss.getByTestId('stats-by').selectOption('day');
  await boss.waitForFunction(() => document.querySelectorAll('[data-testid=chart-received] rect').length === 1);
  const [file] = await Promise.all([boss.waitForEvent('download'), boss.getByTestId('stats-export-xlsx').click()]);
  assert.match(file.suggestedFilename(), /^stats-\d{8}-\d{8}\.xlsx$/);

  // An agent sees statistics (their own) but no monitor.
  await agent.getByTestId('nav-stats').click();
  await agent.getByTestId('stats-agent-阿杰').waitFor({ timeout: 10000 });
  assert.equal(await agent.getByTestId('nav-monitor').count(), 0);

  await agent.getByTestId('nav-desk').click();
  await agent.getByTestId('presence').selectOption('offline');
  await agent.waitForFunction(() => document.querySelector('[data-testid=presence]')?.value === 'offline');
  for (const p of [agent, boss, buyer]) {
    assert.deepEqual(p.errors, []);
    await p.context().close();
  }
});

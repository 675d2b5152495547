// Chat records (聊天记录, SPEC §5.5): what a buyer wrote is found by its words — traditional
// characters too — with the words marked, and opens as the whole chat.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot, login } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

test('a buyer\'s words are found in the chat records, marked, and open the whole chat', async () => {
  const buyer = await page(b, { viewport: { width: 375, height: 667 } });
  await buyer.goto(`${BASE}/widget/demo`);
  await buyer.getByTestId('widget-input').waitFor();
  const words = `顺丰快递到新疆要几天 ${Date.now() % 100000}`;
  await buyer.getByTestId('widget-input').fill(words);
  await buyer.getByTestId('widget-send').click();
  await buyer.locator('[data-testid=widget-message][data-sender=bot]').first().waitFor({ timeout: 15000 });

  const boss = await page(b, { viewport: { width: 1280, height: 800 } });
  await login(boss, 'owner', 'demo-owner-123');
  await boss.getByTestId('nav-records').click();
  // Traditional characters find the simplified text: 順豐 → 顺丰, 新疆 as written.
  await boss.getByTestId('records-q').fill('順豐 新疆');
  await boss.getByTestId('records-search').click();
  const hit = boss.getByTestId('records-hit').filter({ hasText: words });
  await hit.first().waitFor({ timeout: 10000 });
  assert.deepEqual(await hit.first().locator('mark').allTextContents(), ['顺丰', '新疆']);
  await hit.first().click();
  const transcript = boss.getByTestId('records-transcript');
  await transcript.getByTestId('transcript-message').filter({ hasText: words }).waitFor();
  assert.ok(await transcript.getByTestId('transcript-message').count() >= 2, 'the whole chat: the question and the bot');
  await shot(boss, 'records');

  // By buyer: everything that chat holds, without words.
  const nick = (await hit.first().locator('.hit-head b').textContent()).trim();
  await boss.getByTestId('records-q').fill('');
  await boss.getByTestId('records-buyer').fill(nick);
  await boss.getByTestId('records-search').click();
  await boss.getByTestId('records-hit').filter({ hasText: words }).first().waitFor({ timeout: 10000 });
  // Nothing to search for: the server's refusal is shown, the list kept.
  await boss.getByTestId('records-buyer').fill('');
  await boss.getByTestId('records-search').click();
  await boss.getByTestId('records-error').waitFor();
  for (const p of [buyer, boss]) {
    assert.deepEqual(p.errors, []);
    await p.context().close();
  }
});

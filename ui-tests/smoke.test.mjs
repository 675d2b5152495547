// The pages load in a real browser, speak Chinese by default and English by the switch.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, browser, page, shot } from './lib.mjs';

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

test('the workbench asks for a login, in Chinese first, English by the switch', async () => {
  const p = await page(b, { viewport: { width: 1280, height: 800 } });
  await p.goto(`${BASE}/app/`);
  const submit = p.getByTestId('login-submit');
  await submit.waitFor();
  assert.match(await submit.innerText(), /登录/);
  await p.getByTestId('lang-switch').click();
  await p.waitForFunction(() => /log\s*in|sign\s*in/i.test(document.querySelector('[data-testid=login-submit]').innerText));
  await shot(p, 'login-en');
  assert.deepEqual(p.errors, []);
});

test('a wrong password is refused with a message, and nothing else happens', async () => {
  const p = await page(b);
  await p.goto(`${BASE}/app/`);
  await p.getByTestId('login-username').fill('xiaomei');
  await p.getByTestId('login-password').fill('wrong-password');
  await p.getByTestId('login-submit').click();
  await p.getByRole('alert').waitFor();
  assert.equal(await p.getByTestId('chat-list').count(), 0);
});

test('the widget works on a phone screen and the bot answers', async () => {
  const p = await page(b, { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  await p.goto(`${BASE}/widget/demo`);
  const input = p.getByTestId('widget-input');
  await input.waitFor();
  await input.fill('满多少包邮呀');
  await p.getByTestId('widget-send').click();
  const bot = p.locator('[data-testid=widget-message][data-sender=bot]');
  await bot.filter({ hasText: '包邮' }).first().waitFor({ timeout: 15000 });
  // Nothing wider than the phone.
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `page is ${width}px wide`);
  await shot(p, 'widget-phone');
  assert.deepEqual(p.errors, []);
});

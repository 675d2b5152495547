// Shared set-up for the browser tests: Debian's Chromium driven by playwright-core (never a
// downloaded browser), and the server the Rust harness started (KEFU_BASE).
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

export const BASE = process.env.KEFU_BASE ?? 'http://127.0.0.1:8080';

export async function browser() {
  return chromium.launch({
    executablePath: process.env.KEFU_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/// A page that fails the test on any uncaught script error.
export async function page(b, options = {}) {
  const context = await b.newContext(options);
  const p = await context.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e));
  p.errors = errors;
  return p;
}

export async function shot(p, name) {
  const dir = process.env.KEFU_SHOTS;
  if (dir) await p.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

export async function login(p, username, password = 'demo-agent-123') {
  await p.goto(`${BASE}/app/`);
  await p.getByTestId('login-username').fill(username);
  await p.getByTestId('login-password').fill(password);
  await p.getByTestId('login-submit').click();
  await p.getByTestId('chat-list').waitFor();
}

/** A buyer token as the shop's own servers sign it (docs/chat-protocol.md), with a fresh secret. */
export async function signedBuyer(nick) {
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

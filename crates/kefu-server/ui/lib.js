// Shared by the three pages: ids, a WebSocket that reconnects with backoff, formatting.
import { html, useRef, useEffect } from '/ui/vendor/preact-htm.module.js';
import { t, getLang } from '/ui/i18n.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random id of `n` letters and digits (crypto-strong: a visitor id is a credential). */
export function randomId(n = 32) {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % 62];
  return s;
}

/** A message's client id: the same one is sent again on every retry. */
export function clientId() {
  return `c${Date.now().toString(36)}-${randomId(12)}`;
}

export function wsUrl(path) {
  const u = new URL(path, location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

/** localStorage / sessionStorage that never throw (private mode, sandboxed iframes). */
export const store = {
  get(area, key) {
    try { return (area === 'session' ? sessionStorage : localStorage).getItem(key); } catch { return null; }
  },
  set(area, key, value) {
    try {
      const s = area === 'session' ? sessionStorage : localStorage;
      if (value == null) s.removeItem(key); else s.setItem(key, value);
    } catch { /* keep going without */ }
  },
};

/**
 * A WebSocket that stays connected: reconnects with exponential backoff (0.5 s doubling to
 * 15 s, with jitter), at once when the browser comes back online or the tab is shown again,
 * and when nothing (not even a pong) was heard for a minute. `url` is a function so each
 * attempt can name the latest `after`.
 */
export class LiveSocket {
  constructor({ url, onFrame, onOpen, onStatus, onGiveUp }) {
    Object.assign(this, { url, onFrame, onOpen, onStatus, onGiveUp });
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.status = 'idle';
    this.lastHeard = 0;
    this.kick = () => { if (!this.stopped && !this.ws) this.now(); };
    this.onVisible = () => { if (document.visibilityState === 'visible') this.kick(); };
  }

  start() {
    this.stopped = false;
    window.addEventListener('online', this.kick);
    document.addEventListener('visibilitychange', this.onVisible);
    this.watch = setInterval(() => {
      if (this.ws && this.ws.readyState === 1) {
        if (Date.now() - this.lastHeard > 60000) this.ws.close();
        else this.send({ type: 'ping' });
      }
    }, 25000);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watch);
    window.removeEventListener('online', this.kick);
    document.removeEventListener('visibilitychange', this.onVisible);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
  }

  setStatus(status) {
    this.status = status;
    this.onStatus?.(status, this);
  }

  connect() {
    clearTimeout(this.timer);
    this.setStatus(this.attempt ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.lastHeard = Date.now();
      this.setStatus('open');
      this.onOpen?.();
    };
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let frame;
      try { frame = JSON.parse(m.data); } catch { return; }
      this.onFrame(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) this.retry();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  retry() {
    const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setStatus('reconnecting');
    if (this.attempt >= 4) this.onGiveUp?.(this.attempt);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect now instead of waiting out the backoff. */
  now() {
    clearTimeout(this.timer);
    this.connect();
  }

  get open() { return !!this.ws && this.ws.readyState === 1; }

  send(frame) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

/** Splits a string into pieces by UTF-8 byte ranges (the server counts links in bytes). */
export function splitByBytes(text, ranges) {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const bytes = enc.encode(text);
  const out = [];
  let at = 0;
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    if (r.start < at || r.end > bytes.length) continue;
    if (r.start > at) out.push({ text: dec.decode(bytes.slice(at, r.start)) });
    out.push({ text: dec.decode(bytes.slice(r.start, r.end)), link: r });
    at = r.end;
  }
  if (at < bytes.length) out.push({ text: dec.decode(bytes.slice(at)) });
  return out;
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const now = new Date();
  const hm = d.toLocaleTimeString(getLang(), { hour: '2-digit', minute: '2-digit', hour12: false });
  if (d.toDateString() === now.toDateString()) return hm;
  return `${d.toLocaleDateString(getLang(), { month: '2-digit', day: '2-digit' })} ${hm}`;
}

/** "1分05秒" / "1m 05s" since `iso`. */
export function fmtWait(iso, now = Date.now()) {
  if (!iso) return '';
  const s = Math.max(0, Math.floor((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return t('dur.s', { s });
  const m = Math.floor(s / 60);
  if (m < 60) return t('dur.ms', { m, s: String(s % 60).padStart(2, '0') });
  return t('dur.hm', { h: Math.floor(m / 60), m: String(m % 60).padStart(2, '0') });
}

export function yuan(fen) {
  if (fen == null) return '';
  return `¥${(fen / 100).toFixed(2)}`;
}

/** Order state → label, in the back office's words. */
export function orderState(state) {
  return t(`order.state.${state}`);
}

/** A one-line preview of a message's content (chat list, notices). */
export function preview(content) {
  if (!content) return '';
  switch (content.kind) {
    case 'text': return content.text;
    case 'image': return t('preview.image');
    case 'product': return `${t('preview.product')} ${content.card?.title ?? content.sku}`;
    case 'order': return `${t('preview.order')} ${content.order_no}`;
    case 'bot': return content.reply?.text ?? '';
    default: return '';
  }
}

/** A product card as both sides show it. */
export function ProductCard({ sku, card, testid = 'product-card' }) {
  return html`<div class="card product-card" data-testid=${testid}>
    <div class="card-thumb" aria-hidden="true">${t('card.product_thumb')}</div>
    <div class="card-body">
      <div class="card-title">${card?.title ?? sku}</div>
      <div class="card-meta">
        ${card ? html`<span class="price">${card.price ?? yuan(card.price_fen)}</span>` : null}
        ${card && card.stock != null ? html`<span class="muted">${t('card.stock', { n: card.stock })}</span>` : null}
      </div>
      <div class="card-sku muted">${sku}</div>
    </div>
  </div>`;
}

export function OrderCard({ order_no, card }) {
  return html`<div class="card order-card" data-testid="order-card">
    <div class="card-thumb" aria-hidden="true">${t('card.order_thumb')}</div>
    <div class="card-body">
      <div class="card-title">${card?.title || t('card.order')}</div>
      <div class="card-meta">
        ${card ? html`<span class="badge state-${card.state}">${orderState(card.state)}</span>
          <span class="price">${card.total ?? yuan(card.total_fen)}</span>` : null}
      </div>
      <div class="card-sku muted">${t('card.order_no')} ${order_no}</div>
    </div>
  </div>`;
}

/** An image in a message; opens full size in a new tab (never as `javascript:`). */
export function Image({ url }) {
  const safe = /^https?:\/\//i.test(url) ? url : null;
  if (!safe) return html`<span class="muted">${t('preview.image')}</span>`;
  return html`<a href=${safe} target="_blank" rel="noopener noreferrer" class="msg-image">
    <img src=${safe} alt=${t('preview.image')} loading="lazy" referrerpolicy="no-referrer" />
  </a>`;
}

/**
 * Keeps a scrolling message list at its bottom while the reader is there: after each render,
 * and whenever the list or its content changes size (history arriving, the composer growing,
 * an image loading). Scrolled up to read, the reader stays put. `key` starts over at the bottom.
 */
export function useStickToBottom(key) {
  const ref = useRef(null);
  const stick = useRef(true);
  const observed = useRef(null);
  const observer = useRef(null);
  const lastTop = useRef(0);
  const toBottom = () => {
    const el = ref.current;
    if (el && stick.current) {
      el.scrollTop = el.scrollHeight;
      lastTop.current = el.scrollTop;
    }
  };
  useEffect(() => { stick.current = true; toBottom(); }, [key]);
  useEffect(() => {
    toBottom();
    const el = ref.current;
    if (el === observed.current || typeof ResizeObserver === 'undefined') return;
    observer.current?.disconnect();
    observed.current = el;
    if (!el) return;
    observer.current = new ResizeObserver(toBottom);
    observer.current.observe(el);
    if (el.firstElementChild) observer.current.observe(el.firstElementChild);
  });
  useEffect(() => () => observer.current?.disconnect(), []);
  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    // Only the reader moving up lets go of the bottom; content that grew meanwhile does not.
    if (el.scrollHeight - el.scrollTop - el.clientHeight < 80) stick.current = true;
    else if (el.scrollTop < lastTop.current - 4) stick.current = false;
    lastTop.current = el.scrollTop;
    toBottom();
  };
  return { ref, onScroll };
}

// The agents' workbench (接待中心, SPEC §2.1): login, then three panes — the chats this agent
// serves, the chat, and the buyer's panel with orders, quick phrases and the knowledge base.
// Everything is live from the agent socket (docs/chat-protocol.md); events are kept per
// conversation by `seq`, so a replay after a reconnect never shows one twice.
import { html, render, useState, useEffect, useRef, useMemo } from '/ui/vendor/preact-htm.module.js';
import { t, useLang, LangSwitch, getLang } from '/ui/i18n.js';
import {
  LiveSocket, clientId, wsUrl, store, fmtTime, fmtWait, yuan, orderState, preview, splitByBytes,
  ProductCard, OrderCard, Image, useStickToBottom,
} from '/ui/lib.js';
import { auth, authListeners, setAuth, api, errorMessage, isManager } from '/ui/app/api.js';
import { AdminView, ADMIN_SECTIONS } from '/ui/app/admin.js';
import { StatsView, MonitorView, watchesTeam } from '/ui/app/stats.js';
import { RecordsView } from '/ui/app/records.js';
import { VisitsView } from '/ui/app/visits.js';
import { ProductSearch } from '/ui/app/products.js';

// ---------------------------------------------------------------------------------------------
// The desk: conversations, events, the socket

class Desk {
  constructor(a) {
    this.me = a.account;
    this.shop = a.shop;
    this.convs = new Map();
    this.activeId = null;
    this.presence = null;
    this.names = new Map([[a.account.id, a.account.display_name]]);
    this.toasts = [];
    let saved = [];
    try { saved = JSON.parse(store.get('session', 'kefu_agent_outbox') ?? '[]'); } catch { saved = []; }
    this.outbox = Array.isArray(saved) ? saved.map((m) => ({ ...m, sentAt: 0 })) : [];
    this.listeners = new Set();
    this.socket = new LiveSocket({
      url: () => wsUrl('/api/v1/chat/socket'),
      onFrame: (f) => this.frame(f),
      onStatus: () => this.changed(),
      // A socket that keeps failing may mean the session ended: ask, and log out if so.
      onGiveUp: () => { api('GET', '/auth/me').catch(() => {}); },
    });
    this.retryTimer = setInterval(() => this.retryStale(), 4000);
    // Waiting times tick and typing marks expire: re-render each second only while there are some.
    this.clock = setInterval(() => {
      const now = Date.now();
      for (const c of this.convs.values()) {
        if ((c.mine && c.waiting_since) || c.typingUntil > now - 1500) { this.changed(); return; }
      }
    }, 1000);
  }

  start() { this.socket.start(); }
  stop() {
    this.socket.stop();
    clearInterval(this.retryTimer);
    clearInterval(this.clock);
  }

  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  changed() {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => { this.pending = false; for (const fn of this.listeners) fn(); });
  }

  toast(text, kind = 'error') {
    const item = { id: Math.random(), text, kind };
    this.toasts = [...this.toasts, item].slice(-3);
    setTimeout(() => { this.toasts = this.toasts.filter((x) => x !== item); this.changed(); }, 5000);
    this.changed();
  }

  conv(id) {
    let c = this.convs.get(id);
    if (!c) {
      c = {
        id, buyer_nick: '', channel: '', state: 'assigned', skill_group: null, last_seq: 0, unread: 0,
        waiting_since: null, assigned_at: null, events: new Map(), maxSeq: 0, readSeq: 0, knownSeq: 0,
        buyerReadSeq: 0, typingUntil: 0, mine: true, endedAt: null, lastAt: null,
      };
      this.convs.set(id, c);
    }
    return c;
  }

  merge(summary, fresh) {
    const known = this.convs.has(summary.id);
    const c = this.conv(summary.id);
    Object.assign(c, {
      buyer_nick: summary.buyer_nick, channel: summary.channel, skill_group: summary.skill_group,
      assigned_at: summary.assigned_at,
    });
    if (summary.last_seq >= c.maxSeq) {
      c.state = summary.state;
      c.waiting_since = summary.waiting_since;
      c.unread = summary.unread;
      c.last_seq = summary.last_seq;
      c.knownSeq = summary.last_seq;
    }
    if (!known || fresh) c.readSeq = Math.max(c.readSeq, summary.last_seq - summary.unread);
    c.mine = true;
    c.endedAt = null;
    return c;
  }

  async refreshList() {
    clearTimeout(this.refreshTimer);
    try {
      const list = await api('GET', '/chat/conversations');
      for (const s of list) {
        const known = this.convs.has(s.id);
        this.merge(s, false);
        if (!known) this.sync(s.id);
      }
      this.changed();
    } catch (e) {
      if (e.status !== 401) this.refreshTimer = setTimeout(() => this.refreshList(), 3000);
    }
  }

  sync(id) {
    const c = this.conv(id);
    this.socket.send({ type: 'sync', conversation_id: id, after: c.maxSeq });
  }

  frame(f) {
    switch (f.type) {
      case 'agent_welcome': {
        this.presence = f.presence;
        const listed = new Set();
        for (const s of f.conversations) {
          listed.add(s.id);
          this.merge(s, false);
        }
        // Chats we held that are no longer ours (closed or moved while we were away).
        for (const c of this.convs.values()) {
          if (c.mine && !listed.has(c.id) && c.state !== 'closed') {
            c.mine = false;
            c.endedAt = c.endedAt ?? new Date().toISOString();
          }
        }
        for (const id of listed) this.sync(id);
        for (const m of this.outbox) if (!m.failed) this.transmit(m);
        if (!this.activeId && f.conversations.length) this.activeId = this.sorted()[0]?.id ?? null;
        break;
      }
      case 'event':
        this.event(f);
        break;
      case 'ack': {
        const m = this.outbox.find((x) => x.client_id === f.client_id);
        if (m) {
          m.acked = f.seq;
          const c = this.convs.get(m.conversation_id);
          if (c?.events.has(f.seq)) this.outbox = this.outbox.filter((x) => x !== m);
          this.saveOutbox();
        }
        break;
      }
      case 'error':
        if (f.client_id) {
          const m = this.outbox.find((x) => x.client_id === f.client_id);
          if (m && f.error !== 'too_many_requests') {
            // Refused by the compliance guard (the shop blocks): why, finding by finding.
            m.failed = f.error === 'refused' ? t('compliance.refused') : (f.message || f.error);
            m.findings = f.findings ?? null;
            this.saveOutbox();
          }
        } else {
          this.toast(f.error === 'too_many_requests' ? t('err.too_many') : (f.message || t('err.generic')));
        }
        break;
      case 'typing':
        if (f.from === 'buyer') {
          const c = this.conv(f.conversation_id);
          c.typingUntil = Date.now() + 5000;
        }
        break;
      case 'read':
        if (f.by === 'buyer') {
          const c = this.conv(f.conversation_id);
          c.buyerReadSeq = Math.max(c.buyerReadSeq, f.seq);
        }
        break;
      case 'presence':
        this.presence = f.status;
        break;
      default:
        return;
    }
    this.changed();
  }

  event(e) {
    const known = this.convs.has(e.conversation_id);
    const c = this.conv(e.conversation_id);
    if (!known) {
      // A chat assigned or transferred to us: its summary (nick, channel) comes from the list.
      clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => this.refreshList(), 150);
    }
    if (c.events.has(e.seq)) return; // a replay: already here
    c.events.set(e.seq, e);
    c.maxSeq = Math.max(c.maxSeq, e.seq);
    c.last_seq = Math.max(c.last_seq, e.seq);
    if (!c.lastAt || e.at > c.lastAt) c.lastAt = e.at;
    const live = e.seq > c.knownSeq; // not part of what the summary already counted
    if (e.client_id && e.sender?.role === 'agent') {
      const before = this.outbox.length;
      this.outbox = this.outbox.filter((m) => m.client_id !== e.client_id || m.conversation_id !== e.conversation_id);
      if (before !== this.outbox.length) this.saveOutbox();
    }
    switch (e.kind) {
      case 'message':
        if (e.sender?.role === 'buyer') {
          if (live && !c.waiting_since) c.waiting_since = e.at;
          c.typingUntil = 0;
        } else if (e.sender?.role === 'agent' && live) {
          c.waiting_since = null;
        }
        break;
      case 'assigned':
        this.names.set(e.agent_id, e.agent_name);
        if (e.agent_id === this.me.id) {
          c.state = 'assigned';
          c.mine = true;
          c.endedAt = null;
          c.assigned_at = c.assigned_at ?? e.at;
          if (live && !this.activeId) this.activeId = c.id;
        } else if (live) {
          c.mine = false;
        }
        break;
      case 'transferred':
        this.names.set(e.to, e.to_name);
        if (e.to === this.me.id) {
          c.state = 'assigned';
          c.mine = true;
          c.endedAt = null;
          // The nick comes with the list, read again just now for a chat new to us.
          if (live) setTimeout(() => this.toast(t('desk.transferred_in', { nick: c.buyer_nick || t('desk.buyer') }) + (e.note ? ` · ${e.note}` : ''), 'info'), 600);
        } else if (e.from === this.me.id) {
          c.mine = false;
          c.endedAt = e.at;
        }
        break;
      case 'closed':
        c.state = 'closed';
        c.waiting_since = null;
        c.endedAt = e.at;
        break;
      case 'reopened':
        c.state = 'bot';
        c.endedAt = null;
        break;
      case 'queued':
        c.state = 'queued';
        break;
      default:
    }
    if (c.id === this.activeId) this.markRead();
    if (live && c.id === this.activeId) this.onActiveEvent?.(e);
  }

  saveOutbox() {
    const keep = this.outbox.filter((m) => !m.failed).map(({ client_id, conversation_id, content, at }) => ({ client_id, conversation_id, content, at }));
    store.set('session', 'kefu_agent_outbox', keep.length ? JSON.stringify(keep) : null);
  }

  transmit(m) {
    if (this.socket.send({ type: 'message', conversation_id: m.conversation_id, client_id: m.client_id, content: m.content })) m.sentAt = Date.now();
  }

  retryStale() {
    const now = Date.now();
    for (const m of this.outbox) if (!m.failed && !m.acked && now - (m.sentAt || 0) > 8000) this.transmit(m);
  }

  send(conversationId, content) {
    const m = { client_id: clientId(), conversation_id: conversationId, content, at: new Date().toISOString(), sentAt: 0 };
    this.outbox.push(m);
    this.saveOutbox();
    this.transmit(m);
    this.changed();
  }

  retry(m) {
    delete m.failed;
    m.client_id = clientId();
    this.saveOutbox();
    this.transmit(m);
    this.changed();
  }

  drop(m) {
    this.outbox = this.outbox.filter((x) => x !== m);
    this.saveOutbox();
    this.changed();
  }

  control(frame) {
    if (!this.socket.send(frame)) {
      this.toast(t('desk.offline_try_later'));
      return false;
    }
    return true;
  }

  async setPresence(status) {
    if (this.socket.send({ type: 'presence', status })) return;
    try {
      await api('PUT', '/chat/presence', { status });
      this.presence = status;
      this.changed();
    } catch (e) {
      this.toast(errorMessage(e));
    }
  }

  activate(id) {
    this.activeId = id;
    this.markRead();
    this.changed();
  }

  markRead() {
    const c = this.convs.get(this.activeId);
    if (!c || document.visibilityState !== 'visible' || !c.mine) return;
    if (c.maxSeq > c.readSeq && this.socket.send({ type: 'read', conversation_id: c.id, seq: c.maxSeq })) {
      c.readSeq = c.maxSeq;
      c.unread = 0;
    }
  }

  unread(c) {
    if (c.maxSeq < c.knownSeq) return c.unread; // history still on its way
    let n = 0;
    for (const e of c.events.values()) if (e.seq > c.readSeq && e.kind === 'message' && e.sender?.role === 'buyer') n += 1;
    return n;
  }

  /** Open chats, longest waiting first; then those waiting for nothing, oldest assignment first. */
  sorted() {
    return [...this.convs.values()].filter((c) => c.mine && c.state !== 'closed').sort((a, b) => {
      if (!!a.waiting_since !== !!b.waiting_since) return a.waiting_since ? -1 : 1;
      if (a.waiting_since && b.waiting_since && a.waiting_since !== b.waiting_since) return a.waiting_since < b.waiting_since ? -1 : 1;
      return (a.assigned_at ?? '') < (b.assigned_at ?? '') ? -1 : 1;
    });
  }

  ended() {
    return [...this.convs.values()].filter((c) => !c.mine || c.state === 'closed')
      .sort((a, b) => ((a.endedAt ?? '') < (b.endedAt ?? '') ? 1 : -1)).slice(0, 20);
  }
}

let desk = null;
function useDesk() {
  const [, setTick] = useState(0);
  useEffect(() => desk.subscribe(() => setTick((n) => n + 1)), []);
  return desk;
}

// ---------------------------------------------------------------------------------------------
// Login

function Login() {
  useLang();
  const [shop, setShop] = useState(store.get('local', 'kefu_last_shop') ?? '');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { username: username.trim(), password };
      if (shop.trim()) body.shop = shop.trim();
      const r = await api('POST', '/auth/login', body);
      store.set('local', 'kefu_last_shop', shop.trim() || null);
      setAuth({ token: r.token, account: r.account, shop: r.shop, expires_at: r.expires_at });
    } catch (e) {
      if (e.status === 401) setError(t('login.bad'));
      else if (e.status === 429) setError(t('login.locked', { s: e.retryAfter ?? 30 }));
      else setError(errorMessage(e));
    }
    setBusy(false);
  };
  return html`<main class="login-page">
    <div class="login-lang"><${LangSwitch} /></div>
    <form class="login-card" onSubmit=${submit}>
      <div class="brand"><span class="logo">客</span><div><div class="brand-name">${t('app.name')}</div>
        <div class="muted small">${t('login.sub')}</div></div></div>
      <label>${t('login.shop')}
        <input name="shop" value=${shop} placeholder=${t('login.shop_hint')} autocomplete="organization" onInput=${(e) => setShop(e.target.value)} /></label>
      <label>${t('login.username')}
        <input name="username" data-testid="login-username" required value=${username} autocomplete="username" onInput=${(e) => setUsername(e.target.value)} /></label>
      <label>${t('login.password')}
        <input name="password" type="password" data-testid="login-password" required value=${password} autocomplete="current-password" onInput=${(e) => setPassword(e.target.value)} /></label>
      ${error ? html`<div class="error-text" role="alert" data-testid="login-error">${error}</div>` : null}
      <button type="submit" class="btn primary block" data-testid="login-submit" disabled=${busy}>${busy ? t('login.busy') : t('login.submit')}</button>
    </form>
  </main>`;
}

// ---------------------------------------------------------------------------------------------
// Top bar

function TopBar({ onTransfer, view, setView, openCount, dueVisits }) {
  const d = useDesk();
  const logout = async () => {
    try { await api('POST', '/auth/logout'); } catch { /* leaving anyway */ }
    setAuth(null);
  };
  const s = d.socket.status;
  return html`<header class="topbar">
    <div class="brand small-brand"><span class="logo">客</span><span class="brand-name">${t('desk.title')}</span></div>
    <span class="shop-name muted">${d.shop?.name}</span>
    <nav class="top-nav" aria-label=${t('nav.label')}>
      <button class=${view === 'desk' ? 'on' : ''} aria-current=${view === 'desk' ? 'page' : null} data-testid="nav-desk"
        onClick=${() => setView('desk')}>${t('nav.desk')}</button>
      <button class=${view === 'messages' ? 'on' : ''} aria-current=${view === 'messages' ? 'page' : null} data-testid="nav-messages"
        title=${openCount != null ? t('msg.open_count', { n: openCount }) : null} onClick=${() => setView('messages')}>${t('nav.messages')}
        ${openCount != null ? html`<span class=${`nav-count ${openCount ? '' : 'zero'}`} data-testid="messages-count"
          data-count=${openCount}>${openCount > 99 ? '99+' : openCount}</span>` : null}</button>
      <button class=${view === 'records' ? 'on' : ''} aria-current=${view === 'records' ? 'page' : null} data-testid="nav-records"
        onClick=${() => setView('records')}>${t('nav.records')}</button>
      <button class=${view === 'visits' ? 'on' : ''} aria-current=${view === 'visits' ? 'page' : null} data-testid="nav-visits"
        title=${dueVisits != null ? t('visit.due_count', { n: dueVisits }) : null} onClick=${() => setView('visits')}>${t('nav.visits')}
        ${dueVisits != null ? html`<span class=${`nav-count ${dueVisits ? '' : 'zero'}`} data-testid="visits-count"
          data-count=${dueVisits}>${dueVisits > 99 ? '99+' : dueVisits}</span>` : null}</button>
      <button class=${view === 'stats' ? 'on' : ''} aria-current=${view === 'stats' ? 'page' : null} data-testid="nav-stats"
        onClick=${() => setView('stats')}>${t('nav.stats')}</button>
      ${watchesTeam(d.me) ? html`<button class=${view === 'monitor' ? 'on' : ''} aria-current=${view === 'monitor' ? 'page' : null} data-testid="nav-monitor"
        onClick=${() => setView('monitor')}>${t('nav.monitor')}</button>` : null}
      ${isManager(d.me) ? html`<button class=${view === 'admin' ? 'on' : ''} aria-current=${view === 'admin' ? 'page' : null} data-testid="nav-admin"
        onClick=${() => setView('admin')}>${t('nav.admin')}</button>` : null}
    </nav>
    <span class="spacer"></span>
    <span class=${`status status-${s}`} data-testid="socket-status" data-state=${s}><i class="dot"></i>
      ${s === 'open' ? t('desk.connected') : s === 'reconnecting' ? t('desk.reconnecting') : t('desk.connecting')}</span>
    <label class=${`presence-pick presence-${d.presence ?? 'offline'}`}>
      <i class="dot"></i>
      <select data-testid="presence" aria-label=${t('desk.presence')} value=${d.presence ?? 'offline'}
        onChange=${(e) => d.setPresence(e.target.value)}>
        <option value="online">${t('presence.online')}</option>
        <option value="suspended">${t('presence.suspended')}</option>
        <option value="offline">${t('presence.offline')}</option>
      </select>
    </label>
    <button class="btn" data-testid="transfer-open" disabled=${view !== 'desk' || !d.convs.get(d.activeId)?.mine} onClick=${onTransfer}>${t('desk.transfer')}</button>
    <span class="me"><span class="avatar av-agent">${d.me.display_name.slice(0, 1)}</span>${d.me.display_name}</span>
    <${LangSwitch} />
    <button class="btn ghost" data-testid="logout" onClick=${logout}>${t('desk.logout')}</button>
  </header>`;
}

// ---------------------------------------------------------------------------------------------
// Left: the chats

function ChatItem({ c }) {
  const d = desk;
  const unread = d.unread(c);
  const last = [...c.events.values()].reduce((a, e) => (e.kind === 'message' && (!a || e.seq > a.seq) ? e : a), null);
  const wait = c.waiting_since && c.mine && c.state === 'assigned' ? fmtWait(c.waiting_since) : null;
  const waitSecs = c.waiting_since ? (Date.now() - new Date(c.waiting_since).getTime()) / 1000 : 0;
  const ended = !c.mine || c.state === 'closed';
  return html`<li>
    <button class=${`chat-item ${c.id === d.activeId ? 'active' : ''} ${ended ? 'ended' : ''}`} data-testid="chat-item"
      data-id=${c.id} data-unread=${unread} onClick=${() => d.activate(c.id)}>
      <span class="avatar av-buyer">${(c.buyer_nick || '?').slice(0, 1)}</span>
      <span class="ci-main">
        <span class="ci-top"><span class="ci-nick">${c.buyer_nick || t('desk.buyer')}</span>
          <span class="ci-time muted">${fmtTime(last?.at ?? c.assigned_at)}</span></span>
        <span class="ci-bottom"><span class="ci-preview muted">${last ? preview(last.content) : ''}</span>
          ${unread ? html`<span class="unread" data-testid="chat-unread">${unread > 99 ? '99+' : unread}</span>` : null}</span>
        <span class="ci-tags">
          <span class="tag">${t(`channel.${c.channel || 'web'}`)}</span>
          ${c.skill_group ? html`<span class="tag">${c.skill_group}</span>` : null}
          ${wait ? html`<span class=${`tag wait ${waitSecs > 20 ? 'late' : ''}`} data-testid="chat-wait">${t('desk.waiting', { d: wait })}</span>` : null}
          ${ended ? html`<span class="tag">${c.state === 'closed' ? t('desk.ended') : t('desk.moved')}</span>` : null}
        </span>
      </span>
    </button>
  </li>`;
}

function ChatList() {
  const d = useDesk();
  const open = d.sorted();
  const ended = d.ended();
  return html`<aside class="pane left">
    <div class="pane-head"><b>${t('desk.serving')}</b> <span class="muted">${open.length}</span></div>
    <ul class="chat-list" data-testid="chat-list">
      ${open.map((c) => html`<${ChatItem} key=${c.id} c=${c} />`)}
      ${open.length === 0 ? html`<li class="empty muted">${d.presence === 'online' ? t('desk.no_chats_online') : t('desk.no_chats_offline')}</li>` : null}
    </ul>
    ${ended.length ? html`<div class="pane-head sub"><span class="muted">${t('desk.recent')}</span></div>
      <ul class="chat-list ended-list">${ended.map((c) => html`<${ChatItem} key=${c.id} c=${c} />`)}</ul>` : null}
  </aside>`;
}

// ---------------------------------------------------------------------------------------------
// Middle: the chat

function LinkedText({ text, links }) {
  if (!links?.length) return html`<span class="pre">${text}</span>`;
  const pieces = splitByBytes(text, links);
  const flagged = links.filter((l) => l.verdict?.kind === 'flagged');
  return html`<span class="pre">${pieces.map((p) => {
    if (!p.link) return p.text;
    const v = p.link.verdict?.kind;
    if (v === 'flagged' || !/^https?:\/\//i.test(p.link.url)) {
      return html`<span class="link-flagged" data-testid="link-flagged" title=${t('link.flagged')}><i class="warn-icon" aria-hidden="true">!</i>${p.text}</span>`;
    }
    return html`<a href=${p.link.url} target="_blank" rel="noopener noreferrer nofollow" class=${`link-${v}`}
      data-testid=${`link-${v}`}>${p.text}</a>${v === 'trusted' ? html`<span class="badge ok">${t('link.trusted')}</span>` : null}`;
  })}</span>
  ${flagged.length ? html`<div class="link-warning" role="note" data-testid="link-warning">
    ${flagged.map((l) => html`<div><i class="warn-icon" aria-hidden="true">!</i><b>${t('link.flagged')}</b> <code>${l.host ?? l.url}</code>:
      ${(l.verdict.reasons ?? []).map((r) => t(`link.reason.${r.kind}`, { of: r.of ?? '' })).join(t('link.sep'))}</div>`)}
  </div>` : null}`;
}

function BotView({ reply }) {
  const parts = reply.kind === 'answer' && reply.parts?.length ? reply.parts : [{ kind: 'text', text: reply.text ?? '' }];
  return html`<div class="bot-reply">
    ${parts.map((p) => (p.kind === 'text' ? html`<span class="pre">${p.text}</span>`
    : p.kind === 'image' ? html`<${Image} url=${p.url} />`
      : p.kind === 'product' ? html`<${ProductCard} sku=${p.sku} card=${p} />`
        : p.kind === 'link' ? html`<span class="pre">${p.url}</span>` : null))}
    ${reply.suggestions?.length ? html`<ol class="suggestions static">${reply.suggestions.map((s) => html`<li>${s.n}. ${s.question}</li>`)}</ol>` : null}
    ${reply.kind ? html`<div class="muted small">${t(`bot.kind.${reply.kind}`)}${reply.entry ? ` · ${reply.entry.category}` : ''}</div>` : null}
  </div>`;
}

function MessageContent({ e }) {
  const ct = e.content;
  switch (ct?.kind) {
    case 'text': return html`<${LinkedText} text=${ct.text} links=${e.links} />`;
    case 'image': return html`<${Image} url=${ct.url} />`;
    case 'product': return html`<${ProductCard} sku=${ct.sku} card=${ct.card} />`;
    case 'order': return html`<${OrderCard} order_no=${ct.order_no} card=${ct.card} />`;
    case 'bot': return html`<${BotView} reply=${ct.reply ?? {}} />`;
    default: return null;
  }
}

function EventRow({ e, c }) {
  const d = desk;
  if (e.kind !== 'message') {
    let text;
    switch (e.kind) {
      case 'queued': text = t(`desk.n_queued_${e.reason}`); break;
      case 'assigned': text = t('desk.n_assigned', { name: e.agent_name }); break;
      case 'transferred': text = t('desk.n_transferred', { from: d.names.get(e.from) ?? '', name: e.to_name }) + (e.note ? ` · ${e.note}` : ''); break;
      case 'closed': text = t(`desk.n_closed_${e.reason}`); break;
      case 'reopened': text = t('desk.n_reopened'); break;
      default: return null;
    }
    return html`<div class="notice" data-testid="chat-notice"><span>${text} · ${fmtTime(e.at)}</span></div>`;
  }
  const role = e.sender?.role ?? 'system';
  if (role === 'system') {
    return html`<div class="msg system" data-testid="chat-message" data-sender="system" data-seq=${e.seq}>
      <div class="sys-text"><span class="muted">${t('desk.system')}</span> ${preview(e.content)}</div></div>`;
  }
  const mine = role !== 'buyer';
  const name = role === 'buyer' ? c.buyer_nick : role === 'bot' ? t('desk.bot')
    : e.sender.id === d.me.id ? d.me.display_name : (d.names.get(e.sender.id) ?? t('desk.teammate'));
  return html`<div class=${`msg ${mine ? 'mine' : 'theirs'} from-${role}`} data-testid="chat-message" data-sender=${role} data-seq=${e.seq}>
    ${mine ? null : html`<span class="avatar av-buyer">${(name || '?').slice(0, 1)}</span>`}
    <div class="msg-col">
      <div class="msg-name">${name} <span class="muted">${fmtTime(e.at)}</span></div>
      <div class="bubble"><${MessageContent} e=${e} /></div>
      ${e.compliance?.length ? html`<${ComplianceFlag} findings=${e.compliance} />` : null}
      ${role === 'agent' ? html`<div class="msg-foot muted" data-testid="read-state">${c.buyerReadSeq >= e.seq ? t('read.read') : t('read.unread')}</div>` : null}
    </div>
    ${mine ? html`<span class=${`avatar av-${role}`}>${role === 'bot' ? 'AI' : (name || '?').slice(0, 1)}</span>` : null}
  </div>`;
}

// ---------------------------------------------------------------------------------------------
// The compliance guard (违规提醒, SPEC §2.9): what the agent should not say, found while they type

/** A finding's explanation: the server's own words in Chinese, the kind's in English. */
function explain(f) {
  return getLang() === 'zh-CN' && f.message ? f.message : t(`compliance.why.${f.kind}`, { text: f.text });
}

function FindingList({ findings }) {
  return html`<ul class="compliance-list">${findings.map((f) => html`<li data-testid="compliance-finding" data-kind=${f.kind}>
    <span class="tag warn">${t(`compliance.kind.${f.kind}`)}</span> ${explain(f)}</li>`)}</ul>`;
}

/** Under a message sent although the guard warned: the kinds, the explanations on hover. */
function ComplianceFlag({ findings }) {
  const kinds = [...new Set(findings.map((f) => t(`compliance.kind.${f.kind}`)))];
  return html`<div class="compliance-flag" data-testid="compliance-flag" title=${findings.map(explain).join('\n')}>
    <i class="warn-icon" aria-hidden="true">!</i>${t('compliance.sent_anyway', { kinds: kinds.join(t('link.sep')) })}</div>`;
}

/** How long the composer waits after the last key before asking the server. */
const CHECK_DELAY_MS = 350;

/**
 * What the guard says about the draft, asked while the agent types: `{text, mode, findings}`
 * for the text last checked, or null.
 */
function useComplianceCheck(c, text, writable) {
  const [result, setResult] = useState(null);
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    const v = text.trim();
    if (!v || !writable) { setResult(null); return undefined; }
    const timer = setTimeout(() => {
      api('POST', '/compliance/check', { conversation_id: c.id, text: v })
        .then((r) => { if (n === seq.current) setResult({ text: v, mode: r.mode, findings: r.findings ?? [] }); })
        .catch(() => { if (n === seq.current) setResult(null); });
    }, CHECK_DELAY_MS);
    return () => clearTimeout(timer);
  }, [c.id, text, writable]);
  return result;
}

function PendingRow({ m }) {
  const d = desk;
  return html`<div class="msg mine from-agent pending" data-testid="chat-message" data-sender="agent" data-pending="true">
    <div class="msg-col">
      <div class="bubble"><${MessageContent} e=${{ content: m.content }} /></div>
      ${m.failed && m.findings?.length ? html`<div class="compliance-strip block" role="alert" data-testid="compliance-refused">
        <${FindingList} findings=${m.findings} /></div>` : null}
      <div class="msg-foot muted">${m.failed ? html`<span class="error-text" role="alert">${t('w.send_failed')}: ${m.failed}</span>
        <button class="link-btn" onClick=${() => d.retry(m)}>${t('w.retry')}</button>
        <button class="link-btn" onClick=${() => d.drop(m)}>${t('w.drop')}</button>`
      : html`<span class="spinner"></span> ${t('w.sending')}`}</div>
    </div>
    <span class="avatar av-agent">${d.me.display_name.slice(0, 1)}</span>
  </div>`;
}

/** The word just before the caret, if it could be a shortcut (ASCII letters and digits). */
function shortcutBefore(el) {
  const upto = el.value.slice(0, el.selectionStart);
  const m = /(^|\s)([A-Za-z0-9]{1,20})$/.exec(upto);
  if (!m || el.selectionStart !== el.selectionEnd) return null;
  return { word: m[2], start: upto.length - m[2].length, end: upto.length };
}

function Composer({ c, phrases, insertRef, panel }) {
  const d = desk;
  const [text, setText] = useState(store.get('session', `kefu_draft:${c.id}`) ?? '');
  const [hint, setHint] = useState(null);
  const [refused, setRefused] = useState(false);
  const ref = useRef();
  const composing = useRef(false);
  const typingAt = useRef(0);
  const writable = c.mine && c.state === 'assigned';
  const guard = useComplianceCheck(c, text, writable);
  const findings = guard && guard.text === text.trim() ? guard.findings : [];
  const blocks = guard?.mode === 'block' && findings.length > 0;

  useEffect(() => { setText(store.get('session', `kefu_draft:${c.id}`) ?? ''); setHint(null); }, [c.id]);
  const update = (v) => {
    setText(v);
    setRefused(false);
    store.set('session', `kefu_draft:${c.id}`, v || null);
  };

  const fillVars = async (phrase) => {
    const order = panel?.orders?.[0]?.order_no;
    const body = { buyer_nick: c.buyer_nick };
    if (order) body.order_no = order;
    try {
      return await api('POST', `/phrases/${phrase.id}/fill`, body);
    } catch {
      return { text: phrase.text, missing: [] };
    }
  };

  /** Puts text at the caret (or in place of a range), then selects the first unfilled variable. */
  const insert = (value, range, missing = []) => {
    const el = ref.current;
    const cur = el ? el.value : text;
    const start = range ? range.start : (el ? el.selectionStart : cur.length);
    const end = range ? range.end : (el ? el.selectionEnd : cur.length);
    const next = cur.slice(0, start) + value + cur.slice(end);
    update(next);
    setHint(missing.length ? t('phrase.missing', { vars: missing.map((v) => `{${v}}`).join(' ') }) : null);
    requestAnimationFrame(() => {
      if (!el) return;
      el.focus();
      const firstVar = missing.length ? next.indexOf(`{${missing[0]}}`, start) : -1;
      if (firstVar >= 0) el.setSelectionRange(firstVar, firstVar + missing[0].length + 2);
      else el.setSelectionRange(start + value.length, start + value.length);
    });
  };
  insertRef.current = async (phraseOrText) => {
    if (typeof phraseOrText === 'string') { insert(phraseOrText); return; }
    const filled = await fillVars(phraseOrText);
    insert(filled.text, null, filled.missing ?? []);
  };

  const send = () => {
    const v = text.trim();
    if (!v || !writable) return;
    // The shop blocks what the guard found: nothing goes until it is rephrased (the server
    // refuses it too, should the check not have answered yet).
    if (blocks) { setRefused(true); return; }
    d.send(c.id, { kind: 'text', text: v });
    update('');
    setHint(null);
  };

  const expand = async (sc, key) => {
    try {
      const phrase = await api('GET', `/phrases/expand?shortcut=${encodeURIComponent(sc.word)}`);
      const filled = await fillVars(phrase);
      insert(filled.text, sc, filled.missing ?? []);
    } catch {
      if (key === ' ') insert(' ');
    }
  };

  const onKey = (e) => {
    // Keys that confirm or cancel a pinyin candidate belong to the input method.
    if (e.isComposing || e.keyCode === 229 || composing.current) return;
    if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      send();
      return;
    }
    if ((e.key === ' ' || e.key === 'Tab') && !e.shiftKey) {
      const sc = shortcutBefore(e.target);
      if (sc && (e.key === 'Tab' || phrases.some((p) => p.shortcut === sc.word.toLowerCase()))) {
        e.preventDefault();
        expand(sc, e.key);
      }
    }
  };

  const onInput = (e) => {
    update(e.target.value);
    const now = Date.now();
    if (writable && now - typingAt.current > 2000) {
      typingAt.current = now;
      d.socket.send({ type: 'typing', conversation_id: c.id });
    }
  };

  const sc = ref.current && text ? shortcutBefore(ref.current) : null;
  const matches = sc ? phrases.filter((p) => p.shortcut && p.shortcut.startsWith(sc.word.toLowerCase())).slice(0, 3) : [];

  return html`<div class="composer">
    ${matches.length ? html`<div class="sc-hint" data-testid="shortcut-hint">${matches.map((p) => html`<div><code>${p.shortcut}</code> ${p.text}</div>`)}
      <div class="muted small">${t('phrase.expand_hint')}</div></div>` : null}
    ${hint ? html`<div class="fill-hint" role="status">${hint}</div>` : null}
    <textarea ref=${ref} data-testid="chat-input" value=${text} disabled=${!writable}
      placeholder=${writable ? t('desk.input_placeholder') : t('desk.input_closed')} rows="4"
      onInput=${onInput} onKeyDown=${onKey}
      onCompositionStart=${() => { composing.current = true; }}
      onCompositionEnd=${() => { composing.current = false; }}></textarea>
    ${findings.length ? html`<div class=${`compliance-strip ${blocks ? 'block' : 'warn'}`} role="alert" data-testid="compliance-warning"
      data-mode=${guard.mode}>
      <div class="compliance-head"><i class="warn-icon" aria-hidden="true">!</i><b>${t('compliance.title')}</b>
        <span>${refused ? t('compliance.blocked') : blocks ? t('compliance.will_block') : t('compliance.will_warn')}</span></div>
      <${FindingList} findings=${findings} />
    </div>` : null}
    <div class="composer-foot">
      <span class="muted small">${t('desk.keys_hint')}</span>
      <button class="btn primary" data-testid="chat-send" disabled=${!writable || !text.trim() || blocks} onClick=${send}>${t('w.send')}</button>
    </div>
  </div>`;
}

function ChatView({ phrases, insertRef, panel }) {
  const d = useDesk();
  const c = d.convs.get(d.activeId);
  const scroll = useStickToBottom(d.activeId);
  if (!c) {
    return html`<section class="pane middle empty-chat"><div class="muted">${t('desk.pick_chat')}</div></section>`;
  }
  const events = [...c.events.values()].sort((a, b) => a.seq - b.seq);
  const pending = d.outbox.filter((m) => m.conversation_id === c.id && !(m.acked && c.events.has(m.acked)));
  const typing = c.typingUntil > Date.now();

  return html`<section class="pane middle" data-testid="chat" data-id=${c.id}>
    <div class="chat-head">
      <span class="avatar av-buyer">${(c.buyer_nick || '?').slice(0, 1)}</span>
      <div class="chat-who"><b>${c.buyer_nick}</b>
        <span class="muted small">${t(`channel.${c.channel || 'web'}`)}${c.skill_group ? ` · ${c.skill_group}` : ''} · ${t(`state.${c.state}`)}</span></div>
      <span class="spacer"></span>
      ${c.mine && c.state === 'assigned' ? html`<button class="btn" data-testid="chat-close" title="ESC"
        onClick=${() => d.control({ type: 'close', conversation_id: c.id })}>${t('desk.close_chat')} <kbd>ESC</kbd></button>` : null}
    </div>
    <div class="chat-body" ref=${scroll.ref} onScroll=${scroll.onScroll}><div class="chat-inner">
      ${events.map((e) => html`<${EventRow} key=${e.seq} e=${e} c=${c} />`)}
      ${pending.map((m) => html`<${PendingRow} key=${m.client_id} m=${m} />`)}
      ${typing ? html`<div class="typing" data-testid="chat-typing">${t('desk.buyer_typing')}<span class="dots"><i></i><i></i><i></i></span></div>` : null}
    </div></div>
    <${Composer} c=${c} phrases=${phrases} insertRef=${insertRef} panel=${panel} />
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// Transfer

function TransferDialog({ onClose }) {
  const d = useDesk();
  const c = d.convs.get(d.activeId);
  const [agents, setAgents] = useState(null);
  const [to, setTo] = useState(null);
  const [note, setNote] = useState('');
  const [error, setError] = useState(null);
  useEffect(() => {
    const load = () => api('GET', '/chat/agents').then(setAgents).catch((e) => setError(errorMessage(e)));
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  const why = (a) => {
    if (!a.takes_chats) return t('transfer.no_routing');
    if (a.presence === 'offline') return t('transfer.offline');
    if (a.load >= a.capacity) return t('transfer.full');
    return null;
  };
  const submit = (ev) => {
    ev.preventDefault();
    if (!to || !c) return;
    if (d.control({ type: 'transfer', conversation_id: c.id, to, note: note.trim() })) onClose();
  };
  return html`<div class="modal-back" onClick=${(e) => { if (e.target === e.currentTarget) onClose(); }}>
    <form class="modal" role="dialog" aria-modal="true" data-testid="transfer-dialog" onSubmit=${submit}>
      <div class="modal-head"><b>${t('transfer.title', { nick: c?.buyer_nick ?? '' })}</b>
        <button type="button" class="btn ghost" onClick=${onClose} aria-label=${t('common.close')}>✕</button></div>
      ${error ? html`<div class="error-text" role="alert">${error}</div>` : null}
      <ul class="agent-list">
        ${(agents ?? []).filter((a) => a.account_id !== d.me.id).map((a) => {
          const no = why(a);
          return html`<li><label class=${`agent-row ${no ? 'disabled' : ''} ${to === a.account_id ? 'picked' : ''}`} data-testid="transfer-agent">
            <input type="radio" name="to" value=${a.account_id} disabled=${!!no} checked=${to === a.account_id}
              onChange=${() => setTo(a.account_id)} />
            <span class="avatar av-agent">${a.display_name.slice(0, 1)}</span>
            <span class="agent-main"><b>${a.display_name}</b> <span class="muted small">${a.skill_group ?? t('transfer.any_group')}</span></span>
            <span class=${`presence-tag presence-${a.presence}`}><i class="dot"></i>${t(`presence.${a.presence}`)}</span>
            <span class="load">${t('transfer.load', { n: a.load, cap: a.capacity })}</span>
            ${no ? html`<span class="muted small">${no}</span>` : null}
          </label></li>`;
        })}
        ${agents && agents.length <= 1 ? html`<li class="muted">${t('transfer.nobody')}</li>` : null}
      </ul>
      <label class="block-label">${t('transfer.note')}
        <input value=${note} maxlength="200" placeholder=${t('transfer.note_hint')} onInput=${(e) => setNote(e.target.value)} /></label>
      <div class="row end">
        <button type="button" class="btn" onClick=${onClose}>${t('common.cancel')}</button>
        <button type="submit" class="btn primary" data-testid="transfer-submit" disabled=${!to}>${t('transfer.submit')}</button>
      </div>
    </form>
  </div>`;
}

// ---------------------------------------------------------------------------------------------
// Right: the buyer's panel, quick phrases, knowledge base

const FLAGS = ['red', 'yellow', 'green', 'blue', 'purple', 'grey'];

function OrderBox({ o, onChanged, onSend }) {
  const [memo, setMemo] = useState(o.seller_memo ?? '');
  const [form, setForm] = useState(null);
  const [fields, setFields] = useState({});
  const [msg, setMsg] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { setMemo(o.seller_memo ?? ''); }, [o.seller_memo, o.id]);
  const act = async (body) => {
    setBusy(true);
    setMsg(null);
    try {
      const view = await api('POST', `/orders/${o.id}/actions`, body);
      onChanged(view);
      setForm(null);
      setFields({});
      setMsg({ ok: true, text: t('order.saved') });
    } catch (e) {
      setMsg({ ok: false, text: errorMessage(e) });
      if (e.status === 409) onChanged(null); // someone else changed it: reload
    }
    setBusy(false);
  };
  const can = (a) => o.actions?.includes(a);
  const forms = {
    // The address agents see is masked (买家隐私): the new one is typed whole, the old one a hint.
    change_address: [['address', t('order.address'), '', o.address]],
    cancel: [['reason', t('order.reason'), '']],
    ship: [['carrier', t('order.carrier'), ''], ['tracking_no', t('order.tracking_no'), '']],
    change_price: [['shipping_fee', t('order.shipping_fee_yuan'), ((o.shipping_fee ?? 0) / 100).toFixed(2)], ['reason', t('order.reason'), '']],
  };
  const submitForm = (ev) => {
    ev.preventDefault();
    const body = { action: form };
    for (const [k, , initial] of forms[form]) body[k] = (fields[k] ?? initial ?? '').trim();
    if (form === 'change_price') body.shipping_fee = Math.round(Number(body.shipping_fee) * 100);
    act(body);
  };
  return html`<div class="order" data-testid="panel-order" data-order-no=${o.order_no} data-state=${o.state}>
    <div class="order-head">
      <span class=${`flag-dot flag-${o.flag ?? 'none'}`} title=${o.flag ?? ''}></span>
      <span class="order-no">${o.order_no}</span>
      <span class=${`badge state-${o.state}`} data-testid="order-state">${o.state_label || orderState(o.state)}</span>
    </div>
    <ul class="order-items">${(o.items ?? []).map((i) => html`<li><span>${i.title}</span><span class="muted">×${i.quantity}</span><span>${yuan(i.unit_price)}</span></li>`)}</ul>
    <div class="order-meta muted small">
      <span>${t('order.total')} <b class="price">${yuan(o.total)}</b>${o.shipping_fee ? ` (${t('order.shipping')} ${yuan(o.shipping_fee)})` : ''}</span>
      <span>${t('order.placed')} ${fmtTime(o.created_at)}</span>
      ${o.payment_deadline && o.state === 'awaiting_payment' ? html`<span>${t('order.deadline')} ${fmtTime(o.payment_deadline)}</span>` : null}
      ${o.shipment ? html`<span>${o.shipment.carrier} ${o.shipment.tracking_no}</span>` : null}
      ${o.logistics?.length ? html`<span>${t('order.latest_tracking')}: ${o.logistics[o.logistics.length - 1].text}</span>` : null}
    </div>
    ${can('set_flag') ? html`<div class="flags" data-testid="order-flags"><span class="muted small">${t('order.flag')}</span>
      ${FLAGS.map((f) => html`<button class=${`flag-dot flag-${f} ${o.flag === f ? 'on' : ''}`} data-testid=${`flag-${f}`} disabled=${busy || o.flag === f}
        title=${t(`flag.${f}`)} aria-label=${t(`flag.${f}`)} onClick=${() => act({ action: 'set_flag', flag: f })}></button>`)}
      ${o.flag ? html`<button class="link-btn small" disabled=${busy} onClick=${() => act({ action: 'set_flag', flag: null })}>${t('order.flag_clear')}</button>` : null}
    </div>` : null}
    ${can('set_memo') ? html`<div class="memo">
      <textarea data-testid="order-memo" rows="2" maxlength="500" placeholder=${t('order.memo_hint')} value=${memo} onInput=${(e) => setMemo(e.target.value)}></textarea>
      <button class="btn small" data-testid="order-memo-save" disabled=${busy || memo === (o.seller_memo ?? '')}
        onClick=${() => act({ action: 'set_memo', memo })}>${t('order.memo_save')}</button>
    </div>` : null}
    <div class="order-actions">
      <button class="btn small" onClick=${() => onSend(o.order_no)} data-testid="order-send">${t('order.send_card')}</button>
      ${Object.keys(forms).filter(can).map((a) => html`<button class=${`btn small ${form === a ? 'on' : ''}`} data-testid=${`order-${a}`}
        onClick=${() => { setForm(form === a ? null : a); setMsg(null); }}>${t(`order.action.${a}`)}</button>`)}
    </div>
    ${form ? html`<form class="order-form" onSubmit=${submitForm}>
      ${forms[form].map(([k, label, initial, hint]) => html`<label>${label}
        <input name=${k} value=${fields[k] ?? initial ?? ''} placeholder=${hint ?? ''} required=${k === 'address'}
          onInput=${(e) => setFields({ ...fields, [k]: e.target.value })} /></label>`)}
      <div class="row end"><button type="button" class="btn small" onClick=${() => setForm(null)}>${t('common.cancel')}</button>
        <button type="submit" class="btn small primary" disabled=${busy}>${t('common.confirm')}</button></div>
    </form>` : null}
    ${msg ? html`<div class=${msg.ok ? 'ok-text small' : 'error-text small'} role=${msg.ok ? 'status' : 'alert'} data-testid="order-message">${msg.text}</div>` : null}
  </div>`;
}

const BUYER_TYPES = ['friendly', 'dominant', 'analytical', 'self_centered', 'sociable', 'decisive', 'polite', 'bargainer', 'no_pay'];

/** The seeds' words for a type: the server's (Chinese), or the English table's. */
const typeWords = (info, what) => (getLang() === 'zh-CN' && info[what] ? info[what] : t(`btype.${what}.${info.type}`));

/**
 * 买家类型 (SPEC §3.1): the type set on the buyer, what their behaviour suggests and why, and
 * how to serve that type (the seeds' strategy); the agent sets, accepts or clears it.
 */
function BuyerTypeBox({ customer, onChanged }) {
  const [msg, setMsg] = useState(null);
  const [busy, setBusy] = useState(false);
  const bt = customer.buyer_type ?? {};
  const cur = bt.current;
  const sug = bt.suggestion;
  const set = async (type) => {
    setBusy(true);
    setMsg(null);
    try { onChanged(await api('PUT', `/customers/${customer.id}/type`, { type })); } catch (e) { setMsg(errorMessage(e)); }
    setBusy(false);
  };
  const shown = cur ?? sug;
  return html`<section class="box" data-testid="buyer-type">
    <div class="box-head"><b>${t('btype.title')}</b>
      ${cur ? html`<span class="tag tagged" data-testid="btype-current" data-type=${cur.type}>${t(`btype.${cur.type}`)}</span>` : html`<span class="muted small">${t('btype.none')}</span>`}</div>
    ${cur ? html`<div class="muted small">${t('btype.set_by', { name: cur.set_by_name, at: fmtTime(cur.set_at) })}</div>` : null}
    ${sug && sug.type !== cur?.type ? html`<div class="btype-suggestion" data-testid="btype-suggestion" data-type=${sug.type}>
      <span>${t('btype.suggested')} <b>${t(`btype.${sug.type}`)}</b></span>
      <span class="muted small">${getLang() === 'zh-CN' ? sug.reason : t('btype.reason_hint')}</span>
      <button class="btn small" data-testid="btype-accept" disabled=${busy} onClick=${() => set(sug.type)}>${t('btype.accept')}</button>
    </div>` : null}
    ${shown ? html`<div class="btype-strategy" data-testid="btype-strategy" title=${typeWords(shown, 'traits')}>
      <b class="small">${t('btype.strategy', { type: t(`btype.${shown.type}`) })}</b> ${typeWords(shown, 'strategy')}</div>` : null}
    <div class="row">
      <select data-testid="btype-select" value=${cur?.type ?? ''} disabled=${busy} aria-label=${t('btype.title')}
        onChange=${(e) => set(e.target.value || null)}>
        <option value="">${t('btype.choose')}</option>
        ${BUYER_TYPES.map((k) => html`<option value=${k}>${t(`btype.${k}`)}</option>`)}
      </select>
      ${cur ? html`<button class="link-btn small" data-testid="btype-clear" disabled=${busy} onClick=${() => set(null)}>${t('btype.clear')}</button>` : null}
    </div>
    ${msg ? html`<div class="error-text small" role="alert">${msg}</div>` : null}
  </section>`;
}

function CustomerPanel({ panel, reload, setPanel, onSendOrder }) {
  const [note, setNote] = useState('');
  const [msg, setMsg] = useState(null);
  if (!panel) return html`<div class="muted pad">${t('common.loading')}</div>`;
  const cu = panel.customer;
  const addNote = async (ev) => {
    ev.preventDefault();
    if (!note.trim()) return;
    try {
      await api('POST', `/customers/${cu.id}/notes`, { text: note.trim() });
      setNote('');
      setMsg(null);
      reload();
    } catch (e) { setMsg(errorMessage(e)); }
  };
  const onOrder = (view) => {
    if (!view) { reload(); return; }
    setPanel({ ...panel, orders: panel.orders.map((o) => (o.id === view.id ? view : o)) });
  };
  return html`<div class="panel-body">
    <section class="box">
      <div class="box-head"><b>${t('panel.profile')}</b></div>
      ${cu ? html`<dl class="kv">
        <dt>${t('panel.nick')}</dt><dd>${cu.nick}</dd>
        ${cu.name ? html`<dt>${t('panel.name')}</dt><dd>${cu.name}</dd>` : null}
        ${cu.phone ? html`<dt>${t('panel.phone')}</dt><dd>${cu.phone}</dd>` : null}
        ${cu.address ? html`<dt>${t('panel.address')}</dt><dd>${cu.address}</dd>` : null}
        <dt>${t('panel.channel')}</dt><dd>${t(`channel.${cu.channel || panel.conversation?.channel || 'web'}`)}</dd>
        ${cu.first_contact ? html`<dt>${t('panel.first_contact')}</dt><dd>${fmtTime(cu.first_contact)}</dd>` : null}
      </dl>
      <div class="tags">
        ${(cu.groups ?? []).map((g) => html`<span class="tag group">${t(`group.${g}`)}</span>`)}
        ${(cu.custom_groups ?? []).map((g) => html`<span class="tag">${g.name ?? g}</span>`)}
        ${(cu.tags ?? []).map((g) => html`<span class="tag tagged">${g}</span>`)}
      </div>` : html`<p class="muted small">${t('panel.anonymous', { nick: panel.conversation?.buyer_nick ?? '' })}</p>`}
    </section>
    ${cu ? html`<${BuyerTypeBox} customer=${cu} onChanged=${(bt) => setPanel({ ...panel, customer: { ...cu, buyer_type: bt } })} />` : null}
    ${cu ? html`<section class="box">
      <div class="box-head"><b>${t('panel.notes')}</b></div>
      <ul class="notes">${(cu.notes ?? []).map((n) => html`<li><div>${n.text}</div><div class="muted small">${n.author_name} · ${fmtTime(n.created_at)}</div></li>`)}</ul>
      <form class="row" onSubmit=${addNote}><input data-testid="note-input" value=${note} maxlength="500" placeholder=${t('panel.note_hint')} onInput=${(e) => setNote(e.target.value)} />
        <button class="btn small" type="submit">${t('panel.note_add')}</button></form>
      ${msg ? html`<div class="error-text small" role="alert">${msg}</div>` : null}
    </section>` : null}
    <section class="box">
      <div class="box-head"><b>${t('panel.orders')}</b> <span class="muted">${panel.orders?.length ?? 0}</span></div>
      ${panel.orders?.length ? panel.orders.map((o) => html`<${OrderBox} key=${o.id} o=${o} onChanged=${onOrder} onSend=${onSendOrder} />`)
      : html`<p class="muted small">${cu ? t('panel.no_orders') : t('panel.no_orders_anonymous')}</p>`}
    </section>
  </div>`;
}

function PhraseList({ phrases, onPick }) {
  const [q, setQ] = useState('');
  const shown = phrases.filter((p) => !q || p.text.includes(q) || (p.shortcut ?? '').includes(q.toLowerCase()) || p.group.includes(q));
  const groups = new Map();
  for (const p of shown) {
    const key = `${p.scope === 'personal' ? t('phrase.personal') : t('phrase.team')} · ${p.group}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(p);
  }
  return html`<div class="panel-body" data-testid="phrases">
    <input class="search" type="search" placeholder=${t('phrase.search')} value=${q} onInput=${(e) => setQ(e.target.value)} />
    ${[...groups].map(([g, list]) => html`<section class="box"><div class="box-head muted small">${g}</div>
      <ul class="phrase-list">${list.map((p) => html`<li><button class="phrase" data-testid="phrase" onClick=${() => onPick(p)}>
        ${p.shortcut ? html`<code>${p.shortcut}</code>` : null}<span>${p.text}</span></button></li>`)}</ul></section>`)}
    ${shown.length === 0 ? html`<p class="muted small pad">${t('phrase.none')}</p>` : null}
  </div>`;
}

function KbSearch({ onPick }) {
  const [entries, setEntries] = useState(null);
  const [cats, setCats] = useState([]);
  const [q, setQ] = useState('');
  const [error, setError] = useState(null);
  useEffect(() => {
    Promise.all([api('GET', '/kb/entries'), api('GET', '/kb/categories')])
      .then(([e, c]) => { setEntries(e); setCats(c); })
      .catch((e) => setError(errorMessage(e)));
  }, []);
  const catName = useMemo(() => new Map(cats.map((c) => [c.id, c.name])), [cats]);
  const needle = q.trim().toLowerCase();
  const shown = (entries ?? []).filter((e) => e.enabled && (!needle || e.question.toLowerCase().includes(needle)
    || e.answer.toLowerCase().includes(needle) || e.similar.some((s) => s.toLowerCase().includes(needle)))).slice(0, 50);
  return html`<div class="panel-body" data-testid="kb">
    <input class="search" type="search" data-testid="kb-search" placeholder=${t('kb.search')} value=${q} onInput=${(e) => setQ(e.target.value)} />
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
    ${entries == null && !error ? html`<p class="muted pad">${t('common.loading')}</p>` : null}
    <ul class="kb-list">${shown.map((e) => html`<li class="kb-entry" data-testid="kb-entry">
      <div class="kb-q"><b>${e.question}</b> <span class="tag">${catName.get(e.category_id) ?? ''}</span></div>
      <div class="kb-a">${e.answer}</div>
      <button class="link-btn small" onClick=${() => onPick(e.answer)}>${t('kb.insert')}</button>
    </li>`)}</ul>
    ${entries && shown.length === 0 ? html`<p class="muted small pad">${t('kb.none')}</p>` : null}
  </div>`;
}

function RightPane({ phrases, insertRef, panel, setPanel, reloadPanel }) {
  const d = useDesk();
  const [tab, setTab] = useState('panel');
  const c = d.convs.get(d.activeId);
  const sendOrder = (orderNo) => { if (c?.mine) d.send(c.id, { kind: 'order', order_no: orderNo }); };
  const canSend = !!c && c.mine && c.state === 'assigned';
  const sendProduct = (sku) => { if (canSend) d.send(c.id, { kind: 'product', sku }); };
  return html`<aside class="pane right" data-testid="panel">
    <nav class="tabs" role="tablist">
      ${[['panel', t('tab.customer')], ['phrases', t('tab.phrases')], ['kb', t('tab.kb')], ['products', t('tab.products')]].map(([k, label]) => html`<button role="tab"
        class=${tab === k ? 'on' : ''} aria-selected=${tab === k} data-testid=${`tab-${k}`} onClick=${() => setTab(k)}>${label}</button>`)}
    </nav>
    ${tab === 'panel' ? (c ? html`<${CustomerPanel} panel=${panel} reload=${reloadPanel} setPanel=${setPanel} onSendOrder=${sendOrder} />`
      : html`<p class="muted pad">${t('desk.pick_chat')}</p>`) : null}
    ${tab === 'phrases' ? html`<${PhraseList} phrases=${phrases} onPick=${(p) => insertRef.current?.(p)} />` : null}
    ${tab === 'kb' ? html`<${KbSearch} onPick=${(text) => insertRef.current?.(text)} />` : null}
    ${tab === 'products' ? html`<${ProductSearch} canSend=${canSend} onSend=${sendProduct} />` : null}
  </aside>`;
}

// ---------------------------------------------------------------------------------------------
// 留言: messages buyers left when nobody could take the chat (SPEC §1.3)

const MESSAGES_PAGE = 200;

function MessageRow({ m, onDone }) {
  const [note, setNote] = useState(m.note ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const done = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const updated = await api('PATCH', `/messages/${m.id}`, { status: 'done', note });
      setBusy(false);
      onDone(updated);
    } catch (e) {
      setBusy(false);
      setError(errorMessage(e));
    }
  };
  const open = m.status === 'open';
  return html`<li class=${`box msg-row ${open ? '' : 'done'}`} data-testid="message-row" data-id=${m.id} data-status=${m.status}>
    <div class="msg-head">
      <b class="msg-name">${m.name || t('msg.anonymous')}</b>
      <span class="msg-contact" data-testid="message-contact">${m.contact}</span>
      <span class="spacer"></span>
      <time class="muted small" datetime=${m.created_at}>${fmtTime(m.created_at)}</time>
      <span class=${`tag ${open ? 'wait' : ''}`}>${t(`msg.status.${m.status}`)}</span>
    </div>
    <p class="msg-text">${m.text}</p>
    ${open ? html`<form class="msg-action" onSubmit=${done}>
      <textarea data-testid="message-note" rows="2" maxLength="1000" value=${note} aria-label=${t('msg.note')}
        placeholder=${t('msg.note_hint')} onInput=${(e) => setNote(e.target.value)}></textarea>
      <button type="submit" class="btn small primary" data-testid="message-done" disabled=${busy}>${t('msg.mark_done')}</button>
    </form>` : html`<div class="muted small msg-handled">
      ${t('msg.handled_at', { time: fmtTime(m.handled_at) })}${m.note ? html` · <span data-testid="message-note-text">${m.note}</span>` : null}</div>`}
    ${error ? html`<div class="error-text small" role="alert" data-testid="message-error">${error}</div>` : null}
  </li>`;
}

function MessagesView({ onChanged }) {
  useLang();
  const [status, setStatus] = useState('open');
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const want = useRef(status);
  const load = async (st) => {
    const q = `/messages?status=${st}&limit=${MESSAGES_PAGE}`;
    try {
      // The server lists oldest first: take the newest page, shown newest first.
      let r = await api('GET', q);
      if (r.total > r.items.length) r = await api('GET', `${q}&offset=${Math.max(0, r.total - MESSAGES_PAGE)}`);
      if (want.current !== st) return;
      const items = [...r.items].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
      setList({ items, total: r.total });
      setError(null);
    } catch (e) {
      if (want.current === st) setError(errorMessage(e));
    }
  };
  useEffect(() => {
    want.current = status;
    setList(null);
    load(status);
    const timer = setInterval(() => load(status), 30000);
    return () => clearInterval(timer);
  }, [status]);
  const onDone = (updated) => {
    setList((l) => {
      if (!l) return l;
      const items = updated.status === status ? l.items.map((x) => (x.id === updated.id ? updated : x)) : l.items.filter((x) => x.id !== updated.id);
      return { items, total: l.total - (l.items.length - items.length) };
    });
    onChanged?.();
    load(status);
  };
  const tab = (st) => html`<button class=${status === st ? 'on' : ''} aria-pressed=${status === st}
    data-testid=${`messages-filter-${st}`} onClick=${() => setStatus(st)}>${t(`msg.filter.${st}`)}</button>`;
  return html`<section class="msg-view" data-testid="messages-view" data-status=${status}>
    <div class="row msg-toolbar">
      <b>${t('msg.title')}</b>
      <div class="seg" role="group" aria-label=${t('msg.filter')}>${tab('open')}${tab('done')}</div>
      <span class="muted small">${list ? t('msg.total', { n: list.total }) : ''}</span>
    </div>
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
    ${list == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
    <ul class="msg-list">${(list?.items ?? []).map((m) => html`<${MessageRow} key=${m.id} m=${m} onDone=${onDone} />`)}</ul>
    ${list && list.items.length === 0 ? html`<p class="muted small">${t(`msg.none.${status}`)}</p>` : null}
  </section>`;
}

// ---------------------------------------------------------------------------------------------
// The workbench

/** The page a reload comes back to: `#messages`, `#admin/<section>` (managers), else the desk. */
function routeFromHash(me) {
  const [v, s] = location.hash.replace(/^#/, '').split('/');
  if (v === 'messages') return { view: 'messages', section: null };
  if (v === 'visits') return { view: 'visits', section: null };
  if (v === 'stats') return { view: 'stats', section: null };
  if (v === 'records') return { view: 'records', section: null };
  if (v === 'monitor' && watchesTeam(me)) return { view: 'monitor', section: null };
  if (v === 'admin' && isManager(me)) return { view: 'admin', section: ADMIN_SECTIONS.includes(s) ? s : ADMIN_SECTIONS[0] };
  return { view: 'desk', section: null };
}

function Workbench() {
  useLang();
  const d = useDesk();
  const [transfer, setTransfer] = useState(false);
  const [route, setRoute] = useState(() => routeFromHash(d.me));
  const view = route.view;
  const setView = (v) => setRoute((r) => ({ view: v, section: v === 'admin' ? (r.section ?? ADMIN_SECTIONS[0]) : r.section }));
  const setSection = (section) => setRoute({ view: 'admin', section });
  useEffect(() => {
    const hash = view === 'desk' ? '' : view === 'admin' ? `#admin/${route.section}` : `#${view}`;
    if (location.hash !== hash) history.replaceState(null, '', hash || location.pathname + location.search);
  }, [route]);
  const [phrases, setPhrases] = useState([]);
  const [panel, setPanel] = useState(null);
  const [openCount, setOpenCount] = useState(null);
  const [dueVisits, setDueVisits] = useState(null);
  const insertRef = useRef(null);
  const panelFor = useRef(null);

  // The 留言 badge: open messages, read again every 30 s and after each action.
  const loadCount = () => {
    api('GET', '/messages?status=open&limit=1').then((r) => setOpenCount(r?.total ?? 0)).catch(() => {});
    // The 回访 badge: visits due now, the caller's and nobody's.
    api('GET', '/visits?view=due&mine=true&limit=1').then((r) => setDueVisits(r?.total ?? 0)).catch(() => {});
  };
  useEffect(() => {
    loadCount();
    const timer = setInterval(loadCount, 30000);
    return () => clearInterval(timer);
  }, []);

  const loadPhrases = () => api('GET', '/phrases').then(setPhrases).catch(() => {});
  const reloadPanel = () => {
    const id = d.activeId;
    if (!id) { setPanel(null); return; }
    api('GET', `/chat/conversations/${id}/panel`).then((p) => { if (d.activeId === id) setPanel(p); })
      .catch((e) => { if (d.activeId === id) setPanel({ conversation: null, customer: null, orders: [], error: errorMessage(e) }); });
  };

  // Back at the desk, the phrases may have changed under 管理.
  useEffect(() => { if (view === 'desk') loadPhrases(); }, [view]);
  useEffect(() => {
    const onVisible = () => { if (document.visibilityState === 'visible') { d.markRead(); loadPhrases(); } };
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('focus', onVisible);
    return () => { document.removeEventListener('visibilitychange', onVisible); window.removeEventListener('focus', onVisible); };
  }, []);

  useEffect(() => {
    if (panelFor.current !== d.activeId) {
      panelFor.current = d.activeId;
      setPanel(null);
      reloadPanel();
    }
  });

  useEffect(() => {
    // New messages in the open chat (an order card, a question about a parcel) may change what
    // the panel shows: read it again, at most every 2 seconds.
    let timer = null;
    d.onActiveEvent = () => {
      if (timer) return;
      timer = setTimeout(() => { timer = null; reloadPanel(); }, 2000);
    };
    return () => { clearTimeout(timer); d.onActiveEvent = null; };
  }, []);

  useEffect(() => {
    const onKey = (e) => {
      if (e.key !== 'Escape' || e.isComposing || e.keyCode === 229) return;
      if (transfer) { setTransfer(false); return; }
      if (view !== 'desk') return; // ESC ends a chat only where the chat is shown
      const c = d.convs.get(d.activeId);
      if (c && c.mine && c.state === 'assigned') {
        e.preventDefault();
        d.control({ type: 'close', conversation_id: c.id });
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [transfer, view]);

  return html`<div class="desk" data-testid="workbench">
    <${TopBar} onTransfer=${() => setTransfer(true)} view=${view} setView=${setView} openCount=${openCount} dueVisits=${dueVisits} />
    ${d.socket.status === 'reconnecting' ? html`<div class="banner warn">${t('desk.reconnecting_banner')}
      <button class="link-btn" onClick=${() => d.socket.now()}>${t('w.reconnect_now')}</button></div>` : null}
    ${view === 'messages' ? html`<${MessagesView} onChanged=${loadCount} />`
    : view === 'visits' ? html`<${VisitsView} onChanged=${loadCount} />`
    : view === 'stats' ? html`<${StatsView} me=${d.me} />`
    : view === 'records' ? html`<${RecordsView} me=${d.me} />`
    : view === 'monitor' && watchesTeam(d.me) ? html`<${MonitorView} />`
    : view === 'admin' && isManager(d.me) ? html`<${AdminView} me=${d.me} shop=${d.shop} section=${route.section} setSection=${setSection} />` : html`<div class="panes">
      <${ChatList} />
      <${ChatView} phrases=${phrases} insertRef=${insertRef} panel=${panel} />
      <${RightPane} phrases=${phrases} insertRef=${insertRef} panel=${panel} setPanel=${setPanel} reloadPanel=${reloadPanel} />
    </div>`}
    ${transfer ? html`<${TransferDialog} onClose=${() => setTransfer(false)} />` : null}
    <div class="toasts">${d.toasts.map((x) => html`<div class=${`toast ${x.kind}`} role=${x.kind === 'error' ? 'alert' : 'status'}>${x.text}</div>`)}</div>
  </div>`;
}

function App() {
  useLang();
  const [a, setA] = useState(auth);
  useEffect(() => {
    const fn = (next) => setA(next);
    authListeners.add(fn);
    // A token from this tab's session: check it still holds.
    if (auth) api('GET', '/auth/me').catch(() => {});
    return () => authListeners.delete(fn);
  }, []);
  if (!a) {
    if (desk) { desk.stop(); desk = null; }
    return html`<${Login} />`;
  }
  if (!desk) {
    desk = new Desk(a);
    desk.start();
  }
  return html`<${Workbench} key=${a.token} />`;
}

document.body.classList.add('app-page');
render(html`<${App} />`, document.getElementById('root'));

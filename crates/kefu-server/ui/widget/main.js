// The buyer's chat widget (SPEC §7.1): /widget/{shop}[?token=…&nick=…&group=售前&sku=…&order=…].
// Mobile first. One WebSocket per buyer (docs/chat-protocol.md): events are kept by `seq` (a
// replay never shows one twice), messages wait in an outbox until the server acknowledges
// them and are retried with the same client_id after every reconnect.
import { html, render, useState, useEffect, useRef } from '/ui/vendor/preact-htm.module.js';
import { t, useLang, LangSwitch } from '/ui/i18n.js';
import {
  LiveSocket, randomId, clientId, wsUrl, store, fmtTime, ProductCard, OrderCard, Image, useStickToBottom,
} from '/ui/lib.js';

const shop = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? 'demo');
const params = new URLSearchParams(location.search);

/** The buyer's side of the conversation; the view re-renders on `changed`. */
class BuyerChat {
  constructor() {
    this.token = params.get('token');
    const key = `kefu_visitor:${shop}`;
    this.visitor = null;
    if (!this.token) {
      this.visitor = store.get('local', key);
      if (!this.visitor || !/^[A-Za-z0-9_-]{16,64}$/.test(this.visitor)) {
        this.visitor = randomId(32);
        store.set('local', key, this.visitor);
      }
    }
    this.outboxKey = `kefu_outbox:${shop}:${this.visitor ?? 'signed'}`;
    let saved = [];
    try { saved = JSON.parse(store.get('local', this.outboxKey) ?? '[]'); } catch { saved = []; }
    this.outbox = Array.isArray(saved) ? saved.map((m) => ({ ...m, sentAt: 0 })) : [];
    this.events = new Map();
    this.lastSeq = 0;
    this.conversationId = null;
    this.state = null;
    this.queue = null;
    this.agent = null;
    this.agentNames = new Map();
    this.agentReadSeq = 0;
    this.agentTypingUntil = 0;
    this.offerLeave = false;
    this.notice = null;
    this.listeners = new Set();
    this.socket = new LiveSocket({
      url: () => this.url(),
      onFrame: (f) => this.frame(f),
      onStatus: () => this.changed(),
    });
    this.retryTimer = setInterval(() => this.retryStale(), 4000);
  }

  url() {
    const q = new URLSearchParams();
    if (this.token) q.set('token', this.token); else q.set('visitor', this.visitor);
    q.set('after', String(this.lastSeq));
    for (const k of ['nick', 'group', 'sku']) if (params.get(k)) q.set(k, params.get(k));
    const phone = matchMedia('(max-width: 640px)').matches || /Mobi|Android|iPhone/i.test(navigator.userAgent);
    q.set('channel', params.get('channel') === 'web' || params.get('channel') === 'h5' ? params.get('channel') : (phone ? 'h5' : 'web'));
    return wsUrl(`/api/v1/widget/${encodeURIComponent(shop)}/chat?${q}`);
  }

  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  changed() { for (const fn of this.listeners) fn(); }

  saveOutbox() {
    const keep = this.outbox.filter((m) => !m.failed).map(({ client_id, content, at }) => ({ client_id, content, at }));
    store.set('local', this.outboxKey, keep.length ? JSON.stringify(keep) : null);
  }

  flash(text) {
    this.notice = text;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => { this.notice = null; this.changed(); }, 4000);
    this.changed();
  }

  frame(f) {
    switch (f.type) {
      case 'welcome':
        this.conversationId = f.conversation_id;
        this.state = f.state;
        this.queue = f.queue_position ? { position: f.queue_position, leave_message: !!f.leave_message } : null;
        if (f.queue_position && f.leave_message) this.offerLeave = true;
        if (f.agent) this.agent = f.agent;
        else if (f.state !== 'assigned') this.agent = null;
        // What was never acknowledged goes again, with the same client ids.
        for (const m of this.outbox) if (!m.failed) this.transmit(m);
        break;
      case 'event':
        this.event(f);
        break;
      case 'ack': {
        const m = this.outbox.find((x) => x.client_id === f.client_id);
        if (m) {
          m.acked = f.seq;
          if (this.events.has(f.seq)) this.outbox = this.outbox.filter((x) => x !== m);
          this.saveOutbox();
        }
        break;
      }
      case 'error':
        if (f.client_id) {
          const m = this.outbox.find((x) => x.client_id === f.client_id);
          if (m && f.error !== 'too_many_requests') {
            m.failed = f.message || f.error;
            this.saveOutbox();
          } else if (m) {
            m.sentAt = Date.now(); // retried by the timer
          }
        } else if (this.survey?.sending) {
          // Rated already (another tab) or refused: the survey ends with the server's words.
          this.survey = f.error === 'conflict' ? null : { ...this.survey, sending: false };
          this.flash(errorText(f));
        } else {
          this.flash(errorText(f));
        }
        break;
      case 'typing':
        if (f.from === 'agent') {
          this.agentTypingUntil = Date.now() + 5000;
          setTimeout(() => this.changed(), 5100);
        }
        break;
      case 'read':
        if (f.by === 'agent') this.agentReadSeq = Math.max(this.agentReadSeq, f.seq);
        break;
      case 'queue':
        this.state = 'queued';
        this.queue = { position: f.position, leave_message: f.leave_message };
        if (f.leave_message) this.offerLeave = true;
        break;
      case 'agent':
        this.agent = f.agent;
        break;
      case 'rated':
        store.set('local', `kefu_rated_${f.conversation_id}`, '1');
        this.survey = { done: true };
        break;
      default:
        return;
    }
    this.changed();
  }

  event(e) {
    if (this.events.has(e.seq)) return; // a replay: already shown
    this.events.set(e.seq, e);
    this.lastSeq = Math.max(this.lastSeq, e.seq);
    if (e.client_id && e.sender?.role === 'buyer') {
      const before = this.outbox.length;
      this.outbox = this.outbox.filter((m) => m.client_id !== e.client_id);
      if (before !== this.outbox.length) this.saveOutbox();
    }
    switch (e.kind) {
      case 'queued':
        this.state = 'queued';
        break;
      case 'assigned':
        this.state = 'assigned';
        this.queue = null;
        this.offerLeave = false;
        this.agentNames.set(e.agent_id, e.agent_name);
        if (this.agent?.name !== e.agent_name) this.agent = { name: e.agent_name, signature: '' };
        break;
      case 'transferred':
        this.state = 'assigned';
        this.agentNames.set(e.to, e.to_name);
        if (this.agent?.name !== e.to_name) this.agent = { name: e.to_name, signature: '' };
        break;
      case 'closed':
        this.state = 'closed';
        this.queue = null;
        this.agent = null;
        this.offerLeave = false;
        // The survey at chat end (SPEC §5.6), once per chat an agent answered.
        if (!this.survey && [...this.events.values()].some((x) => x.kind === 'message' && x.sender?.role === 'agent')
          && !store.get('local', `kefu_rated_${e.conversation_id}`)) this.survey = { score: 0 };
        break;
      case 'reopened':
        this.state = 'bot';
        break;
      case 'message':
        if (e.content?.kind === 'bot' && e.content.reply?.handoff?.leave_message) this.offerLeave = true;
        if (e.sender?.role === 'agent') {
          this.agentTypingUntil = 0;
          this.markRead();
        }
        break;
      default:
    }
  }

  rate(score, comment) {
    if (this.socket.send({ type: 'rate', score, comment })) this.survey = { ...this.survey, score, sending: true };
    this.changed();
  }

  skipSurvey() {
    this.survey = null;
    this.changed();
  }

  markRead() {
    if (document.visibilityState !== 'visible') return;
    let seq = 0;
    for (const e of this.events.values()) if (e.sender?.role === 'agent' && e.seq > seq) seq = e.seq;
    if (seq > (this.readSent ?? 0) && this.socket.send({ type: 'read', seq })) this.readSent = seq;
  }

  transmit(m) {
    if (this.socket.send({ type: 'message', client_id: m.client_id, content: m.content })) m.sentAt = Date.now();
  }

  retryStale() {
    const now = Date.now();
    for (const m of this.outbox) if (!m.failed && !m.acked && now - (m.sentAt || 0) > 8000) this.transmit(m);
  }

  send(content) {
    const m = { client_id: clientId(), content, at: new Date().toISOString(), sentAt: 0 };
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
    if (!this.socket.send(frame)) this.flash(t('w.offline_try_later'));
  }

  typing() {
    if (this.state !== 'assigned') return;
    const now = Date.now();
    if (now - (this.typingSent ?? 0) < 2000) return;
    this.typingSent = now;
    this.socket.send({ type: 'typing' });
  }
}

function errorText(f) {
  if (f.error === 'too_many_requests') return t('err.too_many');
  if (f.error === 'conflict') return t('w.err_conflict');
  return f.message || t('err.generic');
}

const chat = new BuyerChat();

function useChat() {
  const [, setTick] = useState(0);
  useEffect(() => chat.subscribe(() => setTick((n) => n + 1)), []);
  return chat;
}

function StatusDot({ socket }) {
  const s = socket.status;
  const label = s === 'open' ? t('w.status_open') : s === 'reconnecting' ? t('w.status_reconnecting') : t('w.status_connecting');
  return html`<span class=${`status status-${s}`} data-testid="widget-status" data-state=${s} role="status">
    <i class="dot"></i><span>${label}</span></span>`;
}

function Header({ hello }) {
  const c = useChat();
  const who = c.state === 'assigned' && c.agent ? c.agent : null;
  return html`<header class="w-head">
    <div class="w-avatar" aria-hidden="true">${who ? who.name.slice(0, 1) : '客'}</div>
    <div class="w-title">
      <div class="w-name">${who ? t('w.agent_serving', { name: who.name }) : (hello?.shop_name ?? t('w.title'))}</div>
      <div class="w-sub">${who?.signature || (c.state === 'queued' ? t('w.queued_short') : t('w.sub_bot'))}</div>
    </div>
    <${StatusDot} socket=${c.socket} />
    <${LangSwitch} />
  </header>`;
}

function BotReply({ e, latest }) {
  const c = chat;
  const reply = e.content.reply ?? {};
  const canPick = c.state === 'bot' || c.state === 'closed';
  const [voted, setVoted] = useState(null);
  const vote = async (helpful) => {
    setVoted(helpful);
    try {
      await fetch(`/api/v1/widget/${encodeURIComponent(shop)}/feedback`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session_id: reply.session_id, question_id: reply.question_id, helpful }),
      });
    } catch { /* a vote is not worth an error */ }
  };
  const parts = reply.kind === 'answer' && reply.parts?.length ? reply.parts : [{ kind: 'text', text: reply.text ?? '' }];
  return html`<div class="bot-reply">
    ${parts.map((p) => {
      switch (p.kind) {
        case 'text': return html`<span class="pre">${p.text}</span>`;
        case 'link': return /^https?:\/\//i.test(p.url)
          ? html`<a href=${p.url} target="_blank" rel="noopener noreferrer">${p.url}</a>` : html`<span>${p.url}</span>`;
        case 'image': return html`<${Image} url=${p.url} />`;
        case 'product': return html`<${ProductCard} sku=${p.sku} card=${p} />`;
        default: return null;
      }
    })}
    ${reply.kind === 'suggest' && reply.suggestions?.length ? html`<ol class="suggestions">
      ${reply.suggestions.map((s) => html`<li><button class="suggestion" data-testid="widget-suggestion" disabled=${!canPick}
        onClick=${() => c.control({ type: 'pick', entry_id: s.entry_id })}><b>${s.n}.</b> ${s.question}</button></li>`)}
      <li class="muted small">${t('w.reply_number')}</li>
    </ol>` : null}
    ${reply.kind === 'fallback' && canPick ? html`<div><button class="link-btn" data-testid="widget-handoff-inline"
      onClick=${() => c.control({ type: 'handoff' })}>${t('w.handoff')}</button></div>` : null}
    ${reply.kind === 'answer' && latest && reply.question_id ? html`<div class="helpful">
      ${voted == null ? html`<span class="muted small">${t('w.helpful_q')}</span>
        <button class="chip" onClick=${() => vote(true)}>${t('w.helpful_yes')}</button>
        <button class="chip" onClick=${() => vote(false)}>${t('w.helpful_no')}</button>`
      : html`<span class="muted small">${t('w.helpful_thanks')}</span>`}
    </div>` : null}
  </div>`;
}

function Content({ e }) {
  const ct = e.content;
  switch (ct?.kind) {
    case 'text': return html`<span class="pre">${ct.text}</span>`;
    case 'image': return html`<${Image} url=${ct.url} />`;
    case 'product': return html`<${ProductCard} sku=${ct.sku} card=${ct.card} />`;
    case 'order': return html`<${OrderCard} order_no=${ct.order_no} card=${ct.card} />`;
    default: return null;
  }
}

function Notice({ e }) {
  let text = null;
  switch (e.kind) {
    case 'queued': text = t('w.n_queued'); break;
    case 'assigned': text = t('w.n_assigned', { name: e.agent_name }); break;
    case 'transferred': text = t('w.n_transferred', { name: e.to_name }); break;
    case 'closed': text = t(`w.n_closed_${e.reason}`); break;
    default: return null;
  }
  return html`<div class="notice" data-testid="widget-notice"><span>${text}</span></div>`;
}

function Message({ e, latestBot }) {
  const c = chat;
  if (e.kind !== 'message') return html`<${Notice} e=${e} />`;
  const role = e.sender?.role ?? 'system';
  const mine = role === 'buyer';
  const name = role === 'agent' ? (c.agentNames.get(e.sender.id) ?? t('w.agent')) : role === 'bot' ? t('w.bot') : role === 'system' ? t('w.shop') : null;
  return html`<div class=${`msg ${mine ? 'mine' : 'theirs'} from-${role}`} data-testid="widget-message" data-sender=${role} data-seq=${e.seq}>
    ${mine ? null : html`<div class=${`avatar av-${role}`} aria-hidden="true">${role === 'bot' ? 'AI' : (name ?? '').slice(0, 1)}</div>`}
    <div class="msg-col">
      ${name ? html`<div class="msg-name">${name} <span class="muted">${fmtTime(e.at)}</span></div>` : null}
      <div class="bubble">
        ${ct(e) === 'bot' ? html`<${BotReply} e=${e} latest=${latestBot === e.seq} />` : html`<${Content} e=${e} />`}
      </div>
      ${mine ? html`<div class="msg-foot muted">${fmtTime(e.at)}${c.state === 'assigned' || c.agentReadSeq ? html` · ${c.agentReadSeq >= e.seq ? t('read.read') : t('read.unread')}` : null}</div>` : null}
    </div>
  </div>`;
}
const ct = (e) => e.content?.kind;

function Pending({ m }) {
  const c = chat;
  return html`<div class="msg mine pending" data-testid="widget-message" data-sender="buyer" data-pending="true">
    <div class="msg-col">
      <div class="bubble"><${Content} e=${{ content: m.content }} /></div>
      <div class="msg-foot muted">
        ${m.failed ? html`<span class="error-text" role="alert">${t('w.send_failed')}: ${m.failed}</span>
          <button class="link-btn" onClick=${() => c.retry(m)}>${t('w.retry')}</button>
          <button class="link-btn" onClick=${() => c.drop(m)}>${t('w.drop')}</button>`
        : html`<span class="spinner" aria-hidden="true"></span> ${t('w.sending')}`}
      </div>
    </div>
  </div>`;
}

function LeaveForm({ onDone, onHide }) {
  const c = useChat();
  const [name, setName] = useState('');
  const [contact, setContact] = useState('');
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name, contact, text };
      if (c.conversationId) body.session_id = c.conversationId;
      const r = await fetch(`/api/v1/widget/${encodeURIComponent(shop)}/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const j = await r.json().catch(() => ({}));
      if (!r.ok) {
        setError(r.status === 429 ? t('err.too_many') : (j.message || t('err.generic')));
      } else {
        onDone(j.text || t('w.leave_done'));
      }
    } catch {
      setError(t('err.network'));
    }
    setBusy(false);
  };
  return html`<form class="leave-form" data-testid="widget-leave-form" onSubmit=${submit}>
    <div class="row"><span class="leave-title">${t('w.leave_title')}</span><span class="spacer"></span>
      <button type="button" class="link-btn" data-testid="widget-leave-hide" onClick=${onHide}>${t('w.leave_hide')}</button></div>
    <p class="muted small">${t('w.leave_hint')}</p>
    <input name="name" placeholder=${t('w.leave_name')} value=${name} onInput=${(e) => setName(e.target.value)} maxlength="32" />
    <input name="contact" required placeholder=${t('w.leave_contact')} value=${contact} onInput=${(e) => setContact(e.target.value)} maxlength="64" />
    <textarea name="text" required rows="3" placeholder=${t('w.leave_text')} value=${text} onInput=${(e) => setText(e.target.value)} maxlength="1000"></textarea>
    ${error ? html`<div class="error-text" role="alert">${error}</div>` : null}
    <div class="row end">
      <button type="submit" class="btn primary" disabled=${busy}>${t('w.leave_submit')}</button>
    </div>
  </form>`;
}

/** 发送聊天记录到邮箱: the buyer's address, checked by the server, the transcript mailed. */
function TranscriptForm({ onDone, onHide }) {
  const c = useChat();
  const [email, setEmail] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { email };
      if (c.token) body.token = c.token; else body.visitor = c.visitor;
      const r = await fetch(`/api/v1/widget/${encodeURIComponent(shop)}/transcript`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const j = await r.json().catch(() => ({}));
      if (r.ok) onDone(j.text || t('w.transcript_done'));
      else if (r.status === 422) setError(t('w.transcript_bad_email'));
      else setError(j.message || (r.status === 429 ? t('err.too_many') : t('err.generic')));
    } catch {
      setError(t('err.network'));
    }
    setBusy(false);
  };
  return html`<form class="leave-form" data-testid="widget-transcript-form" onSubmit=${submit}>
    <div class="row"><span class="leave-title">${t('w.transcript_title')}</span><span class="spacer"></span>
      <button type="button" class="link-btn" onClick=${onHide}>${t('w.leave_hide')}</button></div>
    <input type="email" name="email" required data-testid="widget-transcript-email" placeholder=${t('w.transcript_email')}
      value=${email} onInput=${(e) => setEmail(e.target.value)} maxlength="254" />
    ${error ? html`<div class="error-text" role="alert" data-testid="widget-transcript-error">${error}</div>` : null}
    <div class="row end">
      <button type="submit" class="btn primary" data-testid="widget-transcript-send" disabled=${busy}>${t('w.transcript_send')}</button>
    </div>
  </form>`;
}

function QueueBar({ onLeave, leaveOpen }) {
  const c = useChat();
  if (c.state !== 'queued') return null;
  const pos = c.queue?.position;
  return html`<div class="queue-bar" data-testid="widget-queue" data-position=${pos ?? ''}>
    <span class="spinner" aria-hidden="true"></span>
    <span>${!pos ? t('w.n_queued') : c.queue?.leave_message ? t('w.queue_nobody', { n: pos }) : pos === 1 ? t('w.queue_next') : t('w.queue_pos', { n: pos, ahead: pos - 1 })}</span>
    ${leaveOpen ? null : html`<button class="link-btn" onClick=${onLeave}>${t('w.leave_instead')}</button>`}
  </div>`;
}

function Composer() {
  const c = useChat();
  const [text, setText] = useState('');
  const composing = useRef(false);
  const ref = useRef();
  const canHandoff = c.state === 'bot' || c.state === 'closed';
  const send = () => {
    const v = text.trim();
    if (!v) return;
    c.send({ kind: 'text', text: v });
    setText('');
    ref.current?.focus();
  };
  const onKey = (e) => {
    if (e.key !== 'Enter' || e.shiftKey) return;
    // Enter that confirms a pinyin candidate must never send.
    if (e.isComposing || e.keyCode === 229 || composing.current) return;
    e.preventDefault();
    send();
  };
  const sku = params.get('sku');
  const order = params.get('order');
  return html`<footer class="w-foot">
    ${sku || order ? html`<div class="share-bar">
      ${sku ? html`<button class="chip" onClick=${() => c.send({ kind: 'product', sku })}>${t('w.send_product', { sku })}</button>` : null}
      ${order ? html`<button class="chip" onClick=${() => c.send({ kind: 'order', order_no: order })}>${t('w.send_order', { no: order })}</button>` : null}
    </div>` : null}
    <div class="w-compose">
      ${canHandoff || c.state == null ? html`<button class="btn handoff" data-testid="widget-handoff" disabled=${!c.socket.open}
        onClick=${() => c.control({ type: 'handoff' })}>${t('w.handoff')}</button>` : null}
      <textarea ref=${ref} data-testid="widget-input" rows="1" value=${text} placeholder=${t('w.placeholder')}
        enterkeyhint="send" maxlength="2000" aria-label=${t('w.placeholder')}
        onInput=${(e) => { setText(e.target.value); c.typing(); }}
        onCompositionStart=${() => { composing.current = true; }}
        onCompositionEnd=${() => { composing.current = false; }}
        onKeyDown=${onKey}></textarea>
      <button class="btn primary" data-testid="widget-send" disabled=${!text.trim()} onClick=${send}>${t('w.send')}</button>
    </div>
  </footer>`;
}

function RatingCard() {
  const c = useChat();
  const [score, setScore] = useState(5);
  const [comment, setComment] = useState('');
  if (c.survey?.done) return html`<div class="notice ok" data-testid="rating-thanks"><span>${t('rate.thanks')}</span></div>`;
  return html`<form class="rating" data-testid="rating" onSubmit=${(e) => { e.preventDefault(); c.rate(score, comment); }}>
    <strong>${t('rate.title')}</strong>
    <div class="stars" role="radiogroup" aria-label=${t('rate.title')}>
      ${[5, 4, 3, 2, 1].map((n) => html`<button type="button" role="radio" aria-checked=${score === n} class=${score === n ? 'on' : ''}
        data-testid=${`rate-${n}`} onClick=${() => setScore(n)}>${t(`rate.${n}`)}</button>`)}
    </div>
    <input maxLength="200" placeholder=${t('rate.comment')} value=${comment} onInput=${(e) => setComment(e.target.value)} data-testid="rate-comment" />
    <div class="row" style="margin-top:8px;display:flex;gap:8px">
      <button class="btn primary" type="submit" disabled=${c.survey?.sending} data-testid="rate-submit">${t('rate.submit')}</button>
      <button class="btn" type="button" onClick=${() => c.skipSurvey()}>${t('rate.later')}</button>
    </div>
  </form>`;
}

function Widget() {
  useLang();
  const c = useChat();
  const [hello, setHello] = useState(null);
  const [leaveOpen, setLeaveOpen] = useState(false);
  const [leftText, setLeftText] = useState(null);
  const [leaveHidden, setLeaveHidden] = useState(false);
  const [transcriptOpen, setTranscriptOpen] = useState(false);
  const [transcriptText, setTranscriptText] = useState(null);
  const scroll = useStickToBottom(c.conversationId);

  useEffect(() => {
    fetch(`/api/v1/widget/${encodeURIComponent(shop)}/hello`).then((r) => (r.ok ? r.json() : null)).then((h) => {
      if (h) { setHello(h); document.title = h.shop_name; }
    }).catch(() => {});
    c.socket.start();
    const seen = () => { if (document.visibilityState === 'visible') c.markRead(); };
    document.addEventListener('visibilitychange', seen);
    return () => document.removeEventListener('visibilitychange', seen);
  }, []);

  const events = [...c.events.values()].sort((a, b) => a.seq - b.seq);
  const pending = c.outbox.filter((m) => !(m.acked && c.events.has(m.acked)));
  let latestBot = 0;
  for (const e of events) if (e.kind === 'message' && e.content?.kind === 'bot') latestBot = e.seq;
  const typing = c.agentTypingUntil > Date.now();

  const showLeave = !leftText && c.state === 'queued' && (leaveOpen || (!leaveHidden && (c.offerLeave || c.queue?.leave_message)));

  return html`<main class="widget" data-testid="widget">
    <${Header} hello=${hello} />
    ${c.socket.status === 'reconnecting' ? html`<div class="banner warn">${t('w.reconnecting')}
      <button class="link-btn" onClick=${() => c.socket.now()}>${t('w.reconnect_now')}</button></div>` : null}
    <section class="w-body" ref=${scroll.ref} onScroll=${scroll.onScroll} aria-live="polite"><div class="w-inner">
      ${events.length === 0 && hello ? html`<div class="msg theirs from-system"><div class="avatar av-system">客</div>
        <div class="msg-col"><div class="bubble">${hello.text}</div></div></div>` : null}
      ${events.map((e) => html`<${Message} key=${e.seq} e=${e} latestBot=${latestBot} />`)}
      ${pending.map((m) => html`<${Pending} key=${m.client_id} m=${m} />`)}
      ${typing ? html`<div class="typing" data-testid="widget-typing">${t('w.typing')}<span class="dots"><i></i><i></i><i></i></span></div>` : null}
      ${leftText ? html`<div class="notice ok"><span>${leftText}</span></div>` : null}
      ${transcriptText ? html`<div class="notice ok" data-testid="widget-transcript-done"><span>${transcriptText}</span></div>` : null}
      ${c.state === 'closed' && c.survey ? html`<${RatingCard} />` : null}
    </div></section>
    <${QueueBar} onLeave=${() => setLeaveOpen(true)} leaveOpen=${showLeave} />
    ${showLeave ? html`<${LeaveForm} onDone=${(text) => { setLeftText(text); setLeaveOpen(false); }}
      onHide=${() => { setLeaveOpen(false); setLeaveHidden(true); }} />` : null}
    ${transcriptOpen ? html`<${TranscriptForm} onDone=${(text) => { setTranscriptText(text); setTranscriptOpen(false); }}
      onHide=${() => setTranscriptOpen(false)} />` : null}
    ${c.notice ? html`<div class="toast" role="alert">${c.notice}</div>` : null}
    ${c.conversationId && hello?.transcripts && !transcriptOpen ? html`<div class="row end w-tools"><button type="button" class="link-btn small" data-testid="widget-transcript"
      onClick=${() => { setTranscriptOpen(true); setTranscriptText(null); }}>${t('w.transcript')}</button></div>` : null}
    <${Composer} />
  </main>`;
}

document.body.classList.add('widget-page');
render(html`<${Widget} />`, document.getElementById('root'));

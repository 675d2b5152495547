// Chat records (聊天记录, SPEC §5.5): full-text search by words, buyer, agent and time over
// GET /records/search (the database's own index, Chinese words by jieba); the hits come marked
// as plain-text segments, never HTML. A hit opens its whole conversation beside the list.
// Managers and supervisors search the shop; an agent searches the chats they had.
import { html, useState, useEffect, useRef } from '/ui/vendor/preact-htm.module.js';
import { t } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { fmtTime, preview } from '/ui/lib.js';
import { watchesTeam } from '/ui/app/stats.js';

/** A local date (yyyy-mm-dd) as the instant its day starts (or ends) where the browser is. */
function dayStart(date, next = false) {
  if (!date) return null;
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d + (next ? 1 : 0)).toISOString();
}

const senderLabel = (role) => t(`records.sender.${role}`);

/** The bot's reply as read back: its text, and the suggestions it offered, numbered. */
function botText(reply) {
  const offered = (reply?.suggestions ?? []).map((s) => `${s.n}. ${s.question}`);
  return [reply?.text ?? '', ...offered].filter(Boolean).join('\n');
}

function Marked({ segments }) {
  return html`<span class="pre">${segments.map((s) => (s.hit ? html`<mark>${s.text}</mark>` : s.text))}</span>`;
}

function Transcript({ hit, onClose }) {
  const [events, setEvents] = useState(null);
  const [error, setError] = useState(null);
  const target = useRef(null);
  useEffect(() => {
    setEvents(null);
    api('GET', `/chat/conversations/${hit.conversation_id}/events?limit=1000`)
      .then(setEvents).catch((e) => setError(errorMessage(e)));
  }, [hit.conversation_id]);
  useEffect(() => { target.current?.scrollIntoView({ block: 'center' }); }, [events]);
  const messages = (events ?? []).filter((e) => e.kind === 'message');
  return html`<aside class="transcript" data-testid="records-transcript" aria-label=${t('records.transcript')}>
    <div class="modal-head"><b>${t('records.transcript_of', { nick: hit.buyer_nick })}</b>
      <button class="btn ghost" onClick=${onClose} aria-label=${t('common.close')}>✕</button></div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${!events && !error ? html`<p>${t('common.loading')}</p>` : null}
    <ol class="transcript-list">
      ${messages.map((e) => html`<li ref=${e.seq === hit.seq ? target : null} class=${`tr-${e.sender.role} ${e.seq === hit.seq ? 'found' : ''}`}
        data-testid="transcript-message" data-seq=${e.seq}>
        <span class="muted small">${senderLabel(e.sender.role)} · ${fmtTime(e.at)}</span>
        <div class="pre">${e.content?.kind === 'text' ? e.content.text : e.content?.kind === 'bot' ? botText(e.content.reply) : preview(e.content)}</div>
      </li>`)}
    </ol>
  </aside>`;
}

export function RecordsView({ me }) {
  const [form, setForm] = useState({ q: '', buyer: '', agent: '', from: '', to: '' });
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState(null);
  const [staff, setStaff] = useState([]);
  const team = watchesTeam(me);
  useEffect(() => { if (team) api('GET', '/chat/agents').then(setStaff).catch(() => {}); }, [team]);

  const query = (cursor) => {
    const p = new URLSearchParams();
    if (form.q.trim()) p.set('q', form.q.trim());
    if (form.buyer.trim()) p.set('buyer', form.buyer.trim());
    if (form.agent) p.set('agent', form.agent);
    if (form.from) p.set('from', dayStart(form.from));
    if (form.to) p.set('to', dayStart(form.to, true));
    if (cursor) p.set('cursor', cursor);
    return `/records/search?${p}`;
  };
  const search = async (e, cursor = null) => {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const found = await api('GET', query(cursor));
      setPage((prev) => (cursor && prev ? { items: [...prev.items, ...found.items], next_cursor: found.next_cursor } : found));
    } catch (err) {
      setError(errorMessage(err));
      if (!cursor) setPage(null);
    }
    setBusy(false);
  };
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });

  return html`<section class="records-page" data-testid="records">
    <form class="page-head" onSubmit=${search}>
      <h2>${t('records.title')}</h2>
      <input class="records-q" value=${form.q} onInput=${set('q')} placeholder=${t('records.q_hint')} maxLength="100"
        aria-label=${t('records.q')} data-testid="records-q" />
      <input value=${form.buyer} onInput=${set('buyer')} placeholder=${t('records.buyer')} aria-label=${t('records.buyer')}
        data-testid="records-buyer" />
      ${team ? html`<select value=${form.agent} onChange=${set('agent')} aria-label=${t('stats.agent')} data-testid="records-agent">
        <option value="">${t('stats.whole_team')}</option>
        ${staff.map((s) => html`<option value=${s.account_id}>${s.display_name}</option>`)}
      </select>` : null}
      <label>${t('stats.from')} <input type="date" value=${form.from} onChange=${set('from')} data-testid="records-from" /></label>
      <label>${t('stats.to')} <input type="date" value=${form.to} onChange=${set('to')} data-testid="records-to" /></label>
      <button class="btn primary" type="submit" disabled=${busy} data-testid="records-search">${t('records.search')}</button>
    </form>
    ${error ? html`<p class="error" role="alert" data-testid="records-error">${error}</p>` : null}
    <div class=${`records-body ${open ? 'with-transcript' : ''}`}>
      <div class="records-results">
        ${page && !page.items.length ? html`<p class="empty" data-testid="records-none">${t('records.none')}</p>` : null}
        ${page?.items.length ? html`<ol class="hits">${page.items.map((h) => html`<li>
          <button class=${`hit ${open && open.conversation_id === h.conversation_id && open.seq === h.seq ? 'on' : ''}`}
            data-testid="records-hit" onClick=${() => setOpen(h)}>
            <span class="hit-head"><b>${h.buyer_nick}</b>
              <span class="muted small">${senderLabel(h.sender.role)}${h.agent_name ? ` · ${t('records.agent_of', { name: h.agent_name })}` : ''} · ${fmtTime(h.at)}</span></span>
            <${Marked} segments=${h.segments} />
          </button></li>`)}</ol>` : null}
        ${page?.next_cursor ? html`<button class="btn" disabled=${busy} onClick=${() => search(null, page.next_cursor)}
          data-testid="records-more">${t('records.more')}</button>` : null}
        ${!page && !error ? html`<p class="hint">${t('records.intro')}</p>` : null}
      </div>
      ${open ? html`<${Transcript} hit=${open} onClose=${() => setOpen(null)} />` : null}
    </div>
  </section>`;
}

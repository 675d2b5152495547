// Webhook 推送 (SPEC §7.2): the shop's endpoints — URL, the events each hears, on or off —
// the secret shown once when made or rotated, and an endpoint's delivery log with each try's
// answer and a replay for those given up on.
import { html, useState, useEffect } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { Field, FormError, Pager, fmtDateTime, refusal } from '/ui/app/admin-ui.js';

export const EVENTS = ['conversation.created', 'message.created', 'order.updated', 'aftersales.updated'];
const PAGE = 20;

function HookForm({ hook, onSaved, onCancel }) {
  const [url, setUrl] = useState(hook?.url ?? '');
  const [events, setEvents] = useState(hook?.events ?? ['conversation.created', 'order.updated']);
  const [enabled, setEnabled] = useState(hook?.enabled ?? true);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const toggle = (e) => setEvents((cur) => (cur.includes(e) ? cur.filter((x) => x !== e) : [...cur, e]));
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { url, events, enabled };
      const r = hook ? await api('PUT', `/webhooks/${hook.id}`, body) : await api('POST', '/webhooks', body);
      onSaved(r);
    } catch (e) {
      setError(refusal(e));
    }
    setBusy(false);
  };
  return html`<form class="hook-box hook-form" data-testid="hook-form" onSubmit=${submit}>
    <${Field} label=${t('hook.url')} name="url" error=${error} hint=${t('hook.url_hint')}>
      <input data-testid="hook-url" value=${url} placeholder="https://example.com/kefu/webhook" onInput=${(e) => setUrl(e.target.value)} />
    <//>
    <${Field} label=${t('hook.events')} name="events" error=${error}>
      <div class="row wrap">${EVENTS.map((e) => html`<label class="check"><input type="checkbox" data-testid=${`hook-event-${e}`}
        checked=${events.includes(e)} onChange=${() => toggle(e)} /> ${t(`hook.ev.${e}`)} <code class="small">${e}</code></label>`)}</div>
    <//>
    <label class="check"><input type="checkbox" data-testid="hook-enabled" checked=${enabled} onChange=${(e) => setEnabled(e.target.checked)} /> ${t('hook.enabled')}</label>
    <${FormError} error=${error} fields=${['url', 'events']} testid="hook-error" />
    <div class="row end">
      <button type="button" class="btn small" onClick=${onCancel}>${t('common.cancel')}</button>
      <button type="submit" class="btn small primary" data-testid="hook-save" disabled=${busy}>${t('hook.save')}</button>
    </div>
  </form>`;
}

function Deliveries({ hook }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const load = () => api('GET', `/webhooks/${hook.id}/deliveries?limit=${PAGE}&offset=${offset}`)
    .then((r) => { setPage(r); setError(null); }).catch((e) => setError(errorMessage(e)));
  useEffect(() => { load(); }, [hook.id, offset]);
  // Retries happen in the background: look again every 10 s.
  useEffect(() => { const timer = setInterval(load, 10000); return () => clearInterval(timer); }, [hook.id, offset]);
  const replay = async (d) => {
    try { await api('POST', `/webhooks/deliveries/${d.id}/replay`); setError(null); }
    catch (e) { setError(errorMessage(e)); }
    setTimeout(load, 300);
  };
  return html`<section class="hook-box hook-log" data-testid="hook-log">
    <div class="row"><b>${t('hook.log')}</b> <span class="muted small">${hook.url}</span><span class="spacer"></span>
      <button class="btn small" data-testid="hook-log-reload" onClick=${load}>${t('adm.reload')}</button></div>
    ${error ? html`<div class="error-text small" role="alert" data-testid="hook-log-error">${error}</div>` : null}
    ${page?.items.length ? html`<table class="table">
      <thead><tr><th>${t('hook.at')}</th><th>${t('hook.event')}</th><th>${t('hook.status')}</th><th>${t('hook.tries')}</th>
        <th>${t('hook.answer')}</th><th>${t('hook.next')}</th><th></th></tr></thead>
      <tbody>${page.items.map((d) => html`<tr data-testid="hook-delivery" data-status=${d.status} data-id=${d.id}>
        <td class="nowrap">${fmtDateTime(d.created_at)}</td>
        <td><code class="small">${d.event_type}</code></td>
        <td><span class=${`tag ${d.status === 'delivered' ? 'ok' : d.status === 'failed' ? 'wait late' : 'wait'}`}>${t(`hook.st.${d.status}`)}</span></td>
        <td><button type="button" class="btn ghost small" data-testid="hook-tries" onClick=${() => setOpen(open === d.id ? null : d.id)}>${d.attempts}</button></td>
        <td class="small">${d.last_status ?? ''} ${d.last_error ? html`<span class="muted">${d.last_error}</span>` : null}
          ${d.last_duration_ms != null ? html` <span class="muted">${d.last_duration_ms} ms</span>` : null}
          ${open === d.id ? html`<ol class="small" data-testid="hook-try-list">${d.tries.map((x) => html`<li>${fmtDateTime(x.at)} · ${x.status_code ?? '—'} · ${x.duration_ms} ms${x.error ? ` · ${x.error}` : ''}</li>`)}</ol>` : null}</td>
        <td class="nowrap small">${d.next_attempt_at ? fmtDateTime(d.next_attempt_at) : ''}</td>
        <td>${d.status === 'failed' ? html`<button class="btn small" data-testid="hook-replay" onClick=${() => replay(d)}>${t('hook.replay')}</button>` : null}</td>
      </tr>`)}</tbody></table>` : null}
    ${page && page.items.length === 0 ? html`<p class="muted small" data-testid="hook-log-empty">${t('hook.log_none')}</p>` : null}
    ${page ? html`<${Pager} offset=${offset} limit=${PAGE} total=${page.total} onPage=${setOffset} testid="hook-pager" />` : null}
  </section>`;
}

export function WebhooksAdmin() {
  useLang();
  const [hooks, setHooks] = useState(null);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null); // 'new' | hook
  const [secret, setSecret] = useState(null);
  const [logOf, setLogOf] = useState(null);
  const load = () => api('GET', '/webhooks').then((r) => { setHooks(r); setError(null); }).catch((e) => setError(errorMessage(e)));
  useEffect(() => { load(); }, []);
  const saved = (r) => {
    if (r?.secret) setSecret({ url: r.webhook.url, secret: r.secret });
    setEditing(null);
    load();
  };
  const remove = async (h) => {
    if (!confirm(t('hook.delete_confirm', { url: h.url }))) return;
    try { await api('DELETE', `/webhooks/${h.id}`); if (logOf?.id === h.id) setLogOf(null); load(); }
    catch (e) { setError(errorMessage(e)); }
  };
  const rotate = async (h) => {
    if (!confirm(t('hook.rotate_confirm'))) return;
    try { saved(await api('POST', `/webhooks/${h.id}/secret`)); } catch (e) { setError(errorMessage(e)); }
  };
  return html`<section class="admin-page webhooks" data-testid="webhooks-admin">
    <div class="row admin-toolbar">
      <b>${t('hook.title')}</b><span class="spacer"></span>
      <button class="btn small primary" data-testid="hook-new" onClick=${() => setEditing('new')}>${t('hook.new')}</button>
    </div>
    <p class="muted small">${t('hook.hint')}</p>
    ${error ? html`<div class="error-text small" role="alert" data-testid="hooks-error">${error}</div>` : null}
    ${secret ? html`<div class="hook-box ok-box" role="status" data-testid="hook-secret-box">
      <b>${t('hook.secret_once')}</b> <span class="muted small">${secret.url}</span>
      <div><code data-testid="hook-secret">${secret.secret}</code></div>
      <p class="muted small">${t('hook.verify_hint')}</p>
      <button class="btn small" onClick=${() => setSecret(null)}>${t('hook.secret_saved')}</button>
    </div>` : null}
    ${editing ? html`<${HookForm} key=${editing === 'new' ? 'new' : editing.id} hook=${editing === 'new' ? null : editing}
      onSaved=${saved} onCancel=${() => setEditing(null)} />` : null}
    ${hooks == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
    ${hooks?.length ? html`<table class="table">
      <thead><tr><th>${t('hook.url')}</th><th>${t('hook.events')}</th><th>${t('hook.state')}</th><th>${t('hook.secret')}</th><th></th></tr></thead>
      <tbody>${hooks.map((h) => html`<tr data-testid="hook-row" data-id=${h.id}>
        <td class="wrap-anywhere">${h.url}</td>
        <td class="small">${h.events.map((e) => t(`hook.ev.${e}`)).join('、')}</td>
        <td>${h.enabled ? html`<span class="tag ok">${t('hook.on')}</span>` : html`<span class="tag">${t('hook.off')}</span>`}</td>
        <td><code class="small">${h.secret_hint}</code></td>
        <td class="nowrap">
          <button class="btn small" data-testid="hook-show-log" onClick=${() => setLogOf(h)}>${t('hook.log')}</button>
          <button class="btn small" data-testid="hook-edit" onClick=${() => setEditing(h)}>${t('adm.edit')}</button>
          <button class="btn small" data-testid="hook-rotate" onClick=${() => rotate(h)}>${t('hook.rotate')}</button>
          <button class="btn small danger" data-testid="hook-delete" onClick=${() => remove(h)}>${t('adm.delete')}</button>
        </td>
      </tr>`)}</tbody></table>` : null}
    ${hooks && hooks.length === 0 ? html`<p class="muted small" data-testid="hooks-empty">${t('hook.none')}</p>` : null}
    ${logOf ? html`<${Deliveries} key=${logOf.id} hook=${logOf} />` : null}
  </section>`;
}

// 操作日志 (SPEC §3.4): who saw a buyer's phone and address whole (查看) or exported buyers
// (导出), when and why — newest first, by kind and time, a page at a time.
import { html, useState, useEffect, useRef } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { Pager, fmtDateTime } from '/ui/app/admin-ui.js';

const PAGE = 50;

/** A `date` input's day as the instant it starts (or, for `end`, the next day starts) here. */
function dayStart(v, end = false) {
  if (!v) return null;
  const d = new Date(`${v}T00:00:00`);
  if (Number.isNaN(d.getTime())) return null;
  if (end) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

export function AuditAdmin() {
  useLang();
  const [kind, setKind] = useState('');
  const [from, setFrom] = useState('');
  const [until, setUntil] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const seq = useRef(0);
  const load = () => {
    const p = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (kind) p.set('kind', kind);
    if (dayStart(from)) p.set('from', dayStart(from));
    if (dayStart(until, true)) p.set('until', dayStart(until, true));
    const n = ++seq.current;
    api('GET', `/audit?${p}`).then((r) => { if (n === seq.current) { setPage(r); setError(null); } })
      .catch((e) => { if (n === seq.current) setError(errorMessage(e)); });
  };
  useEffect(() => { setOffset(0); }, [kind, from, until]);
  useEffect(() => { load(); }, [kind, from, until, offset]);
  // Staff keep working meanwhile: read the first page again every 30 s.
  useEffect(() => {
    const timer = setInterval(() => { if (offset === 0) load(); }, 30000);
    return () => clearInterval(timer);
  }, [kind, from, until, offset]);
  const seg = (k, label) => html`<button type="button" class=${kind === k ? 'on' : ''} aria-pressed=${kind === k}
    data-testid=${`audit-kind-${k || 'all'}`} onClick=${() => setKind(k)}>${label}</button>`;
  return html`<section class="admin-page audit" data-testid="audit-admin">
    <div class="row admin-toolbar wrap">
      <b>${t('aud.title')}</b>
      <div class="seg" role="group" aria-label=${t('aud.kind')}>${seg('', t('aud.all'))}${seg('reveal', t('aud.kind.reveal'))}${seg('export', t('aud.kind.export'))}</div>
      <label class="row small">${t('aud.from')} <input type="date" class="auto" data-testid="audit-from" value=${from} onInput=${(e) => setFrom(e.target.value)} /></label>
      <label class="row small">${t('aud.until')} <input type="date" class="auto" data-testid="audit-until" value=${until} onInput=${(e) => setUntil(e.target.value)} /></label>
      <span class="spacer"></span>
      <button class="btn small" data-testid="audit-reload" onClick=${load}>${t('adm.reload')}</button>
    </div>
    <p class="muted small">${t('aud.hint')}</p>
    ${error ? html`<div class="error-text small" role="alert" data-testid="audit-error">${error}</div>` : null}
    ${page == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
    ${page?.items.length ? html`<table class="table audit-table">
      <thead><tr><th>${t('aud.at')}</th><th>${t('aud.who')}</th><th>${t('aud.kind')}</th><th>${t('aud.detail')}</th></tr></thead>
      <tbody>${page.items.map((a) => html`<tr data-testid="audit-row" data-kind=${a.kind} data-id=${a.id}>
        <td class="nowrap"><time datetime=${a.at}>${fmtDateTime(a.at)}</time></td>
        <td>${a.account_name}</td>
        <td><span class=${`tag ${a.kind === 'export' ? 'group' : 'wait'}`}>${t(`aud.kind.${a.kind}`)}</span></td>
        <td class="pre">${a.detail}</td>
      </tr>`)}</tbody></table>` : null}
    ${page && page.items.length === 0 ? html`<p class="muted small">${t('aud.none')}</p>` : null}
    ${page ? html`<${Pager} offset=${offset} limit=${PAGE} total=${page.total} onPage=${setOffset} testid="audit-pager" />` : null}
  </section>`;
}

// 客户回访 (SPEC §4.6): the follow-up visits kefu scheduled when an after-sales case finished or a
// bad review or complaint closed — due ones first, each with its buyer, case and due time;
// the agent records how it went (once). Lists re-read every 30 s.
import { html, useState, useEffect, useRef } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { fmtTime } from '/ui/lib.js';

const OUTCOMES = ['satisfied', 'unsatisfied', 'unreachable', 'declined'];

function VisitRow({ v, onDone }) {
  const [outcome, setOutcome] = useState('satisfied');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const record = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDone(await api('POST', `/visits/${v.id}/outcome`, { outcome, note }));
    } catch (e) {
      setError(errorMessage(e));
    }
    setBusy(false);
  };
  const done = !!v.outcome;
  return html`<li class=${`box msg-row ${done ? 'done' : ''}`} data-testid="visit-row" data-id=${v.id} data-source=${v.source}
    data-overdue=${v.overdue ? 'true' : 'false'}>
    <div class="msg-head">
      <span class="tag">${t(`visit.source.${v.source}`)}</span>
      <b class="msg-name">${v.buyer_nick}</b>
      <span class="spacer"></span>
      <span class="muted small">${t('visit.due_at', { time: fmtTime(v.due_at) })}</span>
      ${v.overdue ? html`<span class="tag wait late" data-testid="visit-overdue">${t('visit.overdue')}</span>`
    : v.due ? html`<span class="tag wait">${t('visit.due')}</span>` : null}
      ${v.assignee_name ? html`<span class="muted small">${v.assignee_name}</span>` : null}
    </div>
    ${done ? html`<div class="muted small" data-testid="visit-outcome">${t(`visit.outcome.${v.outcome}`)} · ${fmtTime(v.done_at)}${v.note ? ` · ${v.note}` : ''}</div>`
    : html`<form class="msg-action" onSubmit=${record}>
      <select class="auto-w" data-testid="visit-outcome-select" value=${outcome} aria-label=${t('visit.outcome')}
        onChange=${(e) => setOutcome(e.target.value)}>${OUTCOMES.map((o) => html`<option value=${o}>${t(`visit.outcome.${o}`)}</option>`)}</select>
      <textarea data-testid="visit-note" rows="2" maxLength="500" value=${note} aria-label=${t('visit.note')}
        placeholder=${t('visit.note_hint')} onInput=${(e) => setNote(e.target.value)}></textarea>
      <button type="submit" class="btn small primary" data-testid="visit-record" disabled=${busy}>${t('visit.record')}</button>
    </form>`}
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
  </li>`;
}

export function VisitsView({ onChanged }) {
  useLang();
  const [view, setView] = useState('due');
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const want = useRef(view);
  const load = async (v) => {
    try {
      const r = await api('GET', `/visits?view=${v}&limit=200`);
      if (want.current !== v) return;
      setList(r);
      setError(null);
    } catch (e) {
      if (want.current === v) setError(errorMessage(e));
    }
  };
  useEffect(() => {
    want.current = view;
    setList(null);
    load(view);
    const timer = setInterval(() => load(view), 30000);
    return () => clearInterval(timer);
  }, [view]);
  const onDone = () => { onChanged?.(); load(view); };
  const tab = (v) => html`<button class=${view === v ? 'on' : ''} aria-pressed=${view === v}
    data-testid=${`visits-filter-${v}`} onClick=${() => setView(v)}>${t(`visit.filter.${v}`)}</button>`;
  return html`<section class="msg-view" data-testid="visits-view" data-view=${view}>
    <div class="row msg-toolbar">
      <b>${t('visit.title')}</b>
      <div class="seg" role="group" aria-label=${t('visit.title')}>${tab('due')}${tab('open')}${tab('done')}</div>
      <span class="muted small">${list ? t('msg.total', { n: list.total }) : ''}</span>
    </div>
    <p class="muted small">${t('visit.hint')}</p>
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
    ${list == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
    <ul class="msg-list">${(list?.items ?? []).map((v) => html`<${VisitRow} key=${v.id} v=${v} onDone=${onDone} />`)}</ul>
    ${list && list.items.length === 0 ? html`<p class="muted small">${t(`visit.none.${view}`)}</p>` : null}
  </section>`;
}

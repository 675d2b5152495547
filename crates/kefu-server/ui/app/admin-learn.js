// 未知问题 (SPEC §1.5, the learning loop): what buyers asked that the bot could not answer,
// grouped by meaning, each group with the server's proposal — add the questions as similar
// phrasings of an entry, or write a new entry — taken in one click; and each entry's hits and
// "was this helpful" feedback.
import { html, useState, useEffect, useMemo } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { refusal, FieldError, FormError, fmtDateTime, useKept } from '/ui/app/admin-ui.js';

/** The group's questions once each, with how often each was asked. */
function distinct(questions) {
  const m = new Map();
  for (const q of questions) m.set(q.question, (m.get(q.question) ?? 0) + 1);
  return [...m];
}

function EntryPicker({ entries, cats, value, onChange, testid }) {
  const byCat = useMemo(() => cats.map((c) => [c, entries.filter((e) => e.category_id === c.id)]), [entries, cats]);
  return html`<select data-testid=${testid} value=${value} onChange=${(e) => onChange(e.target.value)} aria-label=${t('learn.target')}>
    ${byCat.map(([c, list]) => (list.length ? html`<optgroup label=${c.name}>
      ${list.map((e) => html`<option value=${e.id}>${e.question}</option>`)}</optgroup>` : null))}
  </select>`;
}

function SuggestionGroup({ g, entries, cats, onDone }) {
  const p = g.proposal;
  const [mode, setMode] = useState(p.kind === 'add_similar' ? 'similar' : 'new');
  const [target, setTarget] = useState(p.entry_id ?? entries[0]?.id ?? '');
  const [category, setCategory] = useState(cats[0]?.id ?? '');
  const kept = `learn.${g.questions[0]?.id}`;
  const [question, setQuestion] = useKept(`${kept}.question`, p.question ?? g.questions[0]?.question ?? '');
  const [answer, setAnswer] = useKept(`${kept}.answer`, '');
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => { if (!category && cats[0]) setCategory(cats[0].id); }, [cats]);
  const ids = g.questions.map((q) => q.id);
  const accept = async (action) => {
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/bot/suggestions/accept', { questions: ids, action });
      onDone(g, action);
    } catch (e) {
      setError(refusal(e));
      setBusy(false);
    }
  };
  const submit = (ev) => {
    ev.preventDefault();
    if (mode === 'similar') accept({ kind: 'add_similar', entry_id: target });
    else accept({ kind: 'new_entry', category_id: category, question: question.trim() || null, answer });
  };
  const texts = distinct(g.questions);
  const shown = open ? texts : texts.slice(0, 4);
  const latest = g.questions.reduce((a, q) => (q.asked_at > a ? q.asked_at : a), '');
  return html`<li class="box sugg" data-testid="sugg-group" data-kind=${p.kind} data-count=${g.count}
    data-question=${g.questions[0]?.question ?? ''}>
    <div class="sugg-head">
      <span class="tag wait" data-testid="sugg-count">${t('learn.asked', { n: g.count })}</span>
      ${g.confirmed_by_buyers ? html`<span class="tag group">${t('learn.confirmed', { n: g.confirmed_by_buyers })}</span>` : null}
      <b class="sugg-q">${g.questions[0]?.question}</b>
      <span class="spacer"></span>
      <time class="muted small" datetime=${latest}>${fmtDateTime(latest)}</time>
    </div>
    <ul class="sugg-questions">${shown.map(([q, n]) => html`<li><span class="q">${q}</span>${n > 1 ? html` <span class="muted small">×${n}</span>` : null}</li>`)}
      ${texts.length > 4 ? html`<li><button class="link-btn small" onClick=${() => setOpen(!open)}>
        ${open ? t('learn.fewer') : t('learn.more', { n: texts.length - 4 })}</button></li>` : null}</ul>
    <div class="sugg-proposal small" data-testid="sugg-proposal">
      <span class="muted">${t('learn.proposal')}</span>
      ${p.kind === 'add_similar' ? html` ${t('learn.add_similar_of')} <b>「${p.entry_question}」</b>
        <span class="muted">${t('learn.confidence', { c: (p.confidence ?? 0).toFixed(2) })}</span>` : html` <b>${t('learn.new_entry')}</b>`}
    </div>
    <form class="sugg-form" onSubmit=${submit}>
      ${mode === 'similar' ? html`<div class="row">
        <span class="muted small nowrap">${t('learn.add_to')}</span>
        <${EntryPicker} entries=${entries} cats=${cats} value=${target} onChange=${setTarget} testid="sugg-target" />
        <button type="submit" class="btn small primary" data-testid="sugg-accept" disabled=${busy || !target}>${t('learn.do_add_similar')}</button>
      </div>` : html`<div class="sugg-new">
        <div class="row">
          <select data-testid="sugg-category" value=${category} aria-label=${t('kba.category')} aria-invalid=${error?.field === 'category_id'}
            onChange=${(e) => setCategory(e.target.value)}>${cats.map((c) => html`<option value=${c.id}>${c.name}</option>`)}</select>
          <input data-testid="sugg-question" value=${question} aria-label=${t('kba.question')} placeholder=${t('kba.question')}
            onInput=${(e) => setQuestion(e.target.value)} />
        </div>
        <${FieldError} error=${error} name="question" />
        <textarea data-testid="sugg-answer" rows="3" value=${answer} placeholder=${t('learn.answer_hint')} aria-label=${t('kba.answer')}
          aria-invalid=${error?.field === 'answer'} onInput=${(e) => setAnswer(e.target.value)}></textarea>
        <${FieldError} error=${error} name="answer" />
        <div class="row end"><button type="submit" class="btn small primary" data-testid="sugg-accept" disabled=${busy}>${t('learn.do_new_entry')}</button></div>
      </div>`}
      <${FormError} error=${error} fields=${mode === 'new' ? ['question', 'answer'] : []} testid="sugg-error" />
      <div class="row sugg-alt">
        <button type="button" class="link-btn small" data-testid="sugg-switch" onClick=${() => { setMode(mode === 'similar' ? 'new' : 'similar'); setError(null); }}>
          ${mode === 'similar' ? t('learn.switch_new') : t('learn.switch_similar')}</button>
        <button type="button" class="link-btn small muted" data-testid="sugg-dismiss" disabled=${busy}
          onClick=${() => accept({ kind: 'dismiss' })}>${t('learn.dismiss')}</button>
      </div>
    </form>
  </li>`;
}

function EntryStats({ entries, cats }) {
  const [order, setOrder] = useState('hits');
  const catName = new Map(cats.map((c) => [c.id, c.name]));
  const rate = (e) => {
    const n = (e.stats?.helpful ?? 0) + (e.stats?.unhelpful ?? 0);
    return n ? (e.stats.helpful / n) : null;
  };
  const list = [...entries].sort(order === 'hits'
    ? (a, b) => (b.stats?.hits ?? 0) - (a.stats?.hits ?? 0)
    : (a, b) => (b.stats?.unhelpful ?? 0) - (a.stats?.unhelpful ?? 0) || (b.stats?.hits ?? 0) - (a.stats?.hits ?? 0));
  return html`<section class="learn-stats" data-testid="kb-stats">
    <div class="row"><b>${t('learn.stats')}</b>
      <div class="seg" role="group">
        <button class=${order === 'hits' ? 'on' : ''} onClick=${() => setOrder('hits')}>${t('kba.sort.hits')}</button>
        <button class=${order === 'unhelpful' ? 'on' : ''} onClick=${() => setOrder('unhelpful')}>${t('kba.sort.unhelpful')}</button>
      </div></div>
    <table class="table"><thead><tr><th>${t('kba.question')}</th><th class="num">${t('learn.hits')}</th>
      <th class="num">${t('learn.helpful')}</th><th class="num">${t('learn.unhelpful')}</th><th class="num">${t('learn.rate')}</th></tr></thead>
    <tbody>${list.slice(0, 30).map((e) => html`<tr data-testid="kb-stats-row" data-id=${e.id}>
      <td>${e.question} <span class="tag">${catName.get(e.category_id) ?? ''}</span></td>
      <td class="num">${e.stats?.hits ?? 0}</td><td class="num">${e.stats?.helpful ?? 0}</td>
      <td class=${`num ${(e.stats?.unhelpful ?? 0) > (e.stats?.helpful ?? 0) ? 'error-text' : ''}`}>${e.stats?.unhelpful ?? 0}</td>
      <td class="num">${rate(e) == null ? '—' : `${Math.round(rate(e) * 100)}%`}</td></tr>`)}</tbody></table>
  </section>`;
}

export function LearnAdmin() {
  useLang();
  const [groups, setGroups] = useState(null);
  const [entries, setEntries] = useState([]);
  const [cats, setCats] = useState([]);
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  const [tab, setTab] = useState('unknown');
  const load = () => Promise.all([api('GET', '/bot/suggestions'), api('GET', '/kb/entries'), api('GET', '/kb/categories')])
    .then(([g, e, c]) => { setGroups(g); setEntries(e); setCats(c); setError(null); })
    .catch((e) => setError(errorMessage(e)));
  // Read again on demand and after each action, never under someone typing an answer.
  useEffect(() => { load(); }, []);
  const onDone = (g, action) => {
    setGroups((list) => (list ?? []).filter((x) => x !== g));
    const entry = entries.find((e) => e.id === action.entry_id);
    setNote(action.kind === 'dismiss' ? t('learn.dismissed')
      : action.kind === 'add_similar' ? t('learn.added_similar', { q: entry?.question ?? '' }) : t('learn.created'));
    load();
  };
  const total = (groups ?? []).reduce((n, g) => n + g.count, 0);
  return html`<section class="admin-page learn" data-testid="learn-admin">
    <div class="row admin-toolbar">
      <div class="seg" role="group">
        <button class=${tab === 'unknown' ? 'on' : ''} data-testid="learn-tab-unknown" onClick=${() => setTab('unknown')}>
          ${t('learn.unknown')} ${groups ? html`<span class="muted">${groups.length}</span>` : null}</button>
        <button class=${tab === 'stats' ? 'on' : ''} data-testid="learn-tab-stats" onClick=${() => setTab('stats')}>${t('learn.stats')}</button>
      </div>
      <span class="muted small">${tab === 'unknown' && groups ? t('learn.summary', { groups: groups.length, n: total }) : ''}</span>
      <span class="spacer"></span>
      <button class="btn small" data-testid="learn-reload" onClick=${load}>${t('adm.reload')}</button>
    </div>
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
    ${note ? html`<div class="ok-text small" role="status" data-testid="learn-note">${note}</div>` : null}
    ${tab === 'unknown' ? html`
      <p class="muted small">${t('learn.hint')}</p>
      ${groups == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
      <ul class="sugg-list">${(groups ?? []).map((g) => html`<${SuggestionGroup} key=${g.questions[0]?.id} g=${g} entries=${entries} cats=${cats} onDone=${onDone} />`)}</ul>
      ${groups && groups.length === 0 ? html`<p class="muted small">${t('learn.none')}</p>` : null}`
    : html`<${EntryStats} entries=${entries} cats=${cats} />`}
  </section>`;
}

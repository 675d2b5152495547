// 知识库管理 (SPEC §1.1, §1.4): entries by category, the editor with similar phrasings and
// validity, categories, import and export in the template (.xlsx and CSV), the bot's test console.
import { html, useState, useEffect, useMemo } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { ImportDialog, DownloadButtons, useKept } from '/ui/app/admin-ui.js';

/** An RFC 3339 instant as a `datetime-local` value in the browser's zone, and back. */
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function fromLocalInput(v) {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

function entryForm(e, categoryId) {
  return {
    id: e?.id ?? null,
    category_id: e?.category_id ?? categoryId ?? '',
    question: e?.question ?? '',
    similar: (e?.similar ?? []).join('\n'),
    answer: e?.answer ?? '',
    enabled: e?.enabled ?? true,
    valid_from: toLocalInput(e?.valid_from),
    valid_until: toLocalInput(e?.valid_until),
  };
}

function EntryEditor({ form, setForm, cats, onSaved, onDeleted, onCancel }) {
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => { setError(null); setSaved(false); }, [form.id]);
  const set = (k, v) => { setForm({ ...form, [k]: v }); setSaved(false); };
  const bad = (k) => error?.field === k;
  const save = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    const body = {
      category_id: form.category_id,
      question: form.question,
      similar: form.similar.split('\n').map((x) => x.trim()).filter(Boolean),
      answer: form.answer,
      enabled: form.enabled,
      valid_from: fromLocalInput(form.valid_from),
      valid_until: fromLocalInput(form.valid_until),
    };
    try {
      const entry = form.id ? await api('PUT', `/kb/entries/${form.id}`, body) : await api('POST', '/kb/entries', body);
      setForm(entryForm(entry));
      setSaved(true);
      onSaved(entry);
    } catch (e) {
      setError({ text: errorMessage(e), field: e.field ?? null });
    }
    setBusy(false);
  };
  const remove = async () => {
    if (!form.id || !confirm(t('kba.delete_confirm', { q: form.question }))) return;
    setBusy(true);
    setError(null);
    try {
      await api('DELETE', `/kb/entries/${form.id}`);
      onDeleted(form.id);
    } catch (e) {
      setError({ text: errorMessage(e), field: e.field ?? null });
    }
    setBusy(false);
  };
  const label = (k, text) => html`<span class=${bad(k) ? 'error-text' : ''}>${text}</span>`;
  return html`<form class="box kb-editor" data-testid="kb-editor" onSubmit=${save} noValidate>
    <div class="box-head"><b>${form.id ? t('kba.edit') : t('kba.new')}</b></div>
    <label class="block-label">${label('category_id', t('kba.category'))}
      <select data-testid="kb-edit-category" value=${form.category_id} aria-invalid=${bad('category_id')}
        onChange=${(e) => set('category_id', e.target.value)}>
        ${form.category_id ? null : html`<option value="">${t('kba.pick_category')}</option>`}
        ${cats.map((c) => html`<option value=${c.id}>${c.name}</option>`)}
      </select></label>
    <label class="block-label">${label('question', t('kba.question'))}
      <input data-testid="kb-edit-question" value=${form.question} aria-invalid=${bad('question')}
        class=${bad('question') ? 'invalid' : ''} onInput=${(e) => set('question', e.target.value)} /></label>
    <label class="block-label">${label('similar', t('kba.similar'))}
      <textarea data-testid="kb-edit-similar" rows="5" value=${form.similar} aria-invalid=${bad('similar')}
        class=${bad('similar') ? 'invalid' : ''} placeholder=${t('kba.similar_hint')} onInput=${(e) => set('similar', e.target.value)}></textarea></label>
    <label class="block-label">${label('answer', t('kba.answer'))}
      <textarea data-testid="kb-edit-answer" rows="5" value=${form.answer} aria-invalid=${bad('answer')}
        class=${bad('answer') ? 'invalid' : ''} onInput=${(e) => set('answer', e.target.value)}></textarea>
      <span class="muted small">${t('kba.answer_hint')}</span></label>
    <label class="check"><input type="checkbox" data-testid="kb-edit-enabled" checked=${form.enabled}
      onChange=${(e) => set('enabled', e.target.checked)} /> ${t('kba.enabled')}</label>
    <div class="row kb-dates">
      <label class="block-label">${label('valid_from', t('kba.valid_from'))}
        <input type="datetime-local" data-testid="kb-edit-from" value=${form.valid_from} aria-invalid=${bad('valid_from')}
          class=${bad('valid_from') ? 'invalid' : ''} onInput=${(e) => set('valid_from', e.target.value)} /></label>
      <label class="block-label">${label('valid_until', t('kba.valid_until'))}
        <input type="datetime-local" data-testid="kb-edit-until" value=${form.valid_until} aria-invalid=${bad('valid_until')}
          class=${bad('valid_until') ? 'invalid' : ''} onInput=${(e) => set('valid_until', e.target.value)} /></label>
    </div>
    ${error ? html`<div class="error-text small" role="alert" data-testid="kb-edit-error" data-field=${error.field ?? ''}>
      ${error.field ? html`<b>${t(`kba.field.${error.field}`)}</b>: ` : null}${error.text}</div>` : null}
    ${saved ? html`<div class="ok-text small" role="status" data-testid="kb-edit-saved">${t('kba.saved')}</div>` : null}
    <div class="row end">
      ${form.id ? html`<button type="button" class="btn small danger" data-testid="kb-delete" disabled=${busy} onClick=${remove}>${t('adm.delete')}</button>
        <span class="spacer"></span>` : null}
      <button type="button" class="btn small" onClick=${onCancel}>${t('common.cancel')}</button>
      <button type="submit" class="btn small primary" data-testid="kb-save" disabled=${busy}>${t('kba.save')}</button>
    </div>
  </form>`;
}

/** The answer model's factors, as the console lists them (kefu-bot/src/answer.rs `Factors`). */
const FACTORS = ['similarity', 'lead', 'aspect', 'length'];
const signed = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
/** A factor that moved the confidence by under 0.3 logits is neither for nor against. */
const factorClass = (x) => (x >= 0.3 ? 'up' : x <= -0.3 ? 'down' : 'muted');

export function BotConsole() {
  const [q, setQ] = useState('');
  const [r, setR] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setR(await api('POST', '/bot/console', { question: q }));
    } catch (e) {
      setR(null);
      setError(errorMessage(e));
    }
    setBusy(false);
  };
  const dec = r?.decision;
  const byKey = new Map((r?.candidates ?? []).map((c) => [c.key, c]));
  // The semantic signals, when the sentence model took part.
  const semantic = r?.semantic === true;
  const fmt = (x) => (typeof x === 'number' ? x.toFixed(3) : '');
  return html`<section class="box bot-console" data-testid="bot-console">
    <div class="box-head"><b>${t('kba.console')}</b> <span class="muted small">${t('kba.console_hint')}</span></div>
    <form class="row" onSubmit=${run}>
      <input data-testid="console-input" value=${q} placeholder=${t('kba.console_placeholder')} onInput=${(e) => setQ(e.target.value)} />
      <button class="btn small primary" type="submit" data-testid="console-run" disabled=${busy}>${t('kba.console_run')}</button>
    </form>
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
    ${r ? html`<div class="console-result">
      <div class="small"><span class="muted">${t('kba.tokens')}</span> ${(r.tokens ?? []).map((w) => html`<span class="tag token">${w}</span>`)}
        ${r.normalized && r.normalized !== q ? html`<span class="muted"> · ${t('kba.normalized')} ${r.normalized}</span>` : null}</div>
      <div class=${`console-decision decision-${dec?.kind}`} data-testid="console-decision" data-kind=${dec?.kind ?? ''}>
        <b>${t('kba.decision')}</b> ${dec ? t(`bot.kind.${dec.kind}`) : ''}
        ${dec?.confidence != null ? html` <span class="muted">${t('kba.confidence')} ${fmt(dec.confidence)}</span>` : null}
        ${dec?.key != null && byKey.get(dec.key) ? html` → ${byKey.get(dec.key).question}` : null}
        ${r.wants_human ? html` <span class="tag">${t('kba.wants_human')}</span>` : null}
      </div>
      ${r.thresholds ? html`<div class="muted small">${t('kba.thresholds', r.thresholds)}</div>` : null}
      ${r.check ? html`<div class="small console-check" data-testid="console-check"><span class="muted">${t('kba.check')}</span>${' '}
        ${t('kba.check_rests', { question: r.check.question_rest, phrasing: r.check.phrasing_rest })}${' '}
        <span class="muted">${t('kba.check_cosines')} ${fmt(r.check.rest_to_rest)} · ${fmt(r.check.rest_to_phrasing)} · ${fmt(r.check.question_to_rest)}
        → ${t('kba.adjusted')} ${fmt(r.check.adjusted)} · ${t('kba.confidence')} ${fmt(r.check.confidence)}</span></div>` : null}
      ${r.check?.factors ? html`<div class="small console-factors" data-testid="console-factors" title=${t('kba.factors_hint')}>
        <span class="muted">${t('kba.factors')}</span>${' '}
        ${FACTORS.map((k) => html`<span class=${`factor ${factorClass(r.check.factors[k])}`} data-factor=${k}>${t(`kba.factor.${k}`)} ${signed(r.check.factors[k])}</span>`)}</div>` : null}
      <table class="candidates"><thead><tr><th>${t('kba.cand_question')}</th><th>${t('kba.cand_matched')}</th>
        <th>${t('kba.cand_score')}</th><th class="muted">bm25 · words · chars · cover</th>
        ${semantic ? html`<th class="muted">semantic · centroid · whitened · passage</th>` : null}</tr></thead>
      <tbody>${(r.candidates ?? []).slice(0, 5).map((c) => html`<tr data-testid="console-candidate" data-entry=${c.entry_id}
        class=${dec?.key === c.key ? 'chosen' : ''}>
        <td><b>${c.question}</b> <span class="tag">${c.category}</span></td><td>${c.matched}</td>
        <td class="score">${fmt(c.score)}</td>
        <td class="muted small">${fmt(c.bm25)} · ${fmt(c.words)} · ${fmt(c.chars)} · ${fmt(c.cover)}</td>
        ${semantic ? html`<td class="muted small" data-testid="console-semantic">${fmt(c.semantic)} · ${fmt(c.centroid)} · ${fmt(c.whitened)} · ${fmt(c.passage)}</td>` : null}</tr>`)}</tbody></table>
      ${(r.candidates ?? []).length === 0 ? html`<p class="muted small">${t('kba.no_candidates')}</p>` : null}
    </div>` : null}
  </section>`;
}


const SORTS = {
  default: null,
  hits: (a, b) => (b.stats?.hits ?? 0) - (a.stats?.hits ?? 0),
  unhelpful: (a, b) => (b.stats?.unhelpful ?? 0) - (a.stats?.unhelpful ?? 0) || (b.stats?.hits ?? 0) - (a.stats?.hits ?? 0),
};

/** The categories: pick one to filter, add one, rename or remove (an empty one) the picked one. */
function Categories({ cats, cat, setCat, count, total, reload }) {
  const [name, setName] = useState('');
  const [renaming, setRenaming] = useState(null);
  const [error, setError] = useState(null);
  const current = cats.find((c) => c.id === cat);
  const run = async (fn) => {
    setError(null);
    try { await fn(); await reload(); return true; } catch (e) { setError(errorMessage(e)); return false; }
  };
  const add = async (ev) => {
    ev.preventDefault();
    if (!name.trim()) return;
    if (await run(() => api('POST', '/kb/categories', { name: name.trim() }))) setName('');
  };
  const rename = async (ev) => {
    ev.preventDefault();
    if (await run(() => api('PATCH', `/kb/categories/${current.id}`, { name: renaming.trim() }))) setRenaming(null);
  };
  const remove = async () => {
    if (!confirm(t('kba.cat_delete_confirm', { name: current.name }))) return;
    if (await run(() => api('DELETE', `/kb/categories/${current.id}`))) setCat(null);
  };
  return html`<aside class="pane left kb-cats">
    <div class="pane-head"><b>${t('kba.categories')}</b></div>
    <ul class="cat-list">
      <li><button class=${`cat-item ${cat ? '' : 'active'}`} data-testid="kb-cat" onClick=${() => setCat(null)}>
        <span>${t('kba.all')}</span><span class="muted">${total ?? ''}</span></button></li>
      ${cats.map((c) => html`<li><button class=${`cat-item ${cat === c.id ? 'active' : ''}`} data-testid="kb-cat" data-id=${c.id}
        onClick=${() => { setCat(c.id); setRenaming(null); }}><span>${c.name}</span><span class="muted">${count.get(c.id) ?? 0}</span></button></li>`)}
    </ul>
    <div class="cat-tools">
      ${current && renaming == null ? html`<div class="row">
        <button class="link-btn small" data-testid="kb-cat-rename" onClick=${() => setRenaming(current.name)}>${t('adm.rename')}</button>
        <button class="link-btn small danger" data-testid="kb-cat-delete" onClick=${remove}>${t('adm.delete')}</button></div>` : null}
      ${current && renaming != null ? html`<form class="row" onSubmit=${rename}>
        <input value=${renaming} maxlength="20" aria-label=${t('adm.rename')} data-testid="kb-cat-name" onInput=${(e) => setRenaming(e.target.value)} />
        <button class="btn small" type="submit">${t('adm.ok')}</button></form>` : null}
      <form class="row" onSubmit=${add}>
        <input value=${name} maxlength="20" placeholder=${t('kba.cat_new')} data-testid="kb-cat-new" onInput=${(e) => setName(e.target.value)} />
        <button class="btn small" type="submit" data-testid="kb-cat-add" disabled=${!name.trim()}>${t('adm.add')}</button></form>
      ${error ? html`<div class="error-text small" role="alert" data-testid="kb-cat-error">${error}</div>` : null}
    </div>
  </aside>`;
}

export function KbAdmin() {
  useLang();
  const [cats, setCats] = useState([]);
  const [entries, setEntries] = useState(null);
  const [cat, setCat] = useKept('kb.cat', null);
  const [q, setQ] = useKept('kb.q', '');
  const [sort, setSort] = useKept('kb.sort', 'default');
  const [form, setForm] = useKept('kb.form', null);
  const [error, setError] = useState(null);
  const [importing, setImporting] = useState(false);
  const load = () => Promise.all([api('GET', '/kb/categories'), api('GET', '/kb/entries')])
    .then(([c, e]) => { setCats(c); setEntries(e); setError(null); })
    .catch((e) => setError(errorMessage(e)));
  useEffect(() => { load(); }, []);
  const catName = useMemo(() => new Map(cats.map((c) => [c.id, c.name])), [cats]);
  const count = useMemo(() => {
    const m = new Map();
    for (const e of entries ?? []) m.set(e.category_id, (m.get(e.category_id) ?? 0) + 1);
    return m;
  }, [entries]);
  const needle = q.trim().toLowerCase();
  const shown = (entries ?? []).filter((e) => (!cat || e.category_id === cat) && (!needle
    || e.question.toLowerCase().includes(needle) || e.answer.toLowerCase().includes(needle)
    || e.similar.some((s) => s.toLowerCase().includes(needle))));
  if (SORTS[sort]) shown.sort(SORTS[sort]);
  const onSaved = (entry) => {
    setEntries((list) => {
      const all = list ?? [];
      return all.some((x) => x.id === entry.id) ? all.map((x) => (x.id === entry.id ? { ...entry, stats: entry.stats ?? x.stats } : x)) : [...all, entry];
    });
  };
  const onDeleted = (id) => {
    setEntries((list) => (list ?? []).filter((x) => x.id !== id));
    setForm(null);
  };
  const expired = (e) => e.valid_until && new Date(e.valid_until) < new Date();
  const summary = (r) => t('kba.import_done', { created: r.entries_created, updated: r.entries_updated, deleted: r.entries_deleted, cats: r.categories_created });
  return html`<div class="kb-admin" data-testid="kb-admin">
    <${Categories} cats=${cats} cat=${cat} setCat=${setCat} count=${count} total=${entries?.length} reload=${load} />
    <section class="kb-main">
      <div class="row kb-toolbar">
        <input class="search" type="search" data-testid="kb-admin-search" placeholder=${t('kb.search')} value=${q} onInput=${(e) => setQ(e.target.value)} />
        <select class="auto" data-testid="kb-sort" aria-label=${t('kba.sort')} value=${sort} onChange=${(e) => setSort(e.target.value)}>
          ${Object.keys(SORTS).map((k) => html`<option value=${k}>${t(`kba.sort.${k}`)}</option>`)}
        </select>
        <button class="btn small primary" data-testid="kb-new" onClick=${() => setForm(entryForm(null, cat ?? cats[0]?.id))}>${t('kba.new')}</button>
      </div>
      <div class="row kb-toolbar">
        <button class="btn small" data-testid="kb-import-open" onClick=${() => setImporting(true)}>${t('adm.import')}</button>
        <${DownloadButtons} path="/kb/export" label=${t('adm.export')} testid="kb-export" name="knowledge" />
      </div>
      ${error ? html`<div class="error-text small pad" role="alert">${error}</div>` : null}
      ${entries == null && !error ? html`<p class="muted pad">${t('common.loading')}</p>` : null}
      <ul class="kb-rows">${shown.map((e) => html`<li>
        <button class=${`kb-row ${form?.id === e.id ? 'active' : ''} ${e.enabled ? '' : 'off'}`} data-testid="kb-entry-row" data-id=${e.id}
          onClick=${() => setForm(entryForm(e))}>
          <span class="kb-row-q"><b>${e.question}</b> <span class="tag">${catName.get(e.category_id) ?? ''}</span>
            ${e.enabled ? null : html`<span class="tag">${t('kba.disabled')}</span>`}
            ${expired(e) ? html`<span class="tag wait late">${t('kba.expired')}</span>` : null}</span>
          <span class="kb-row-a muted small">${e.answer}</span>
          <span class="muted small" data-testid="kb-entry-stats">${t('kba.row_meta', { n: e.similar.length, hits: e.stats?.hits ?? 0, up: e.stats?.helpful ?? 0, down: e.stats?.unhelpful ?? 0 })}</span>
        </button></li>`)}</ul>
      ${entries && shown.length === 0 ? html`<p class="muted small pad">${t('kb.none')}</p>` : null}
    </section>
    <aside class="kb-side">
      ${form ? html`<${EntryEditor} form=${form} setForm=${setForm} cats=${cats} onSaved=${onSaved} onDeleted=${onDeleted} onCancel=${() => setForm(null)} />`
      : html`<p class="muted small pad">${t('kba.pick')}</p>`}
      <${BotConsole} />
    </aside>
    ${importing ? html`<${ImportDialog} title=${t('kba.import_title')} testid="kb-import" path="/kb/import" templatePath="/kb/template"
      templateName="knowledge-template" columns="category,question,similar,answer" summary=${summary}
      onDone=${() => { load(); setForm(null); }} onClose=${() => setImporting(false)} />` : null}
  </div>`;
}

// 快捷短语 (SPEC §2.7): the team's phrases (owners and admins write them, every agent uses them)
// and one's own; by group and place — insert at a place, move up and down — with a shortcut
// code that expands in the message box and variables filled when used; import and export.
import { html, useState, useEffect, useMemo, useRef } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { refusal, Field, FormError, ImportDialog, DownloadButtons, useKept } from '/ui/app/admin-ui.js';

const VARIABLES = ['买家昵称', '订单号', '客服昵称', '店铺名'];

/** A phrase's text with its variables marked. */
function PhraseText({ text }) {
  const parts = text.split(/(\{[^{}]+\})/g);
  return html`<span class="pre">${parts.map((p) => (/^\{[^{}]+\}$/.test(p) ? html`<span class="var">${p}</span>` : p))}</span>`;
}

function blank(scope, group = '', position = null) {
  return { id: null, scope, group, shortcut: '', text: '', position, opened: Math.random() };
}

function PhraseEditor({ form, setForm, groups, onSaved, onCancel }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const textRef = useRef(null);
  useEffect(() => { setError(null); setSaved(false); }, [form.opened]);
  const set = (k, v) => { setForm({ ...form, [k]: v }); setSaved(false); };
  const addVar = (v) => {
    const el = textRef.current;
    const at = el ? el.selectionStart : form.text.length;
    const end = el ? el.selectionEnd : at;
    const next = `${form.text.slice(0, at)}{${v}}${form.text.slice(end)}`;
    set('text', next);
    requestAnimationFrame(() => { if (el) { el.focus(); el.setSelectionRange(at + v.length + 2, at + v.length + 2); } });
  };
  const save = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    const body = { group: form.group.trim(), shortcut: form.shortcut.trim() || null, text: form.text };
    try {
      const p = form.id ? await api('PUT', `/phrases/${form.id}`, body)
        : await api('POST', '/phrases', { ...body, scope: form.scope, ...(form.position != null ? { position: form.position } : {}) });
      setForm({ ...form, id: p.id, group: p.group, shortcut: p.shortcut ?? '', text: p.text, position: p.position });
      setSaved(true);
      onSaved(p);
    } catch (e) {
      const r = refusal(e);
      // A 409 here is a shortcut another phrase of this scope already has.
      if (e.status === 409 && !r.field) r.field = 'shortcut';
      setError(r);
    }
    setBusy(false);
  };
  return html`<form class="box kb-editor" data-testid="phrase-editor" onSubmit=${save} noValidate>
    <div class="box-head"><b>${form.id ? t('phr.edit') : form.position != null ? t('phr.insert_at', { n: form.position + 1 }) : t('phr.new')}</b>
      <span class="tag">${t(`phr.scope.${form.scope}`)}</span></div>
    <${Field} label=${t('phr.group')} name="group" error=${error}>
      <input data-testid="phrase-group-input" list="phrase-groups" value=${form.group} maxlength="20" placeholder=${t('phr.group_hint')}
        aria-invalid=${error?.field === 'group'} onInput=${(e) => set('group', e.target.value)} />
      <datalist id="phrase-groups">${groups.map((g) => html`<option value=${g} />`)}</datalist>
    <//>
    <${Field} label=${t('phr.shortcut')} name="shortcut" error=${error} hint=${t('phr.shortcut_hint')}>
      <input data-testid="phrase-shortcut" value=${form.shortcut} maxlength="16" autocomplete="off" spellcheck="false"
        aria-invalid=${error?.field === 'shortcut'} onInput=${(e) => set('shortcut', e.target.value)} />
    <//>
    <${Field} label=${t('phr.text')} name="text" error=${error}>
      <textarea ref=${textRef} data-testid="phrase-text" rows="5" maxlength="500" value=${form.text}
        aria-invalid=${error?.field === 'text'} onInput=${(e) => set('text', e.target.value)}></textarea>
    <//>
    <div class="row wrap"><span class="muted small">${t('phr.variables')}</span>
      ${VARIABLES.map((v) => html`<button type="button" class="chip small" data-testid="phrase-var" onClick=${() => addVar(v)}>{${v}}</button>`)}</div>
    <${FormError} error=${error} fields=${['group', 'shortcut', 'text']} testid="phrase-error" />
    ${saved ? html`<div class="ok-text small" role="status" data-testid="phrase-saved">${t('kba.saved')}</div>` : null}
    <div class="row end">
      <button type="button" class="btn small" onClick=${onCancel}>${t('common.cancel')}</button>
      <button type="submit" class="btn small primary" data-testid="phrase-save" disabled=${busy}>${t('kba.save')}</button>
    </div>
  </form>`;
}

export function PhrasesAdmin({ me }) {
  useLang();
  const [scope, setScope] = useKept('phrases.scope', 'team');
  const [list, setList] = useState(null);
  const [group, setGroup] = useKept('phrases.group', null);
  const [q, setQ] = useKept('phrases.q', '');
  const [form, setForm] = useKept('phrases.form', null);
  const [error, setError] = useState(null);
  const [importing, setImporting] = useState(false);
  const want = useRef(scope);
  const load = async (sc = scope) => {
    try {
      const r = await api('GET', `/phrases?scope=${sc}`);
      if (want.current !== sc) return;
      setList(r);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const shownScope = useRef(scope);
  useEffect(() => {
    want.current = scope;
    setList(null);
    // Another scope: another list (at the first showing, what was left open stays).
    if (shownScope.current !== scope) { shownScope.current = scope; setGroup(null); setForm(null); }
    load(scope);
  }, [scope]);
  const groups = useMemo(() => [...new Set((list ?? []).map((p) => p.group))], [list]);
  const needle = q.trim().toLowerCase();
  const shown = (list ?? []).filter((p) => (!group || p.group === group)
    && (!needle || p.text.toLowerCase().includes(needle) || (p.shortcut ?? '').startsWith(needle)));
  const byGroup = new Map();
  for (const p of shown) {
    if (!byGroup.has(p.group)) byGroup.set(p.group, []);
    byGroup.get(p.group).push(p);
  }
  const act = async (fn) => {
    setError(null);
    try { await fn(); } catch (e) { setError(errorMessage(e)); }
    load();
  };
  const move = (p, direction) => act(() => api('POST', `/phrases/${p.id}/move`, { direction }));
  const remove = (p) => {
    if (!confirm(t('phr.delete_confirm', { text: p.text.slice(0, 40) }))) return;
    act(async () => { await api('DELETE', `/phrases/${p.id}`); if (form?.id === p.id) setForm(null); });
  };
  const onSaved = () => load();
  const canWrite = scope === 'personal' || me.role === 'owner' || me.role === 'admin';
  const summary = (r) => t('phr.import_done', r);
  const tab = (sc) => html`<button class=${scope === sc ? 'on' : ''} aria-pressed=${scope === sc} data-testid=${`phrases-scope-${sc}`}
    onClick=${() => setScope(sc)}>${t(`phr.scope.${sc}`)}</button>`;
  return html`<div class="kb-admin phrases-admin" data-testid="phrases-admin" data-scope=${scope}>
    <aside class="pane left kb-cats">
      <div class="pane-head"><b>${t('phr.groups')}</b></div>
      <ul class="cat-list">
        <li><button class=${`cat-item ${group ? '' : 'active'}`} onClick=${() => setGroup(null)}>
          <span>${t('kba.all')}</span><span class="muted">${list?.length ?? ''}</span></button></li>
        ${groups.map((g) => html`<li><button class=${`cat-item ${group === g ? 'active' : ''}`} data-testid="phrase-group-item" data-group=${g}
          onClick=${() => setGroup(g)}><span>${g}</span><span class="muted">${(list ?? []).filter((p) => p.group === g).length}</span></button></li>`)}
      </ul>
    </aside>
    <section class="kb-main">
      <div class="row kb-toolbar">
        <div class="seg" role="group" aria-label=${t('phr.scope')}>${tab('team')}${tab('personal')}</div>
        <input class="search" type="search" data-testid="phrases-search" placeholder=${t('phrase.search')} value=${q} onInput=${(e) => setQ(e.target.value)} />
        <button class="btn small primary" data-testid="phrase-new" disabled=${!canWrite}
          onClick=${() => setForm(blank(scope, group ?? groups[0] ?? ''))}>${t('phr.new')}</button>
      </div>
      <div class="row kb-toolbar">
        <button class="btn small" data-testid="phrases-import-open" disabled=${!canWrite} onClick=${() => setImporting(true)}>${t('adm.import')}</button>
        <${DownloadButtons} path=${`/phrases/export?scope=${scope}`} label=${t('adm.export')} testid="phrases-export" name="phrases" />
      </div>
      <p class="muted small">${t(`phr.scope_hint.${scope}`)}</p>
      ${error ? html`<div class="error-text small" role="alert" data-testid="phrases-error">${error}</div>` : null}
      ${list == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
      ${[...byGroup].map(([g, items]) => html`<section class="phrase-group" data-testid="phrase-group" data-group=${g}>
        <div class="muted small phrase-group-head">${g} · ${items.length}</div>
        <ul class="kb-rows">${items.map((p, i) => html`<li class=${`phrase-row ${form?.id === p.id ? 'active' : ''}`} data-testid="phrase-row"
          data-id=${p.id} data-position=${p.position}>
          <span class="phrase-pos muted small">${p.position + 1}</span>
          ${p.shortcut ? html`<code class="sc" data-testid="phrase-row-shortcut">${p.shortcut}</code>` : html`<span class="sc none"></span>`}
          <span class="phrase-row-text"><${PhraseText} text=${p.text} /></span>
          ${canWrite ? html`<span class="row-actions">
            <button class="link-btn small" data-testid="phrase-up" title=${t('phr.up')} disabled=${p.position === 0 || !!needle}
              onClick=${() => move(p, 'up')}>↑</button>
            <button class="link-btn small" data-testid="phrase-down" title=${t('phr.down')}
              disabled=${!!needle || i === items.length - 1} onClick=${() => move(p, 'down')}>↓</button>
            <button class="link-btn small" data-testid="phrase-insert" onClick=${() => setForm(blank(scope, p.group, p.position))}>${t('phr.insert')}</button>
            <button class="link-btn small" data-testid="phrase-edit"
              onClick=${() => setForm({ id: p.id, scope: p.scope, group: p.group, shortcut: p.shortcut ?? '', text: p.text, position: p.position, opened: Math.random() })}>${t('adm.edit')}</button>
            <button class="link-btn small danger" data-testid="phrase-delete" onClick=${() => remove(p)}>${t('adm.delete')}</button>
          </span>` : null}
        </li>`)}</ul>
      </section>`)}
      ${list && shown.length === 0 ? html`<p class="muted small">${t('phrase.none')}</p>` : null}
    </section>
    <aside class="kb-side">
      ${form ? html`<${PhraseEditor} key=${form.opened} form=${form} setForm=${setForm} groups=${groups}
        onSaved=${onSaved} onCancel=${() => setForm(null)} />`
      : html`<p class="muted small pad">${t('phr.pick')}</p>`}
      <section class="box small">
        <div class="box-head"><b>${t('phr.how')}</b></div>
        <p class="muted">${t('phr.how_text')}</p>
      </section>
    </aside>
    ${importing ? html`<${ImportDialog} title=${t(`phr.import_title.${scope}`)} testid="phrases-import" path=${`/phrases/import?scope=${scope}`}
      templatePath="/phrases/template" templateName="phrases-template" columns="group,shortcut,text" summary=${summary}
      onDone=${() => load()} onClose=${() => setImporting(false)} />` : null}
  </div>`;
}

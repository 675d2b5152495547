// 客户管理 (SPEC §3): the shop's buyers by lifecycle group (咨询组 订单组 发货组 成交组, kept
// by the server) and custom groups (客户分组: create, rename, remove, members); search; a
// buyer's profile with tags (the seeds' buyer types), notes, groups, outreach opt-out, orders;
// export (recorded in the audit log).
import { html, useState, useEffect, useRef } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { yuan, orderState } from '/ui/lib.js';
import { api, errorMessage } from '/ui/app/api.js';
import { DownloadButtons, Pager, fmtDateTime } from '/ui/app/admin-ui.js';

const LIFECYCLE = ['consulting', 'ordered', 'shipping', 'dealt'];
const BUYER_TYPES = ['友善型', '独断型', '分析型', '自我型', '交际型', '购买型', '礼貌型', '讲价型', '拍下不买型'];
const PAGE = 50;

const orderTotal = (o) => (o.items ?? []).reduce((n, i) => n + i.unit_price * i.quantity, 0) + (o.shipping_fee ?? 0);

function GroupsPane({ filter, setFilter, groups, counts, total, reload }) {
  const [name, setName] = useState('');
  const [renaming, setRenaming] = useState(null);
  const [error, setError] = useState(null);
  const current = filter.custom ? groups.find((g) => g.id === filter.custom) : null;
  const run = async (fn) => {
    setError(null);
    try { const r = await fn(); await reload(); return r ?? true; } catch (e) { setError(errorMessage(e)); return false; }
  };
  const add = async (ev) => {
    ev.preventDefault();
    const g = await run(() => api('POST', '/customer-groups', { name: name.trim() }));
    if (g) { setName(''); if (g.id) setFilter({ custom: g.id }); }
  };
  const rename = async (ev) => {
    ev.preventDefault();
    if (await run(() => api('PATCH', `/customer-groups/${current.id}`, { name: renaming.trim() }))) setRenaming(null);
  };
  const remove = async () => {
    if (!confirm(t('cus.group_delete_confirm', { name: current.name }))) return;
    if (await run(() => api('DELETE', `/customer-groups/${current.id}`))) setFilter({});
  };
  const item = (key, label, n, on, testid, extra = {}) => html`<li><button class=${`cat-item ${on ? 'active' : ''}`} data-testid=${testid}
    ...${extra} onClick=${() => { setFilter(key); setRenaming(null); }}><span>${label}</span><span class="muted">${n ?? ''}</span></button></li>`;
  return html`<aside class="pane left kb-cats" data-testid="customer-groups">
    <ul class="cat-list">
      ${item({}, t('cus.all'), total, !filter.group && !filter.custom, 'cus-filter-all')}
    </ul>
    <div class="pane-head sub"><span class="muted small">${t('cus.lifecycle')}</span></div>
    <ul class="cat-list">${LIFECYCLE.map((g) => item({ group: g }, t(`group.${g}`), counts[g], filter.group === g, 'cus-filter-group', { 'data-group': g }))}</ul>
    <div class="pane-head sub"><span class="muted small">${t('cus.custom')}</span></div>
    <ul class="cat-list">${groups.map((g) => item({ custom: g.id }, g.name, g.members, filter.custom === g.id, 'cus-custom-group',
      { 'data-id': g.id, 'data-name': g.name, 'data-members': g.members }))}</ul>
    <div class="cat-tools">
      ${current && renaming == null ? html`<div class="row">
        <button class="link-btn small" data-testid="cus-group-rename" onClick=${() => setRenaming(current.name)}>${t('adm.rename')}</button>
        <button class="link-btn small danger" data-testid="cus-group-delete" onClick=${remove}>${t('adm.delete')}</button></div>` : null}
      ${current && renaming != null ? html`<form class="row" onSubmit=${rename}>
        <input value=${renaming} maxlength="20" aria-label=${t('adm.rename')} data-testid="cus-group-name" onInput=${(e) => setRenaming(e.target.value)} />
        <button class="btn small" type="submit">${t('adm.ok')}</button></form>` : null}
      <form class="row" onSubmit=${add}>
        <input value=${name} maxlength="20" placeholder=${t('cus.group_new')} data-testid="cus-group-new" onInput=${(e) => setName(e.target.value)} />
        <button class="btn small" type="submit" data-testid="cus-group-add" disabled=${!name.trim()}>${t('adm.add')}</button></form>
      ${error ? html`<div class="error-text small" role="alert" data-testid="cus-group-error">${error}</div>` : null}
    </div>
  </aside>`;
}

function TagsEditor({ c, onChanged }) {
  const [tag, setTag] = useState('');
  const [error, setError] = useState(null);
  const save = async (tags) => {
    setError(null);
    try {
      await api('PUT', `/customers/${c.id}/tags`, { tags });
      setTag('');
      onChanged();
    } catch (e) { setError(errorMessage(e)); }
  };
  const add = (ev) => {
    ev?.preventDefault();
    const v = tag.trim();
    if (v && !c.tags.includes(v)) save([...c.tags, v]);
  };
  return html`<section class="box" data-testid="cus-tags">
    <div class="box-head"><b>${t('cus.tags')}</b></div>
    <div class="tags">${c.tags.map((x) => html`<span class="tag tagged" data-testid="cus-tag">${x}
      <button class="tag-x" aria-label=${t('adm.remove')} onClick=${() => save(c.tags.filter((y) => y !== x))}>×</button></span>`)}
      ${c.tags.length ? null : html`<span class="muted small">${t('cus.no_tags')}</span>`}</div>
    <form class="row" onSubmit=${add}>
      <input data-testid="cus-tag-input" value=${tag} maxlength="20" placeholder=${t('cus.tag_hint')} onInput=${(e) => setTag(e.target.value)} />
      <button class="btn small" type="submit" data-testid="cus-tag-add" disabled=${!tag.trim()}>${t('adm.add')}</button></form>
    <div class="tags buyer-types"><span class="muted small">${t('cus.buyer_types')}</span>
      ${BUYER_TYPES.filter((x) => !c.tags.includes(x)).map((x) => html`<button class="chip small" onClick=${() => save([...c.tags, x])}>${x}</button>`)}</div>
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
  </section>`;
}

function Profile({ id, groups, onChanged }) {
  const [c, setC] = useState(null);
  const [error, setError] = useState(null);
  const [note, setNote] = useState('');
  const [msg, setMsg] = useState(null);
  const load = () => api('GET', `/customers/${id}`).then((x) => { setC(x); setError(null); }).catch((e) => setError(errorMessage(e)));
  useEffect(() => { setC(null); setNote(''); setMsg(null); load(); }, [id]);
  const changed = () => { load(); onChanged(); };
  const act = async (fn) => {
    setMsg(null);
    try { await fn(); changed(); return true; } catch (e) { setMsg(errorMessage(e)); return false; }
  };
  if (error) return html`<div class="error-text small pad" role="alert">${error}</div>`;
  if (!c) return html`<p class="muted pad">${t('common.loading')}</p>`;
  const addNote = async (ev) => {
    ev.preventDefault();
    if (!note.trim()) return;
    if (await act(() => api('POST', `/customers/${c.id}/notes`, { text: note.trim() }))) setNote('');
  };
  const toggleGroup = (g, on) => act(() => api('POST', `/customer-groups/${g.id}/members`, on ? { add: [c.id] } : { remove: [c.id] }));
  return html`<div class="customer-profile" data-testid="customer-profile" data-id=${c.id}>
    <section class="box">
      <div class="box-head"><span class="avatar av-buyer">${c.nick.slice(0, 1)}</span> <b data-testid="cus-profile-nick">${c.nick}</b>
        ${c.name ? html`<span class="muted">${c.name}</span>` : null}</div>
      <dl class="kv">
        <dt>${t('panel.phone')}</dt><dd>${c.phone || '—'}</dd>
        <dt>${t('panel.address')}</dt><dd>${c.address || '—'}</dd>
        <dt>${t('panel.channel')}</dt><dd>${c.channel ? t(`channel.${c.channel}`) : '—'}</dd>
        <dt>${t('panel.first_contact')}</dt><dd>${c.first_contact ? fmtDateTime(c.first_contact) : t('cus.never')}</dd>
        <dt>${t('cus.last_contact')}</dt><dd>${c.last_contact ? fmtDateTime(c.last_contact) : '—'}</dd>
      </dl>
      <div class="tags">${c.groups.map((g) => html`<span class="tag group">${t(`group.${g}`)}</span>`)}</div>
      <label class="check"><input type="checkbox" data-testid="cus-opt-out" checked=${c.opted_out}
        onChange=${(e) => act(() => api('PUT', `/customers/${c.id}/opt-out`, { opted_out: e.target.checked }))} /> ${t('cus.opted_out')}</label>
    </section>
    <section class="box" data-testid="cus-membership">
      <div class="box-head"><b>${t('cus.custom')}</b></div>
      ${groups.length ? groups.map((g) => html`<label class="check"><input type="checkbox" data-testid="cus-member" data-id=${g.id}
        checked=${c.custom_groups.includes(g.id)} onChange=${(e) => toggleGroup(g, e.target.checked)} /> ${g.name}</label>`)
      : html`<p class="muted small">${t('cus.no_groups')}</p>`}
    </section>
    <${TagsEditor} c=${c} onChanged=${changed} />
    <section class="box" data-testid="cus-notes">
      <div class="box-head"><b>${t('panel.notes')}</b></div>
      <ul class="notes">${c.notes.map((n) => html`<li data-testid="cus-note"><div>${n.text}</div>
        <div class="muted small">${n.author_name} · ${fmtDateTime(n.created_at)}</div></li>`)}</ul>
      <form class="row" onSubmit=${addNote}><input data-testid="cus-note-input" value=${note} maxlength="500" placeholder=${t('panel.note_hint')}
        onInput=${(e) => setNote(e.target.value)} /><button class="btn small" type="submit" data-testid="cus-note-add" disabled=${!note.trim()}>${t('panel.note_add')}</button></form>
    </section>
    ${msg ? html`<div class="error-text small" role="alert" data-testid="cus-error">${msg}</div>` : null}
    <section class="box">
      <div class="box-head"><b>${t('panel.orders')}</b> <span class="muted">${c.orders.length}</span></div>
      ${c.orders.length ? html`<ul class="plain-list">${c.orders.map((o) => html`<li class="order-line">
        <span class="order-no">${o.order_no}</span><span class=${`badge state-${o.state}`}>${orderState(o.state)}</span>
        <span class="price">${yuan(orderTotal(o))}</span><span class="muted small">${fmtDateTime(o.created_at)}</span></li>`)}</ul>`
      : html`<p class="muted small">${t('panel.no_orders')}</p>`}
    </section>
    ${c.asked_about.length ? html`<section class="box"><div class="box-head"><b>${t('cus.asked_about')}</b></div>
      <ul class="plain-list">${c.asked_about.map((p) => html`<li>${p.title} <span class="muted small">${p.sku}</span></li>`)}</ul></section>` : null}
  </div>`;
}

export function CustomersAdmin() {
  useLang();
  const [filter, setFilter] = useState({});
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState(null);
  const [groups, setGroups] = useState([]);
  const [counts, setCounts] = useState({});
  const [all, setAll] = useState(null);
  const [picked, setPicked] = useState(null);
  const [checked, setChecked] = useState(new Set());
  const [target, setTarget] = useState('');
  const [error, setError] = useState(null);
  const [bulkMsg, setBulkMsg] = useState(null);
  const seq = useRef(0);
  const query = (extra = {}) => {
    const p = new URLSearchParams();
    if (q.trim()) p.set('q', q.trim());
    if (filter.group) p.set('group', filter.group);
    if (filter.custom) p.set('custom_group', filter.custom);
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return p.toString();
  };
  const loadList = () => {
    const n = ++seq.current;
    return api('GET', `/customers?${query({ limit: PAGE, offset })}`)
      .then((r) => { if (n === seq.current) { setPage(r); setError(null); } })
      .catch((e) => { if (n === seq.current) setError(errorMessage(e)); });
  };
  const loadGroups = () => Promise.all([
    api('GET', '/customer-groups').then(setGroups),
    api('GET', '/customers?limit=1').then((r) => setAll(r.total)),
    ...LIFECYCLE.map((g) => api('GET', `/customers?group=${g}&limit=1`).then((r) => setCounts((c) => ({ ...c, [g]: r.total })))),
  ]).catch((e) => setError(errorMessage(e)));
  useEffect(() => { loadGroups(); }, []);
  useEffect(() => { setOffset(0); setChecked(new Set()); }, [filter, q]);
  useEffect(() => {
    const timer = setTimeout(loadList, q ? 250 : 0);
    return () => clearTimeout(timer);
  }, [filter, q, offset]);
  const refresh = () => { loadList(); loadGroups(); };
  const toggle = (id) => setChecked((s) => { const n = new Set(s); if (n.has(id)) n.delete(id); else n.add(id); return n; });
  const bulk = async (groupId, op) => {
    setBulkMsg(null);
    try {
      const g = await api('POST', `/customer-groups/${groupId}/members`, { [op]: [...checked] });
      setBulkMsg({ ok: true, text: t(op === 'add' ? 'cus.added' : 'cus.removed', { n: checked.size, name: g.name }) });
      setChecked(new Set());
      refresh();
    } catch (e) { setBulkMsg({ ok: false, text: errorMessage(e) }); }
  };
  const groupName = new Map(groups.map((g) => [g.id, g.name]));
  const items = page?.items ?? [];
  const allChecked = items.length > 0 && items.every((c) => checked.has(c.id));
  const current = filter.custom ? groups.find((g) => g.id === filter.custom) : null;
  const exportPath = `/customers/export${query() ? `?${query()}` : ''}`;
  return html`<div class="kb-admin customers-admin" data-testid="customers-admin">
    <${GroupsPane} filter=${filter} setFilter=${setFilter} groups=${groups} counts=${counts} total=${all} reload=${refresh} />
    <section class="kb-main">
      <div class="row kb-toolbar">
        <input class="search" type="search" data-testid="cus-search" placeholder=${t('cus.search')} value=${q} onInput=${(e) => setQ(e.target.value)} />
      </div>
      <div class="row kb-toolbar wrap">
        <span class="muted small">${page ? t('cus.total', { n: page.total }) : ''}</span>
        <span class="spacer"></span>
        <${DownloadButtons} path=${exportPath} label=${t('cus.export')} testid="cus-export" name="customers" />
      </div>
      <p class="muted small">${t('cus.export_hint')}</p>
      ${checked.size ? html`<div class="row bulk-bar" data-testid="cus-bulk">
        <span>${t('cus.checked', { n: checked.size })}</span>
        <select class="auto" data-testid="cus-bulk-group" value=${target} onChange=${(e) => setTarget(e.target.value)}>
          <option value="">${t('cus.pick_group')}</option>${groups.map((g) => html`<option value=${g.id}>${g.name}</option>`)}</select>
        <button class="btn small" data-testid="cus-bulk-add" disabled=${!target} onClick=${() => bulk(target, 'add')}>${t('cus.add_to')}</button>
        ${current ? html`<button class="btn small" data-testid="cus-bulk-remove" onClick=${() => bulk(current.id, 'remove')}>${t('cus.remove_from', { name: current.name })}</button>` : null}
      </div>` : null}
      ${bulkMsg ? html`<div class=${bulkMsg.ok ? 'ok-text small' : 'error-text small'} role=${bulkMsg.ok ? 'status' : 'alert'} data-testid="cus-bulk-msg">${bulkMsg.text}</div>` : null}
      ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
      ${page == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
      ${items.length ? html`<table class="table customers">
        <thead><tr><th><input type="checkbox" aria-label=${t('cus.check_all')} checked=${allChecked}
          onChange=${() => setChecked(allChecked ? new Set() : new Set(items.map((c) => c.id)))} /></th>
          <th>${t('panel.nick')}</th><th>${t('cus.groups')}</th><th>${t('cus.tags')}</th><th>${t('cus.last_contact')}</th></tr></thead>
        <tbody>${items.map((c) => html`<tr class=${`clickable ${picked === c.id ? 'active' : ''}`} data-testid="cus-row" data-id=${c.id} data-nick=${c.nick}
          onClick=${() => setPicked(c.id)}>
          <td onClick=${(e) => e.stopPropagation()}><input type="checkbox" data-testid="cus-check" aria-label=${c.nick}
            checked=${checked.has(c.id)} onChange=${() => toggle(c.id)} /></td>
          <td><b>${c.nick}</b>${c.name ? html` <span class="muted small">${c.name}</span>` : null}
            ${c.opted_out ? html` <span class="tag">${t('cus.opted_out_short')}</span>` : null}</td>
          <td><span class="tags">${c.group ? html`<span class="tag group">${t(`group.${c.group}`)}</span>` : null}
            ${c.custom_groups.map((g) => html`<span class="tag">${groupName.get(g) ?? ''}</span>`)}</span></td>
          <td><span class="tags">${c.tags.map((x) => html`<span class="tag tagged">${x}</span>`)}</span></td>
          <td class="muted small">${c.last_contact ? fmtDateTime(c.last_contact) : '—'}</td>
        </tr>`)}</tbody></table>` : null}
      ${page && items.length === 0 ? html`<p class="muted small">${t('cus.none')}</p>` : null}
      ${page ? html`<${Pager} offset=${offset} limit=${PAGE} total=${page.total} onPage=${setOffset} testid="cus-pager" />` : null}
    </section>
    <aside class="kb-side">
      ${picked ? html`<${Profile} id=${picked} groups=${groups} onChanged=${refresh} />` : html`<p class="muted small pad">${t('cus.pick')}</p>`}
    </aside>
  </div>`;
}

// 子账号管理 (SPEC §6.1, §2.2, §1.7): the shop's staff with role and skill group, whether each
// takes part in routing (分流) and how many chats at once (接待上限); create, edit, disable,
// reset a password, remove; each agent's own greeting, busy and away replies and signature.
import { html, useState, useEffect } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { refusal, Field, FormError, fmtDateTime, useKept } from '/ui/app/admin-ui.js';

const SKILL_GROUPS = ['售前', '售后'];

/** The roles the caller may give: owners make admins too, admins only supervisors and agents. */
function grantable(me) {
  return me.role === 'owner' ? ['admin', 'supervisor', 'agent'] : ['supervisor', 'agent'];
}

function SkillGroupInput({ value, onInput, groups, error, testid }) {
  return html`<input data-testid=${testid} list="skill-groups" value=${value} maxlength="20" placeholder=${t('acc.skill_group_hint')}
    aria-invalid=${error?.field === 'skill_group'} onInput=${(e) => onInput(e.target.value)} />
    <datalist id="skill-groups">${groups.map((g) => html`<option value=${g} />`)}</datalist>`;
}

function NewAccount({ me, groups, onCreated, onCancel }) {
  const blankForm = { username: '', display_name: '', role: 'agent', password: '', skill_group: '售前', takes_chats: true, capacity: '8' };
  const [f, setF] = useKept('accounts.new', blankForm);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k, v) => setF({ ...f, [k]: v });
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      username: f.username.trim(), display_name: f.display_name.trim(), role: f.role, password: f.password,
      skill_group: f.skill_group.trim() || null, takes_chats: f.takes_chats,
    };
    if (f.capacity !== '') body.capacity = Number(f.capacity);
    try {
      const a = await api('POST', '/accounts', body);
      setF(blankForm);
      onCreated(a);
    } catch (e) {
      const r = refusal(e);
      if (e.status === 409 && !r.field) r.field = 'username'; // the login name is taken
      setError(r);
      setBusy(false);
    }
  };
  return html`<form class="box kb-editor" data-testid="account-new" onSubmit=${submit} noValidate>
    <div class="box-head"><b>${t('acc.new')}</b></div>
    <${Field} label=${t('acc.username')} name="username" error=${error} hint=${t('acc.username_hint')}>
      <input data-testid="account-new-username" value=${f.username} maxlength="32" autocomplete="off"
        aria-invalid=${error?.field === 'username'} onInput=${(e) => set('username', e.target.value)} /><//>
    <${Field} label=${t('acc.display_name')} name="display_name" error=${error}>
      <input data-testid="account-new-name" value=${f.display_name} maxlength="32"
        aria-invalid=${error?.field === 'display_name'} onInput=${(e) => set('display_name', e.target.value)} /><//>
    <${Field} label=${t('acc.password')} name="password" error=${error} hint=${t('acc.password_hint')}>
      <input data-testid="account-new-password" type="password" value=${f.password} autocomplete="new-password"
        aria-invalid=${error?.field === 'password'} onInput=${(e) => set('password', e.target.value)} /><//>
    <${Field} label=${t('acc.role')} name="role" error=${error}>
      <select data-testid="account-new-role" value=${f.role} onChange=${(e) => set('role', e.target.value)}>
        ${grantable(me).map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}</select><//>
    <${Field} label=${t('acc.skill_group')} name="skill_group" error=${error}>
      <${SkillGroupInput} testid="account-new-group" value=${f.skill_group} groups=${groups} error=${error} onInput=${(v) => set('skill_group', v)} /><//>
    <label class="check"><input type="checkbox" data-testid="account-new-routing" checked=${f.takes_chats}
      onChange=${(e) => set('takes_chats', e.target.checked)} /> ${t('acc.takes_chats')}</label>
    <${Field} label=${t('acc.capacity')} name="capacity" error=${error} hint=${t('acc.capacity_hint')}>
      <input data-testid="account-new-capacity" type="number" min="1" max="100" value=${f.capacity}
        aria-invalid=${error?.field === 'capacity'} onInput=${(e) => set('capacity', e.target.value)} /><//>
    <${FormError} error=${error} fields=${['username', 'display_name', 'password', 'role', 'skill_group', 'capacity']} testid="account-new-error" />
    <div class="row end">
      <button type="button" class="btn small" onClick=${onCancel}>${t('common.cancel')}</button>
      <button type="submit" class="btn small primary" data-testid="account-create" disabled=${busy}>${t('acc.create')}</button>
    </div>
  </form>`;
}

function accountForm(a) {
  return {
    display_name: a.display_name, role: a.role, skill_group: a.routing.skill_group ?? '',
    takes_chats: a.routing.takes_chats, capacity: String(a.routing.capacity), disabled: a.disabled,
  };
}

function AccountEditor({ a, me, groups, onChanged, onRemoved }) {
  const [f, setF] = useState(accountForm(a));
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [busy, setBusy] = useState(false);
  const [pw, setPw] = useState('');
  const [pwMsg, setPwMsg] = useState(null);
  useEffect(() => { setF(accountForm(a)); setError(null); setSaved(null); setPw(''); setPwMsg(null); }, [a.id]);
  const set = (k, v) => { setF({ ...f, [k]: v }); setSaved(null); };
  // The server lets nobody change the owner account, and admins no admin account (their own included).
  const locked = a.role === 'owner' || (me.role === 'admin' && a.role === 'admin');
  const self = a.id === me.id;
  const save = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    const was = accountForm(a);
    const body = {};
    if (f.display_name !== was.display_name) body.display_name = f.display_name.trim();
    if (f.role !== was.role) body.role = f.role;
    if (f.skill_group.trim() !== was.skill_group) body.skill_group = f.skill_group.trim() || null;
    if (f.takes_chats !== was.takes_chats) body.takes_chats = f.takes_chats;
    if (f.capacity !== was.capacity) body.capacity = f.capacity === '' ? null : Number(f.capacity);
    if (f.disabled !== was.disabled) body.disabled = f.disabled;
    try {
      const next = Object.keys(body).length ? await api('PATCH', `/accounts/${a.id}`, body) : a;
      onChanged(next);
      setF(accountForm(next));
      setSaved(t('kba.saved'));
    } catch (e) {
      setError(refusal(e));
    }
    setBusy(false);
  };
  const resetPassword = async (ev) => {
    ev.preventDefault();
    setPwMsg(null);
    try {
      await api('PUT', `/accounts/${a.id}/password`, { new_password: pw });
      setPw('');
      setPwMsg({ ok: true, text: t('acc.password_done') });
    } catch (e) {
      setPwMsg({ ok: false, text: errorMessage(e) });
    }
  };
  const remove = async () => {
    if (!confirm(t('acc.delete_confirm', { name: a.display_name }))) return;
    try {
      await api('DELETE', `/accounts/${a.id}`);
      onRemoved(a.id);
    } catch (e) {
      setError(refusal(e));
    }
  };
  const roles = grantable(me).includes(a.role) ? grantable(me) : [a.role, ...grantable(me)];
  return html`<div class="account-editor" data-testid="account-editor" data-id=${a.id}>
    <form class="box kb-editor" onSubmit=${save} noValidate>
      <div class="box-head"><b>${a.display_name}</b> <span class="muted small">${a.username}</span>
        <span class="tag">${t(`role.${a.role}`)}</span></div>
      ${locked ? html`<p class="muted small" data-testid="account-locked">${a.role === 'owner' ? t('acc.owner_locked') : t('acc.admin_locked')}</p>` : null}
      <fieldset disabled=${locked} class="plain">
        <${Field} label=${t('acc.display_name')} name="display_name" error=${error}>
          <input data-testid="account-name" value=${f.display_name} maxlength="32" onInput=${(e) => set('display_name', e.target.value)} /><//>
        <${Field} label=${t('acc.role')} name="role" error=${error}>
          <select data-testid="account-role" value=${f.role} disabled=${self} onChange=${(e) => set('role', e.target.value)}>
            ${roles.map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}</select><//>
        <${Field} label=${t('acc.skill_group')} name="skill_group" error=${error}>
          <${SkillGroupInput} testid="account-group" value=${f.skill_group} groups=${groups} error=${error} onInput=${(v) => set('skill_group', v)} /><//>
        <label class="check"><input type="checkbox" data-testid="account-routing" checked=${f.takes_chats}
          onChange=${(e) => set('takes_chats', e.target.checked)} /> ${t('acc.takes_chats')}</label>
        <${Field} label=${t('acc.capacity')} name="capacity" error=${error} hint=${t('acc.capacity_hint')}>
          <input data-testid="account-capacity" type="number" min="1" max="100" value=${f.capacity}
            aria-invalid=${error?.field === 'capacity'} onInput=${(e) => set('capacity', e.target.value)} /><//>
        <label class="check"><input type="checkbox" data-testid="account-disabled" checked=${f.disabled} disabled=${self}
          onChange=${(e) => set('disabled', e.target.checked)} /> ${t('acc.disable')}</label>
        <span class="muted small">${t('acc.disable_hint')}</span>
      </fieldset>
      <${FormError} error=${error} fields=${['display_name', 'role', 'skill_group', 'capacity']} testid="account-error" />
      ${saved ? html`<div class="ok-text small" role="status" data-testid="account-saved">${saved}</div>` : null}
      ${locked ? null : html`<div class="row end">
        ${self ? null : html`<button type="button" class="btn small danger" data-testid="account-delete" onClick=${remove}>${t('adm.delete')}</button>
          <span class="spacer"></span>`}
        <button type="submit" class="btn small primary" data-testid="account-save" disabled=${busy}>${t('kba.save')}</button>
      </div>`}
    </form>
    ${locked || self ? null : html`<form class="box kb-editor" onSubmit=${resetPassword}>
      <div class="box-head"><b>${t('acc.reset_password')}</b></div>
      <p class="muted small">${t('acc.reset_hint')}</p>
      <div class="row">
        <input type="password" data-testid="account-new-pw" value=${pw} autocomplete="new-password" aria-label=${t('acc.new_password')}
          placeholder=${t('acc.new_password')} onInput=${(e) => setPw(e.target.value)} />
        <button type="submit" class="btn small" data-testid="account-reset-pw" disabled=${!pw}>${t('acc.reset')}</button>
      </div>
      ${pwMsg ? html`<div class=${pwMsg.ok ? 'ok-text small' : 'error-text small'} role=${pwMsg.ok ? 'status' : 'alert'}
        data-testid="account-pw-msg">${pwMsg.text}</div>` : null}
    </form>`}
    <${RepliesEditor} a=${a} self=${self} locked=${locked && !self} />
  </div>`;
}

const REPLY_KINDS = ['greeting', 'busy', 'away'];

/** An agent's own replies (blank: the shop's, shown as the placeholder) and signature. */
function RepliesEditor({ a, self, locked }) {
  const path = self ? '/me/replies' : `/accounts/${a.id}/replies`;
  const [r, setR] = useState(null);
  const [f, setF] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    setR(null); setF(null); setError(null); setSaved(false);
    api('GET', path).then((x) => {
      setR(x);
      setF({ greeting: x.own.greeting ?? '', busy: x.own.busy ?? '', away: x.own.away ?? '', signature: x.own.signature ?? '' });
    }).catch((e) => setError(refusal(e)));
  }, [a.id]);
  const save = async (ev) => {
    ev.preventDefault();
    setError(null);
    setSaved(false);
    const body = { signature: f.signature };
    for (const k of REPLY_KINDS) body[k] = f[k].trim() ? f[k] : null;
    try {
      setR(await api('PUT', path, body));
      setSaved(true);
    } catch (e) {
      setError(refusal(e));
    }
  };
  const set = (k, v) => { setF({ ...f, [k]: v }); setSaved(false); };
  return html`<form class="box kb-editor" data-testid="account-replies" onSubmit=${save} noValidate>
    <div class="box-head"><b>${t('acc.replies')}</b></div>
    <p class="muted small">${t('acc.replies_hint')}</p>
    ${f ? html`<fieldset disabled=${locked} class="plain">
      ${REPLY_KINDS.map((k) => html`<${Field} label=${t(`set.auto_replies.${k}`)} name=${k} error=${error}>
        <textarea rows="2" data-testid=${`account-reply-${k}`} value=${f[k]} placeholder=${r?.effective?.[k] ?? ''}
          onInput=${(e) => set(k, e.target.value)}></textarea><//>`)}
      <${Field} label=${t('acc.signature')} name="signature" error=${error} hint=${t('acc.signature_hint')}>
        <input data-testid="account-signature" value=${f.signature} maxlength="60" onInput=${(e) => set('signature', e.target.value)} /><//>
    </fieldset>` : error ? null : html`<p class="muted small">${t('common.loading')}</p>`}
    <${FormError} error=${error} fields=${f ? [...REPLY_KINDS, 'signature'] : []} testid="account-replies-error" />
    ${saved ? html`<div class="ok-text small" role="status" data-testid="account-replies-saved">${t('kba.saved')}</div>` : null}
    ${f && !locked ? html`<div class="row end"><button type="submit" class="btn small primary" data-testid="account-replies-save">${t('kba.save')}</button></div>` : null}
  </form>`;
}

export function AccountsAdmin({ me }) {
  useLang();
  const [list, setList] = useState(null);
  const [presence, setPresence] = useState(new Map());
  const [picked, setPicked] = useKept('accounts.picked', null);
  const [creating, setCreating] = useKept('accounts.creating', false);
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  const load = () => api('GET', '/accounts').then((l) => { setList(l); setError(null); }).catch((e) => setError(errorMessage(e)));
  const loadPresence = () => api('GET', '/chat/agents')
    .then((l) => setPresence(new Map(l.map((x) => [x.account_id, x])))).catch(() => {});
  useEffect(() => {
    load();
    loadPresence();
    const timer = setInterval(loadPresence, 10000);
    return () => clearInterval(timer);
  }, []);
  const groups = [...new Set([...SKILL_GROUPS, ...(list ?? []).map((a) => a.routing.skill_group).filter(Boolean)])];
  const current = (list ?? []).find((a) => a.id === picked);
  const onChanged = (a) => { setList((l) => (l ?? []).map((x) => (x.id === a.id ? a : x))); loadPresence(); };
  const onCreated = (a) => {
    setCreating(false);
    setList((l) => [...(l ?? []), a]);
    setPicked(a.id);
    setNote(t('acc.created', { name: a.display_name, username: a.username }));
    load();
    loadPresence();
  };
  const onRemoved = (id) => { setPicked(null); setList((l) => (l ?? []).filter((x) => x.id !== id)); load(); };
  return html`<div class="admin-split" data-testid="accounts-admin">
    <section class="admin-page">
      <div class="row admin-toolbar">
        <b>${t('acc.title')}</b> <span class="muted small">${list ? t('acc.count', { n: list.length }) : ''}</span>
        <span class="spacer"></span>
        <button class="btn small primary" data-testid="account-new-open" onClick=${() => { setCreating(true); setPicked(null); setNote(null); }}>${t('acc.new')}</button>
      </div>
      <p class="muted small">${t('acc.hint')}</p>
      ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
      ${note ? html`<div class="ok-text small" role="status" data-testid="account-note">${note}</div>` : null}
      ${list == null && !error ? html`<p class="muted">${t('common.loading')}</p>` : null}
      ${list ? html`<table class="table accounts">
        <thead><tr><th>${t('acc.display_name')}</th><th>${t('acc.username')}</th><th>${t('acc.role')}</th><th>${t('acc.skill_group')}</th>
          <th>${t('acc.routing')}</th><th class="num">${t('acc.capacity')}</th><th>${t('acc.presence')}</th><th>${t('acc.status')}</th></tr></thead>
        <tbody>${list.map((a) => {
          const p = presence.get(a.id);
          return html`<tr class=${`clickable ${picked === a.id ? 'active' : ''} ${a.disabled ? 'off' : ''}`} data-testid="account-row" data-id=${a.id}
            data-username=${a.username} onClick=${() => { setPicked(a.id); setCreating(false); setNote(null); }}>
            <td><span class="avatar av-agent small-av">${a.display_name.slice(0, 1)}</span> <b>${a.display_name}</b>${a.id === me.id ? html` <span class="muted small">${t('acc.me')}</span>` : null}</td>
            <td class="mono">${a.username}</td>
            <td>${t(`role.${a.role}`)}</td>
            <td>${a.routing.skill_group ? html`<span class="tag group">${a.routing.skill_group}</span>` : html`<span class="muted">${t('transfer.any_group')}</span>`}</td>
            <td data-testid="account-row-routing">${a.routing.takes_chats ? html`<span class="ok-text">${t('acc.routing_on')}</span>` : html`<span class="muted">${t('acc.routing_off')}</span>`}</td>
            <td class="num" data-testid="account-row-capacity">${p ? `${p.load}/${a.routing.capacity}` : a.routing.capacity}</td>
            <td>${p ? html`<span class=${`presence-tag presence-${p.presence}`}><i class="dot"></i>${t(`presence.${p.presence}`)}</span>` : ''}</td>
            <td data-testid="account-row-status">${a.disabled ? html`<span class="tag wait late">${t('acc.disabled')}</span>` : html`<span class="muted">${t('acc.active')}</span>`}</td>
          </tr>`;
        })}</tbody></table>` : null}
    </section>
    <aside class="kb-side">
      ${creating ? html`<${NewAccount} me=${me} groups=${groups} onCreated=${onCreated} onCancel=${() => setCreating(false)} />`
      : current ? html`<${AccountEditor} a=${current} me=${me} groups=${groups} onChanged=${onChanged} onRemoved=${onRemoved} />
        <p class="muted small">${t('acc.created_at', { at: fmtDateTime(current.created_at) })}</p>`
      : html`<p class="muted small pad">${t('acc.pick')}</p>`}
    </aside>
  </div>`;
}

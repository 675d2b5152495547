// 店铺设置 (SPEC §6.2, §1.3, §1.7, §2.2, §3.3, §4.7): the whole settings document — shop
// mode, business hours, auto-replies, the bot's thresholds and texts, routing by intent, chat
// closing, payment reminders and their windows, outreach, orders, link safety — edited as one
// draft and saved as one (the server validates it whole; a refusal shows next to its field and
// the draft stays as typed). Then the widget: the embed snippet and the signing secret.
import { html, useState, useEffect, useRef } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { api, errorMessage } from '/ui/app/api.js';
import { refusal, Field, FieldError, useKept } from '/ui/app/admin-ui.js';

const DAYS = [1, 2, 3, 4, 5, 6, 7];
const REASONS = ['bargaining', 'comparing', 'worried', 'forgot'];
const ZONES = ['Asia/Shanghai', 'Asia/Hong_Kong', 'Asia/Taipei', 'Asia/Tokyo', 'Asia/Singapore', 'Europe/London', 'America/Los_Angeles', 'UTC'];

const clone = (x) => JSON.parse(JSON.stringify(x));

/** `obj` with `value` at `path` (an array of keys and indexes), copied along the way. */
function setIn(obj, path, value) {
  if (!path.length) return value;
  const [k, ...rest] = path;
  const copy = Array.isArray(obj) ? [...obj] : { ...(obj ?? {}) };
  copy[k] = setIn(copy[k], rest, value);
  return copy;
}
function getIn(obj, path) {
  return path.reduce((o, k) => (o == null ? undefined : o[k]), obj);
}
const pathName = (path) => path.reduce((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');
const lines = (text) => text.split('\n').map((x) => x.trim()).filter(Boolean);
/** A number input's value: blank is null (the server's default, or its refusal). */
const num = (v) => (v === '' || v == null ? null : Number(v));

function Section({ title, hint, children, testid }) {
  return html`<section class="box settings-section" data-testid=${testid}>
    <div class="box-head"><b>${title}</b>${hint ? html` <span class="muted small">${hint}</span>` : null}</div>
    ${children}
  </section>`;
}

function TimeInput({ value, onInput, testid, label }) {
  return html`<input class="time" data-testid=${testid} value=${value ?? ''} maxlength="5" placeholder="09:00" aria-label=${label}
    inputmode="numeric" onInput=${(e) => onInput(e.target.value.trim())} />`;
}

/** The embed code for the shop's pages, the links, and the widget secret for signed buyers. */
function WidgetSetup({ shop }) {
  const [group, setGroup] = useState('');
  const [copied, setCopied] = useState(null);
  const [secret, setSecret] = useKept('settings.secret', null); // shown once: kept until copied
  const [msg, setMsg] = useState(null);
  const origin = location.origin;
  const widgetUrl = `${origin}/widget/${encodeURIComponent(shop.slug)}${group ? `?group=${encodeURIComponent(group)}` : ''}`;
  const helpUrl = `${origin}/help/${encodeURIComponent(shop.slug)}`;
  const snippet = `<iframe src="${widgetUrl}" title="${t('w.title')}" allow="clipboard-write"\n  style="position:fixed;right:16px;bottom:16px;width:380px;height:600px;max-height:calc(100vh - 32px);border:0;border-radius:12px;box-shadow:0 8px 32px rgba(0,0,0,.18);z-index:9999"></iframe>`;
  const copy = async (text, which) => {
    try { await navigator.clipboard.writeText(text); setCopied(which); } catch { setCopied(null); }
    setTimeout(() => setCopied((c) => (c === which ? null : c)), 2000);
  };
  const make = async () => {
    if (!confirm(t('set.widget.new_confirm'))) return;
    setMsg(null);
    try { setSecret((await api('POST', '/shop/widget-secret')).secret); } catch (e) { setMsg(errorMessage(e)); }
  };
  const drop = async () => {
    if (!confirm(t('set.widget.drop_confirm'))) return;
    setMsg(null);
    setSecret(null);
    try { await api('DELETE', '/shop/widget-secret'); setMsg(t('set.widget.dropped')); } catch (e) { setMsg(errorMessage(e)); }
  };
  return html`<${Section} title=${t('set.widget')} hint=${t('set.widget.hint')} testid="settings-widget">
    <div class="row wrap">
      <span class="muted small">${t('set.widget.group')}</span>
      <select class="auto" data-testid="widget-group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
        <option value="">${t('transfer.any_group')}</option><option value="售前">售前</option><option value="售后">售后</option></select>
    </div>
    <label class="block-label">${t('set.widget.snippet')}
      <textarea class="mono snippet" data-testid="widget-snippet" rows="5" readonly value=${snippet} onFocus=${(e) => e.target.select()}></textarea></label>
    <div class="row wrap">
      <button type="button" class="btn small" data-testid="widget-copy" onClick=${() => copy(snippet, 'snippet')}>${copied === 'snippet' ? t('set.copied') : t('set.copy')}</button>
      <a class="btn small" href=${widgetUrl} target="_blank" rel="noopener" data-testid="widget-open">${t('set.widget.open')}</a>
      <a class="btn small" href=${helpUrl} target="_blank" rel="noopener">${t('set.widget.help')}</a>
    </div>
    <p class="muted small">${t('set.widget.params')}</p>
    <div class="subsection">
      <b class="small">${t('set.widget.secret')}</b>
      <p class="muted small">${t('set.widget.secret_hint')}</p>
      ${secret ? html`<div class="secret-box" data-testid="widget-secret"><code>${secret}</code>
        <button type="button" class="btn small" onClick=${() => copy(secret, 'secret')}>${copied === 'secret' ? t('set.copied') : t('set.copy')}</button>
        <div class="warn-text small">${t('set.widget.secret_once')}</div></div>` : null}
      <div class="row">
        <button type="button" class="btn small" data-testid="widget-secret-new" onClick=${make}>${t('set.widget.new')}</button>
        <button type="button" class="btn small danger" data-testid="widget-secret-drop" onClick=${drop}>${t('set.widget.drop')}</button>
      </div>
      ${msg ? html`<div class="muted small" role="status">${msg}</div>` : null}
    </div>
  <//>`;
}

export function SettingsAdmin({ shop }) {
  useLang();
  const [saved, setSaved] = useKept('settings.saved', null);
  const [draft, setDraft] = useKept('settings.draft', null);
  const [cats, setCats] = useState([]);
  const [error, setError] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [shopInfo, setShopInfo] = useState(shop);
  // 意图分流 rows as typed: a map would merge two rows the moment one's name matches another's.
  const [intentRows, setIntentRows] = useKept('settings.intents', []);
  // Numbers and one-per-line lists as typed ("0.", a blank line about to be filled), by field.
  const [raw, setRaw] = useKept('settings.raw', {});
  const root = useRef(null);
  const reset = (s) => { setSaved(s); setDraft(clone(s)); setIntentRows(Object.entries(s.bot?.intent_groups ?? {})); setRaw({}); };
  useEffect(() => {
    // A draft left unsaved in another visit stays as it was; otherwise the server's settings.
    const unsaved = draft && saved && JSON.stringify(draft) !== JSON.stringify(saved);
    api('GET', '/shop/settings').then((s) => { if (unsaved) setSaved(s); else reset(s); }).catch((e) => setLoadError(errorMessage(e)));
    api('GET', '/kb/categories').then(setCats).catch(() => {});
    api('GET', '/shop').then(setShopInfo).catch(() => {});
  }, []);
  useEffect(() => {
    // Bring the field the server refused into view.
    if (!error?.field) return;
    requestAnimationFrame(() => root.current?.querySelector('[data-testid=field-error]')?.scrollIntoView({ block: 'center' }));
  }, [error]);
  if (loadError) return html`<div class="admin-page"><div class="error-text" role="alert">${loadError}</div></div>`;
  if (!draft) return html`<div class="admin-page"><p class="muted">${t('common.loading')}</p></div>`;

  const at = (...path) => getIn(draft, path);
  const put = (path, value) => { setDraft((d) => setIn(d, path, value)); setDone(false); };
  const dirty = JSON.stringify(draft) !== JSON.stringify(saved);
  const err = error;
  const text = (path, { rows = 0, max, testid, placeholder } = {}) => {
    const v = at(...path) ?? '';
    const id = testid ?? `set-${pathName(path)}`;
    return rows ? html`<textarea rows=${rows} data-testid=${id} value=${v} maxlength=${max} placeholder=${placeholder}
        aria-invalid=${!!err && err.field === pathName(path)} onInput=${(e) => put(path, e.target.value)}></textarea>`
      : html`<input data-testid=${id} value=${v} maxlength=${max} placeholder=${placeholder}
        aria-invalid=${!!err && err.field === pathName(path)} onInput=${(e) => put(path, e.target.value)} />`;
  };
  const typed = (path, value, shown) => { setRaw((r) => ({ ...r, [pathName(path)]: shown })); put(path, value); };
  const shownAs = (path, fallback) => raw[pathName(path)] ?? fallback;
  const number = (path, { min = 0, max, step, placeholder } = {}) => html`<input type="number" data-testid=${`set-${pathName(path)}`}
    value=${shownAs(path, at(...path) ?? '')} min=${min} max=${max} step=${step} placeholder=${placeholder}
    aria-invalid=${!!err && err.field === pathName(path)} onInput=${(e) => typed(path, num(e.target.value), e.target.value)} />`;
  const field = (path, label, input, hint) => html`<${Field} label=${label} name=${pathName(path)} error=${err} hint=${hint}>${input}<//>`;
  const list = (path, label, hint) => html`<${Field} label=${label} name=${pathName(path)} error=${err} hint=${hint}>
    <textarea rows=${Math.max(2, (at(...path) ?? []).length + 1)} data-testid=${`set-${pathName(path)}`}
      value=${shownAs(path, (at(...path) ?? []).join('\n'))} onInput=${(e) => typed(path, lines(e.target.value), e.target.value)}></textarea><//>`;

  const save = async (ev) => {
    ev?.preventDefault();
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      reset(await api('PUT', '/shop/settings', draft));
      setDone(true);
    } catch (e) {
      setError(refusal(e));
    }
    setBusy(false);
  };

  const hours = at('business_hours') ?? [];
  const windows = at('reminder_hours', 'windows') ?? [];
  const intents = intentRows;
  const setIntents = (pairs) => {
    setIntentRows(pairs);
    put(['bot', 'intent_groups'], Object.fromEntries(pairs.filter(([k]) => k.trim()).map(([k, v]) => [k.trim(), v.trim()])));
  };
  const fen = at('free_shipping_threshold');

  return html`<form class="admin-page settings" data-testid="settings-admin" ref=${root} onSubmit=${save} noValidate>
    <div class="save-bar" data-testid="settings-bar">
      <b>${t('set.title')}</b>
      <span class="muted small">${shopInfo?.name} · ${shopInfo?.slug}</span>
      <span class="spacer"></span>
      ${dirty ? html`<span class="warn-text small" data-testid="settings-dirty">${t('set.unsaved')}</span>` : null}
      ${done && !dirty ? html`<span class="ok-text small" role="status" data-testid="settings-saved">${t('set.saved')}</span>` : null}
      <button type="button" class="btn small" disabled=${!dirty || busy} data-testid="settings-revert"
        onClick=${() => { reset(saved); setError(null); }}>${t('set.revert')}</button>
      <button type="submit" class="btn small primary" data-testid="settings-save" disabled=${!dirty || busy}>${t('set.save')}</button>
      ${err ? html`<div class="error-text small settings-error" role="alert" data-testid="settings-error" data-field=${err.field ?? ''}>
        ${t('set.refused')} ${err.text}</div>` : null}
    </div>

    <div class="settings-grid">
    <${Section} title=${t('set.basic')} testid="settings-basic">
      ${field(['mode'], t('set.mode'), html`<select data-testid="set-mode" value=${at('mode')} onChange=${(e) => put(['mode'], e.target.value)}>
        <option value="mall">${t('set.mode.mall')}</option><option value="c2c">${t('set.mode.c2c')}</option></select>`, t('set.mode_hint'))}
      ${field(['time_zone'], t('set.time_zone'), html`<input data-testid="set-time_zone" list="time-zones" value=${at('time_zone')}
        onInput=${(e) => put(['time_zone'], e.target.value.trim())} /><datalist id="time-zones">${ZONES.map((z) => html`<option value=${z} />`)}</datalist>`)}
    <//>

    <${Section} title=${t('set.hours')} hint=${t('set.hours_hint')} testid="settings-hours">
      ${hours.map((h, i) => html`<div class="hours-row" data-testid="hours-row">
        <div class="days">${DAYS.map((d) => html`<button type="button" class=${`chip small ${h.days.includes(d) ? 'on' : ''}`}
          aria-pressed=${h.days.includes(d)} onClick=${() => put(['business_hours', i, 'days'],
            h.days.includes(d) ? h.days.filter((x) => x !== d) : [...h.days, d].sort())}>${t(`day.${d}`)}</button>`)}</div>
        <div class="row">
          <${TimeInput} label=${t('set.open')} testid="hours-open" value=${h.open} onInput=${(v) => put(['business_hours', i, 'open'], v)} />
          <span class="muted">–</span>
          <${TimeInput} label=${t('set.close')} testid="hours-close" value=${h.close} onInput=${(v) => put(['business_hours', i, 'close'], v)} />
          <button type="button" class="link-btn small danger" onClick=${() => put(['business_hours'], hours.filter((_, j) => j !== i))}>${t('adm.remove')}</button>
        </div>
        <${FieldError} error=${err} name=${`business_hours[${i}]`} />
      </div>`)}
      <${FieldError} error=${err} name="business_hours" />
      <button type="button" class="link-btn small" data-testid="hours-add"
        onClick=${() => put(['business_hours'], [...hours, { days: [1, 2, 3, 4, 5], open: '09:00', close: '18:00' }])}>+ ${t('set.hours_add')}</button>
    <//>

    <${Section} title=${t('set.auto_replies')} hint=${t('set.auto_replies_hint')} testid="settings-replies">
      ${['greeting', 'busy', 'away'].map((k) => field(['auto_replies', k], t(`set.auto_replies.${k}`), text(['auto_replies', k], { rows: 2, max: 500 })))}
    <//>

    <${Section} title=${t('set.bot')} hint=${t('set.bot_hint')} testid="settings-bot">
      <div class="grid2">
        ${field(['bot', 'answer_threshold'], t('set.bot.answer_threshold'), number(['bot', 'answer_threshold'], { max: 1, step: 0.01, placeholder: t('set.default') }))}
        ${field(['bot', 'suggest_threshold'], t('set.bot.suggest_threshold'), number(['bot', 'suggest_threshold'], { max: 1, step: 0.01, placeholder: t('set.default') }))}
        ${field(['bot', 'max_suggestions'], t('set.bot.max_suggestions'), number(['bot', 'max_suggestions'], { min: 1, max: 9 }))}
        ${field(['bot', 'failures_before_handoff'], t('set.bot.failures_before_handoff'), number(['bot', 'failures_before_handoff']))}
      </div>
      <p class="muted small">${t('set.bot.thresholds_hint')}</p>
      ${field(['bot', 'suggest_text'], t('set.bot.suggest_text'), text(['bot', 'suggest_text'], { max: 200 }))}
      ${field(['bot', 'fallback_text'], t('set.bot.fallback_text'), text(['bot', 'fallback_text'], { rows: 2, max: 500 }))}
      ${field(['bot', 'handoff_text'], t('set.bot.handoff_text'), text(['bot', 'handoff_text'], { rows: 2, max: 500 }))}
    <//>

    <${Section} title=${t('set.routing')} hint=${t('set.routing_hint')} testid="settings-routing">
      <table class="table compact"><thead><tr><th>${t('set.intent.category')}</th><th>${t('set.intent.group')}</th><th></th></tr></thead>
      <tbody>${intents.map(([k, v], i) => html`<tr data-testid="intent-row">
        <td><input list="kb-cat-names" value=${k} aria-label=${t('set.intent.category')}
          onInput=${(e) => setIntents(intents.map((p, j) => (j === i ? [e.target.value, p[1]] : p)))} /></td>
        <td><input list="skill-groups-set" value=${v} aria-label=${t('set.intent.group')}
          onInput=${(e) => setIntents(intents.map((p, j) => (j === i ? [p[0], e.target.value] : p)))} /></td>
        <td><button type="button" class="link-btn small danger" onClick=${() => setIntents(intents.filter((_, j) => j !== i))}>${t('adm.remove')}</button></td>
      </tr>`)}</tbody></table>
      <datalist id="kb-cat-names">${cats.map((c) => html`<option value=${c.name} />`)}</datalist>
      <datalist id="skill-groups-set"><option value="售前" /><option value="售后" /></datalist>
      <${FieldError} error=${err} name="bot.intent_groups" />
      <button type="button" class="link-btn small" onClick=${() => setIntents([...intents, ['', '售前']])}>+ ${t('set.intent.add')}</button>
      ${field(['idle_close_minutes'], t('set.idle_close_minutes'), number(['idle_close_minutes']), t('set.idle_close_hint'))}
    <//>

    <${Section} title=${t('set.reminders')} hint=${t('set.reminders_hint')} testid="settings-reminders">
      <div class="block-label"><span>${t('set.windows')}</span>
        ${windows.map((w, i) => html`<div data-testid="window-row"><div class="row">
          <${TimeInput} label=${t('set.from')} testid="window-start" value=${w.start} onInput=${(v) => put(['reminder_hours', 'windows', i, 'start'], v)} />
          <span class="muted">–</span>
          <${TimeInput} label=${t('set.until')} testid="window-end" value=${w.end} onInput=${(v) => put(['reminder_hours', 'windows', i, 'end'], v)} />
          <button type="button" class="link-btn small danger" onClick=${() => put(['reminder_hours', 'windows'], windows.filter((_, j) => j !== i))}>${t('adm.remove')}</button>
        </div><${FieldError} error=${err} name=${`reminder_hours.windows[${i}]`} /></div>`)}
        <button type="button" class="link-btn small left" data-testid="window-add"
          onClick=${() => put(['reminder_hours', 'windows'], [...windows, { start: '19:00', end: '21:00' }])}>+ ${t('set.window_add')}</button>
      </div>
      <div class="grid2">
        ${field(['reminder_hours', 'holiday_delay_minutes'], t('set.holiday_delay'), number(['reminder_hours', 'holiday_delay_minutes']))}
        <label class="check"><input type="checkbox" checked=${!!at('reminder_hours', 'weekends_are_holidays')}
          onChange=${(e) => put(['reminder_hours', 'weekends_are_holidays'], e.target.checked)} /> ${t('set.weekends_are_holidays')}</label>
      </div>
      ${list(['reminder_hours', 'holidays'], t('set.holidays'), t('set.holidays_hint'))}
      <div class="grid2">
        ${field(['reminders', 'max_per_order'], t('set.rem.max_per_order'), number(['reminders', 'max_per_order']))}
        ${field(['reminders', 'min_gap_minutes'], t('set.rem.min_gap_minutes'), number(['reminders', 'min_gap_minutes']))}
        ${field(['reminders', 'wait_after_order_minutes'], t('set.rem.wait_after_order_minutes'), number(['reminders', 'wait_after_order_minutes']))}
        ${field(['reminders', 'auto_reason'], t('set.rem.auto_reason'), html`<select value=${at('reminders', 'auto_reason') ?? 'forgot'}
          onChange=${(e) => put(['reminders', 'auto_reason'], e.target.value)}>${REASONS.map((r) => html`<option value=${r}>${t(`set.reason.${r}`)}</option>`)}</select>`)}
      </div>
      <label class="check"><input type="checkbox" data-testid="set-reminders.auto" checked=${!!at('reminders', 'auto')}
        onChange=${(e) => put(['reminders', 'auto'], e.target.checked)} /> ${t('set.rem.auto')}</label>
      ${REASONS.map((r) => field(['reminders', 'templates', r], t('set.rem.template', { reason: t(`set.reason.${r}`) }),
        text(['reminders', 'templates', r], { rows: 2, max: 500 })))}
      <p class="muted small">${t('set.variables_hint')}</p>
    <//>

    <${Section} title=${t('set.orders')} testid="settings-orders">
      <div class="grid2">
        ${field(['unpaid_timeout_minutes'], t('set.unpaid_timeout'), number(['unpaid_timeout_minutes']), t('set.unpaid_timeout_hint'))}
        ${field(['free_shipping_threshold'], t('set.free_shipping'), html`<input type="number" min="0" step="0.01" data-testid="set-free_shipping_threshold"
          value=${shownAs(['free_shipping_threshold'], fen == null ? '' : fen / 100)} placeholder=${t('set.free_shipping_none')}
          onInput=${(e) => typed(['free_shipping_threshold'], e.target.value === '' ? null : Math.round(Number(e.target.value) * 100), e.target.value)} />`, t('set.free_shipping_hint'))}
        ${field(['outreach', 'max_per_week'], t('set.outreach'), number(['outreach', 'max_per_week']), t('set.outreach_hint'))}
      </div>
      ${field(['invoice_note'], t('set.invoice_note'), text(['invoice_note'], { rows: 2, max: 500, placeholder: t('set.invoice_note_hint') }))}
      ${field(['notification_email'], t('set.notification_email'), text(['notification_email'], { max: 254, placeholder: 'kefu@example.com' }), t('set.notification_email_hint'))}
    <//>

    <${Section} title=${t('set.links')} hint=${t('set.links_hint')} testid="settings-links">
      ${list(['trusted_link_domains'], t('set.trusted_link_domains'), t('set.one_per_line'))}
      ${list(['item_link_forms'], t('set.item_link_forms'), t('set.one_per_line'))}
    <//>

    <${Section} title=${t('set.compliance')} hint=${t('set.compliance_hint')} testid="settings-compliance">
      ${field(['compliance', 'mode'], t('set.compliance.mode'), html`<select data-testid="set-compliance.mode" value=${at('compliance', 'mode') ?? 'warn'}
        onChange=${(e) => put(['compliance', 'mode'], e.target.value)}>
        <option value="warn">${t('set.compliance.warn')}</option><option value="block">${t('set.compliance.block')}</option></select>`)}
      ${list(['compliance', 'banned_words'], t('set.compliance.banned_words'), t('set.compliance.banned_words_hint'))}
      ${list(['compliance', 'exempt_phrases'], t('set.compliance.exempt_phrases'), t('set.compliance.exempt_phrases_hint'))}
    <//>

    ${shopInfo ? html`<${WidgetSetup} shop=${shopInfo} />` : null}
    </div>
  </form>`;
}

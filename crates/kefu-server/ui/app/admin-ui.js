// Pieces the admin pages share: a refusal shown next to the field it names, a dialog, file
// import (the server's line and reason when it refuses) and export buttons.
import { html, useState, useRef, useEffect } from '/ui/vendor/preact-htm.module.js';
import { t, getLang } from '/ui/i18n.js';
import { upload, download, errorMessage, authListeners } from '/ui/app/api.js';

// Forms half filled in outlive their page: switching to another section (or to 接待) and back
// finds them as they were left. Another login in this tab starts from nothing.
const kept = new Map();
authListeners.add(() => kept.clear());

/** useState whose value is kept under `key` while the tab's login lasts. */
export function useKept(key, initial) {
  const [value, setValue] = useState(() => (kept.has(key) ? kept.get(key) : (typeof initial === 'function' ? initial() : initial)));
  const set = (next) => setValue((cur) => {
    const v = typeof next === 'function' ? next(cur) : next;
    kept.set(key, v);
    return v;
  });
  return [value, set];
}

/** A refusal as the forms keep it: the server's words and the field it blames. */
export function refusal(e) {
  return { text: errorMessage(e), field: e.field ?? null, status: e.status };
}

/** Whether the server's `field` (`business_hours[0].open`) is `name` or inside it. */
export function fieldIs(field, name) {
  if (!field || !name) return false;
  return field === name || field.startsWith(`${name}.`) || field.startsWith(`${name}[`);
}

/** The refusal, shown where the field is (data-field says which one the server named). */
export function FieldError({ error, name, testid }) {
  if (!error || !fieldIs(error.field, name)) return null;
  return html`<span class="error-text small field-error" role="alert" data-testid=${testid ?? 'field-error'}
    data-field=${error.field}>${error.text}</span>`;
}

/** A refusal not tied to one of the fields shown (or as a summary by the save button). */
export function FormError({ error, fields = [], testid = 'form-error' }) {
  if (!error || fields.some((f) => fieldIs(error.field, f))) return null;
  return html`<div class="error-text small" role="alert" data-testid=${testid} data-field=${error.field ?? ''}>${error.text}</div>`;
}

/** A labelled field: the label turns red and the server's message shows under it when it is to blame. */
export function Field({ label, name, error, hint, children, class: cls = '' }) {
  const bad = fieldIs(error?.field, name);
  return html`<label class=${`block-label ${cls}`} data-name=${name}>
    <span class=${bad ? 'error-text' : ''}>${label}</span>
    ${children}
    ${hint ? html`<span class="muted small">${hint}</span>` : null}
    <${FieldError} error=${error} name=${name} />
  </label>`;
}

export function Modal({ title, onClose, children, testid, wide = false }) {
  useEffect(() => {
    const onKey = (e) => { if (e.key === 'Escape' && !e.isComposing) onClose(); };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  return html`<div class="modal-back" onClick=${(e) => { if (e.target === e.currentTarget) onClose(); }}>
    <div class=${`modal ${wide ? 'wide' : ''}`} role="dialog" aria-modal="true" aria-label=${title} data-testid=${testid}>
      <div class="modal-head"><b>${title}</b>
        <button type="button" class="btn ghost" onClick=${onClose} aria-label=${t('common.close')}>✕</button></div>
      ${children}
    </div>
  </div>`;
}

/** "file: line 3: the question is empty" → { line: 3, reason: "the question is empty" }. */
export function lineOf(message) {
  const m = /(?:^|:\s*)line (\d+):\s*([\s\S]*)$/.exec(message ?? '');
  return m ? { line: Number(m[1]), reason: m[2] } : { line: null, reason: message };
}

/** Buttons that download a file in both formats; a refusal shows beside them. */
export function DownloadButtons({ path, label, testid, name }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const get = async (format) => {
    setBusy(true);
    setError(null);
    try {
      const sep = path.includes('?') ? '&' : '?';
      await download(`${path}${sep}format=${format}`, `${name}.${format}`);
    } catch (e) {
      setError(errorMessage(e));
    }
    setBusy(false);
  };
  return html`<span class="download-buttons">
    ${label ? html`<span class="muted small">${label}</span>` : null}
    <button type="button" class="btn small" data-testid=${`${testid}-xlsx`} disabled=${busy} onClick=${() => get('xlsx')}>Excel</button>
    <button type="button" class="btn small" data-testid=${`${testid}-csv`} disabled=${busy} onClick=${() => get('csv')}>CSV</button>
    ${error ? html`<span class="error-text small" role="alert">${error}</span>` : null}
  </span>`;
}

/**
 * Import a file into `path` (merge or replace). All or nothing on the server's side: a refusal
 * names the line and the reason, and the chosen file stays chosen to try again once fixed.
 */
/** `modes: false` for a file that has one meaning (no merge or replace to choose). */
export function ImportDialog({ title, testid, path, templatePath, templateName, columns, summary, onDone, onClose, modes = true }) {
  const [file, setFile] = useState(null);
  const [mode, setMode] = useState('merge');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const input = useRef(null);
  const submit = async (ev) => {
    ev.preventDefault();
    if (!file) return;
    if (mode === 'replace' && !confirm(t('adm.import.replace_confirm'))) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const sep = path.includes('?') ? '&' : '?';
      const r = await upload(modes ? `${path}${sep}mode=${mode}` : path, file);
      setResult(r);
      onDone?.(r);
    } catch (e) {
      const { line, reason } = lineOf(e.message);
      setError({ text: errorMessage(e), line, reason: e.status === 422 ? reason : errorMessage(e) });
    }
    setBusy(false);
  };
  return html`<${Modal} title=${title} onClose=${onClose} testid=${testid}>
    <form class="import-form" onSubmit=${submit}>
      <p class="muted small">${t('adm.import.hint')} <code>${columns}</code></p>
      <div class="row"><${DownloadButtons} path=${templatePath} label=${t('adm.import.template')} testid=${`${testid}-template`} name=${templateName} /></div>
      <label class="block-label">${t('adm.import.file')}
        <input type="file" ref=${input} accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
          data-testid=${`${testid}-file`} onChange=${(e) => { setFile(e.target.files?.[0] ?? null); setError(null); setResult(null); }} /></label>
      ${modes ? html`<div class="block-label">${t('adm.import.mode')}
        <label class="check"><input type="radio" name="mode" value="merge" checked=${mode === 'merge'} onChange=${() => setMode('merge')} />
          ${t('adm.import.merge')}</label>
        <label class="check"><input type="radio" name="mode" value="replace" data-testid=${`${testid}-replace`} checked=${mode === 'replace'}
          onChange=${() => setMode('replace')} /> ${t('adm.import.replace')}</label>
      </div>` : null}
      ${error ? html`<div class="import-error" role="alert" data-testid=${`${testid}-error`} data-line=${error.line ?? ''}>
        <b>${t('adm.import.failed')}</b>
        <div>${error.line ? html`<span class="tag wait late" data-testid=${`${testid}-error-line`}>${t('adm.import.line', { n: error.line })}</span> ` : null}${error.reason}</div>
      </div>` : null}
      ${result ? html`<div class="ok-text small" role="status" data-testid=${`${testid}-result`}>${summary(result)}</div>` : null}
      <div class="row end">
        <button type="button" class="btn small" onClick=${onClose}>${result ? t('common.close') : t('common.cancel')}</button>
        <button type="submit" class="btn small primary" data-testid=${`${testid}-submit`} disabled=${busy || !file}>${t('adm.import.submit')}</button>
      </div>
    </form>
  <//>`;
}

/** An instant in full, in the browser's language: 2026-12-02 08:07. */
export function fmtDateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(getLang(), { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
}

/** Paging for `{items, total}` lists. */
export function Pager({ offset, limit, total, onPage, testid = 'pager' }) {
  if (total <= limit && offset === 0) return null;
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  return html`<div class="row pager" data-testid=${testid}>
    <button class="btn small" data-testid=${`${testid}-prev`} disabled=${offset === 0} onClick=${() => onPage(Math.max(0, offset - limit))}>${t('adm.prev')}</button>
    <span class="muted small">${t('adm.page', { page, pages, total })}</span>
    <button class="btn small" data-testid=${`${testid}-next`} disabled=${offset + limit >= total} onClick=${() => onPage(offset + limit)}>${t('adm.next')}</button>
  </div>`;
}

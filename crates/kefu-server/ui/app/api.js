// The workbench's HTTP side: the login it holds (this tab's sessionStorage), JSON calls under
// /api/v1 with its bearer token, files up and down, and what to tell the user when a call is
// refused (the server's own words). Shared by the workbench (main.js) and the admin pages.
import { t } from '/ui/i18n.js';
import { store } from '/ui/lib.js';

export let auth = null;
try { auth = JSON.parse(store.get('session', 'kefu_auth') ?? 'null'); } catch { auth = null; }
export const authListeners = new Set();
export function setAuth(a) {
  auth = a;
  store.set('session', 'kefu_auth', a ? JSON.stringify(a) : null);
  for (const fn of authListeners) fn(a);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
    this.field = body?.field ?? fieldOfMessage(body);
  }
}

/**
 * A value the server could not even read (400 `invalid_json`) names its field only in the
 * message: "Failed to deserialize …: business_hours[0].open: “25:00” is not …".
 */
function fieldOfMessage(body) {
  if (body?.error !== 'invalid_json' || typeof body.message !== 'string') return null;
  const m = /target type: ([A-Za-z_][\w.[\]]*): /.exec(body.message);
  return m ? m[1] : null;
}

function headers(extra) {
  const h = { accept: 'application/json', ...extra };
  if (auth?.token) h.authorization = `Bearer ${auth.token}`;
  return h;
}

async function send(method, path, init) {
  let r;
  try {
    r = await fetch(`/api/v1${path}`, { method, credentials: 'same-origin', ...init });
  } catch {
    throw new ApiError(0, { error: 'network', message: t('err.network') });
  }
  if (r.status === 401 && path !== '/auth/login' && auth) setAuth(null);
  return r;
}

async function failure(r) {
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  const e = new ApiError(r.status, data);
  e.retryAfter = Number(r.headers.get('retry-after')) || null;
  return e;
}

export async function api(method, path, body) {
  const h = headers(body === undefined ? {} : { 'content-type': 'application/json' });
  const r = await send(method, path, { headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw await failure(r);
  const text = await r.text();
  try { return text ? JSON.parse(text) : null; } catch { return null; }
}

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The format a file's name says: `xlsx` or `csv` (the default). */
export function fileFormat(name) {
  return /\.xlsx$/i.test(name ?? '') ? 'xlsx' : 'csv';
}

/** POSTs a file (CSV or .xlsx) as the request's body; `path` may carry a query already. */
export async function upload(path, file) {
  const format = fileFormat(file.name);
  const sep = path.includes('?') ? '&' : '?';
  const h = headers({ 'content-type': format === 'xlsx' ? XLSX : 'text/csv; charset=utf-8' });
  const r = await send('POST', `${path}${sep}format=${format}`, { headers: h, body: file });
  if (!r.ok) throw await failure(r);
  const text = await r.text();
  try { return text ? JSON.parse(text) : null; } catch { return null; }
}

/** Downloads what `path` answers as a file, named as the server names it. */
export async function download(path, fallbackName = 'download') {
  const r = await send('GET', path, { headers: headers({ accept: '*/*' }) });
  if (!r.ok) throw await failure(r);
  const blob = await r.blob();
  const cd = r.headers.get('content-disposition') ?? '';
  let name = fallbackName;
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(cd);
  const plain = /filename="?([^";]+)"?/i.exec(cd);
  if (star) { try { name = decodeURIComponent(star[1].trim().replace(/^"|"$/g, '')); } catch { name = star[1]; } }
  else if (plain) name = plain[1];
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return name;
}

/** What to tell the user about a refused call: the server's own words for 409 and 422. */
export function errorMessage(e) {
  if (e.status === 0) return t('err.network');
  if (e.status === 403) return e.message || t('err.forbidden');
  if (e.status === 413) return t('err.too_large');
  if (e.status === 429) return t('err.too_many');
  return e.message || t('err.generic');
}

/** Owners (主账号) and admins manage the shop; the server enforces it too. */
export const isManager = (account) => account?.role === 'owner' || account?.role === 'admin';

// The REST client: every call of the UI goes through here. Requests use the
// proto field names; int64 values come back as strings.

const cfg = window.STRATA_CONFIG || {};
export const API_BASE = (cfg.api_base || '').replace(/\/$/, '');
const TOKEN_KEY = 'strata.token';

export class APIError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode */ }
}

// listeners of authentication failures (the app shows the token form).
const unauthorized = new Set();
export function onUnauthorized(fn) { unauthorized.add(fn); }

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// assetRoute is the API path of an asset: keys are sent with their "/".
export function assetRoute(key, verb) {
  const p = '/v1/assets/' + key.split('/').map(encodeURIComponent).join('/');
  return verb ? p + ':' + verb : p;
}

async function call(method, path, { params, body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API_BASE + path + query(params), {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, `cannot reach the API at ${API_BASE || location.origin}: ${e.message}`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401 || res.status === 403) unauthorized.forEach((fn) => fn(res.status));
    let msg = data?.message || text || res.statusText;
    const v = data?.details?.flatMap((d) => d.field_violations || d.fieldViolations || []) || [];
    if (v.length) msg = v.map((x) => `${x.field}: ${x.description}`).join('; ');
    throw new APIError(res.status, `${msg} (HTTP ${res.status})`, data);
  }
  return data || {};
}

export const get = (path, params, signal) => call('GET', path, { params, signal });
export const post = (path, body, signal) => call('POST', path, { body: body || {}, signal });

// Typed calls, named after the RPCs.
export const api = {
  listAssets: (p, s) => get('/v1/assets', p, s),
  getAsset: (key, s) => get(assetRoute(key), null, s),
  assetRevisions: (key, p, s) => get(assetRoute(key, 'revisions'), p, s),
  materializations: (key, p, s) => get(assetRoute(key, 'materializations'), p, s),
  lineage: (p, s) => get('/v1/lineage', p, s),
  provenance: (p, s) => get('/v1/provenance', p, s),
  partitions: (key, p, s) => get(assetRoute(key, 'partitions'), p, s),
  partitionHealth: (key, p, s) => get(assetRoute(key, 'partitionHealth'), p, s),
  explainPartition: (key, partitionKey, s) => get(assetRoute(key, 'explainPartition'), { partition_key: partitionKey }, s),
  listBackfills: (p, s) => get('/v1/backfills', p, s),
  getBackfill: (id, s) => get('/v1/backfills/' + encodeURIComponent(id), null, s),
  createBackfill: (body, s) => post('/v1/backfills', body, s),
  cancelBackfill: (id, s) => post('/v1/backfills/' + encodeURIComponent(id) + ':cancel', { id }, s),
  retryBackfill: (id, dryRun, s) => post('/v1/backfills/' + encodeURIComponent(id) + ':retry', { id, dry_run: !!dryRun }, s),
  listRuns: (p, s) => get('/v1/runs', p, s),
  getRun: (id, s) => get('/v1/runs/' + encodeURIComponent(id), null, s),
  runLogs: (id, p, s) => get('/v1/runs/' + encodeURIComponent(id) + '/logs', p, s),
  cancelRun: (id, s) => post('/v1/runs/' + encodeURIComponent(id) + ':cancel', { id }, s),
};

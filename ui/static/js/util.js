// Small DOM and formatting helpers shared by the pages.

// h builds an element: h('a', {href: '/x', class: 'k'}, 'text', child).
// Strings become text nodes (never HTML); null, undefined and false are
// skipped; arrays are flattened. Attributes starting with "on" are
// listeners; "dataset" and "style" take objects.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// assetPath is the UI path of an asset (keys keep their "/").
export const assetPath = (key) => '/assets/' + key;
export const runPath = (id) => '/runs/' + encodeURIComponent(id);
export const backfillPath = (id) => '/backfills/' + encodeURIComponent(id);

export function link(href, text, attrs) {
  return h('a', { href, ...attrs }, text);
}

// int parses an int64 field (protobuf JSON writes them as strings).
export function int(v) {
  if (v === undefined || v === null || v === '') return 0;
  return typeof v === 'number' ? v : Number(v);
}

export function fmtInt(v) {
  return int(v).toLocaleString('en-US');
}

// fmtCompact writes 1234567 as 1.2M.
export function fmtCompact(v) {
  const n = int(v);
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + 'B';
  if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e4) return (n / 1e3).toFixed(0) + 'k';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtBytes(v) {
  if (v === undefined || v === null || v === '') return '–';
  let n = int(v);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(n >= 100 ? 0 : 1)) + ' ' + units[i];
}

export function fmtTime(ts) {
  if (!ts) return '–';
  const d = new Date(ts);
  if (isNaN(d)) return ts;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

// fmtAgo writes a timestamp relative to now: "5 min ago", "in 2 h".
export function fmtAgo(ts) {
  if (!ts) return '–';
  const t = new Date(ts).getTime();
  if (isNaN(t)) return ts;
  const s = (Date.now() - t) / 1000;
  const a = Math.abs(s);
  if (a < 5) return 'just now';
  let out;
  if (a < 60) out = Math.round(a) + ' s';
  else if (a < 3600) out = Math.round(a / 60) + ' min';
  else if (a < 86400 * 2) out = Math.round(a / 3600) + ' h';
  else out = Math.round(a / 86400) + ' d';
  return s >= 0 ? out + ' ago' : 'in ' + out;
}

// parseDuration reads a protobuf JSON duration ("3.5s") as seconds.
export function parseDuration(d) {
  if (!d) return null;
  const m = /^(-?[\d.]+)s$/.exec(d);
  return m ? Number(m[1]) : null;
}

export function fmtDuration(sec) {
  if (typeof sec === 'string') sec = parseDuration(sec);
  if (sec === null || sec === undefined || isNaN(sec)) return '–';
  if (sec < 1) return Math.round(sec * 1000) + ' ms';
  if (sec < 60) return sec.toFixed(sec < 10 ? 1 : 0) + ' s';
  if (sec < 3600) return Math.floor(sec / 60) + ' min ' + Math.round(sec % 60) + ' s';
  return Math.floor(sec / 3600) + ' h ' + Math.round((sec % 3600) / 60) + ' min';
}

// enumLabel writes RUN_STATE_RUNNING as "running".
export function enumLabel(v, prefix) {
  if (!v) return 'unspecified';
  return String(v).replace(prefix, '').toLowerCase().replace(/_/g, ' ');
}

export const STATUS = ['fresh', 'stale', 'failed', 'running', 'missing'];
export const STATUS_COLOR = {
  fresh: '#35a36b', stale: '#e3a21a', failed: '#d64545', running: '#2f6fde', missing: '#c9ced6', unknown: '#8a94a6',
};

export function statusName(v) {
  return enumLabel(v, 'PARTITION_STATUS_');
}

// healthOf summarises status counts as one word for colouring.
export function healthOf(c) {
  if (!c) return 'unknown';
  if (int(c.failed) > 0) return 'failed';
  if (int(c.running) > 0) return 'running';
  if (int(c.stale) > 0) return 'stale';
  const total = int(c.total);
  if (total > 0 && int(c.fresh) === total) return 'fresh';
  if (int(c.fresh) > 0) return int(c.missing) > 0 ? 'partial' : 'fresh';
  return 'missing';
}

// miniBar draws status counts as a small stacked bar.
export function miniBar(c, width = 120) {
  const bar = h('span', { class: 'minibar', title: countsTitle(c), style: { width: width + 'px' } });
  const total = c ? int(c.total) : 0;
  if (!total) { bar.classList.add('empty'); return bar; }
  for (const s of STATUS) {
    const n = int(c[s]);
    if (!n) continue;
    bar.appendChild(h('span', { class: 'seg ' + s, style: { width: Math.max(1, (n / total) * 100) + '%' } }));
  }
  return bar;
}

export function countsTitle(c) {
  if (!c) return 'no status';
  return STATUS.filter((s) => int(c[s])).map((s) => `${s}: ${fmtInt(c[s])}`).join(', ') + ` (of ${fmtInt(c.total)})`;
}

export function badge(text, cls) {
  return h('span', { class: 'badge ' + (cls || text) }, text);
}

export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// sleep resolves after ms unless signal aborts first.
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export function errorBox(err, retry) {
  return h('div', { class: 'error', role: 'alert' },
    h('strong', null, 'Could not load: '), err?.message || String(err),
    retry ? h('button', { type: 'button', class: 'small', onclick: retry }, 'Retry') : null);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'muted loading' }, text);
}

export function kv(rows) {
  return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '–')]));
}

export function table(headers, rows, attrs) {
  return h('table', attrs || null,
    h('thead', null, h('tr', null, headers.map((x) => h('th', null, x)))),
    h('tbody', null, rows));
}

// confirmButton is a button that asks again inline before acting (no
// blocking dialog): the first click shows the question with Confirm and
// Keep; prepare() may compute the question (e.g. from a dry run).
export function confirmButton(label, { id, cls, question, prepare, action, confirmLabel = 'Confirm' }) {
  const box = h('span', { class: 'confirm-box' });
  const msg = h('span', { class: 'muted' });
  const btn = h('button', { type: 'button', id, class: cls || '' }, label);
  const reset = () => replace(box, btn, msg);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    msg.textContent = '';
    let q = question;
    try {
      if (prepare) q = await prepare();
    } catch (err) {
      btn.disabled = false;
      msg.textContent = ' ' + err.message;
      return;
    }
    btn.disabled = false;
    const yes = h('button', { type: 'button', class: 'primary', id: id ? id + '-confirm' : undefined }, confirmLabel);
    const no = h('button', { type: 'button' }, 'Keep');
    yes.addEventListener('click', async () => {
      yes.disabled = no.disabled = true;
      try {
        await action();
        reset();
      } catch (err) {
        if (err.name === 'AbortError') return;
        reset();
        msg.textContent = ' ' + err.message;
      }
    });
    no.addEventListener('click', reset);
    replace(box, h('span', null, q, ' '), yes, ' ', no);
  });
  reset();
  return box;
}

// Backfills: the list with progress, the create form with its dry-run
// preview, and one backfill with cancel and retry of failed partitions.
import { api } from '../api.js';
import { navigate } from '../nav.js';
import {
  h, replace, assetPath, backfillPath, fmtAgo, fmtTime, fmtInt, int, errorBox, loading, table, badge, enumLabel, kv, sleep, uuid, confirmButton,
} from '../util.js';
import { runRow, RUN_HEADERS } from './runs.js';

const ACTIVE = new Set(['BACKFILL_STATE_REQUESTED', 'BACKFILL_STATE_RUNNING', 'BACKFILL_STATE_CANCELING']);
const bfState = (b) => enumLabel(b.state, 'BACKFILL_STATE_');
const SEGS = ['succeeded', 'failed', 'running', 'queued', 'canceled'];
const FILTERS = {
  BACKFILL_FILTER_MISSING: 'missing partitions',
  BACKFILL_FILTER_STALE: 'missing or stale partitions',
  BACKFILL_FILTER_FAILED: 'failed partitions',
  BACKFILL_FILTER_ALL: 'every partition',
};

// progressBar shows the partitions of a backfill per state; skipped ones
// (filtered out) are not part of the work.
export function progressBar(p) {
  const total = int(p?.total) - int(p?.skipped);
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': Math.max(total, 0) });
  if (total <= 0) return bar;
  const done = int(p.succeeded) + int(p.failed) + int(p.canceled);
  bar.setAttribute('aria-valuenow', done);
  bar.title = SEGS.map((s) => `${s}: ${fmtInt(p[s])}`).join(', ') + `, skipped: ${fmtInt(p.skipped)}`;
  for (const s of SEGS) {
    const n = int(p[s]);
    if (n) bar.appendChild(h('span', { class: 'seg ' + s, style: { width: (n / total) * 100 + '%' } }));
  }
  return bar;
}

function progressText(p) {
  const total = int(p?.total) - int(p?.skipped);
  const done = int(p?.succeeded) + int(p?.failed) + int(p?.canceled);
  return `${fmtInt(done)} / ${fmtInt(total)}` + (int(p?.failed) ? ` · ${fmtInt(p.failed)} failed` : '') + (int(p?.skipped) ? ` · ${fmtInt(p.skipped)} skipped` : '');
}

function rangeText(b) {
  if (b.partition_range) return `${b.partition_range.start || '…'} → ${b.partition_range.end || '…'}`;
  if (b.partition_keys?.length) return b.partition_keys.length <= 3 ? b.partition_keys.join(', ') : `${b.partition_keys.length} keys`;
  return 'all partitions';
}

export async function renderList(ctx) {
  const { main, signal } = ctx;
  ctx.title('Backfills');
  const list = h('div', { id: 'backfills-list' }, loading());
  replace(main, h('div', { class: 'row' }, h('h1', null, 'Backfills'), h('span', { style: { flex: 1 } }),
    h('a', { href: '/backfills/new' }, h('button', { type: 'button', class: 'primary', id: 'new-backfill' }, 'New backfill…'))), list);
  let token = '';
  let shown = [];
  async function load(more) {
    const res = await api.listBackfills({ page_size: 50, page_token: more ? token : '' }, signal);
    shown = more ? shown.concat(res.backfills || []) : res.backfills || [];
    token = res.next_page_token || '';
    if (!shown.length) {
      replace(list, h('div', { class: 'empty-state', id: 'backfills-empty' }, h('h2', null, 'No backfills yet'),
        h('p', null, 'A backfill materializes a selection of assets over a range of partitions. ', h('a', { href: '/backfills/new' }, 'Create one'), ', with a preview before anything runs.')));
    } else {
      replace(list, table(['Backfill', 'Selection', 'Partitions', 'Filter', 'Priority', 'State', 'Progress', 'Created'], shown.map((b) => h('tr', { dataset: { backfill: b.id } },
        h('td', null, h('a', { href: backfillPath(b.id), class: 'mono' }, '#' + b.id), b.retry_of_id ? h('div', { class: 'muted' }, 'retry of #' + b.retry_of_id) : null, b.description ? h('div', { class: 'muted' }, b.description) : null),
        h('td', { class: 'mono' }, b.selection),
        h('td', { class: 'mono' }, rangeText(b)),
        h('td', null, enumLabel(b.filter || 'BACKFILL_FILTER_MISSING', 'BACKFILL_FILTER_')),
        h('td', { class: 'num' }, String(b.priority || 0)),
        h('td', null, badge(bfState(b))),
        h('td', null, progressBar(b.progress), h('div', { class: 'muted' }, progressText(b.progress))),
        h('td', { title: fmtTime(b.create_time) }, fmtAgo(b.create_time)))), { id: 'backfills-table' }),
      token ? h('div', { class: 'pager' }, h('button', { type: 'button', onclick: () => load(true) }, 'Load more')) : null);
    }
    ctx.ready();
  }
  try { await load(false); } catch (err) {
    if (err.name === 'AbortError') return;
    replace(list, errorBox(err, () => renderList(ctx)));
    ctx.ready('error');
    return;
  }
  (async () => {
    while (!signal.aborted) {
      await sleep(shown.some((b) => ACTIVE.has(b.state)) ? 2000 : 10000, signal);
      if (signal.aborted || token) return;
      try { await load(false); } catch { /* keep showing the last answer */ }
    }
  })();
}

export async function renderNew(ctx) {
  const { main, query, signal } = ctx;
  ctx.title('New backfill');
  const sel = h('input', { id: 'bf-selection', required: true, placeholder: 'e.g. analytics/daily_revenue, +analytics/*, group:finance', value: query.get('selection') || '', size: 60 });
  const mode = h('select', { id: 'bf-mode' },
    h('option', { value: 'all' }, 'every partition'),
    h('option', { value: 'range', selected: query.has('start') || query.has('end') }, 'a range of partition keys'),
    h('option', { value: 'keys', selected: query.has('keys') }, 'a list of partition keys'));
  const start = h('input', { id: 'bf-start', placeholder: 'first key, e.g. 2024-01-01', value: query.get('start') || '' });
  const end = h('input', { id: 'bf-end', placeholder: 'last key (inclusive)', value: query.get('end') || '' });
  const keys = h('textarea', { id: 'bf-keys', rows: 3, cols: 60, placeholder: 'one key per line' });
  keys.value = (query.get('keys') || '').split(',').filter(Boolean).join('\n');
  const filter = h('select', { id: 'bf-filter' }, Object.entries(FILTERS).map(([v, t]) => h('option', { value: v, selected: v === (query.get('filter') || 'BACKFILL_FILTER_MISSING') }, t)));
  const prio = h('input', { id: 'bf-priority', type: 'number', value: query.get('priority') || '0', step: 1, style: { width: '90px' } });
  const desc = h('input', { id: 'bf-description', placeholder: 'why (optional)', size: 60 });
  const rangeRow = h('div', { class: 'row' }, start, '→', end);
  const preview = h('div', { id: 'bf-preview' });
  const previewBtn = h('button', { type: 'button', id: 'bf-preview-button' }, 'Preview');
  const launch = h('button', { type: 'submit', class: 'primary', id: 'bf-launch', disabled: true }, 'Launch backfill');
  const requestId = uuid(); // one per form: a double click launches once
  let previewed = null; // the body the preview was made for

  function body(dryRun) {
    const b = { selection: sel.value.trim(), filter: filter.value, priority: int(prio.value), description: desc.value.trim(), dry_run: dryRun };
    if (mode.value === 'range') b.partition_range = { start: start.value.trim(), end: end.value.trim() };
    if (mode.value === 'keys') b.partition_keys = keys.value.split(/[\n,]/).map((k) => k.trim()).filter(Boolean);
    if (!dryRun) b.request_id = requestId;
    return b;
  }
  const sameAsPreview = () => previewed && JSON.stringify(body(true)) === previewed;
  function syncMode() {
    rangeRow.hidden = mode.value !== 'range';
    keys.hidden = mode.value !== 'keys';
  }
  function changed() {
    launch.disabled = !sameAsPreview();
    if (!sameAsPreview() && previewed) preview.classList.add('muted');
  }
  syncMode();
  mode.addEventListener('change', () => { syncMode(); changed(); });
  for (const el of [sel, start, end, keys, filter, prio, desc]) el.addEventListener('input', changed);
  filter.addEventListener('change', changed);

  async function doPreview() {
    if (!sel.value.trim()) { sel.focus(); replace(preview, h('div', { class: 'error' }, 'Enter an asset selection.')); return; }
    replace(preview, loading('Planning…'));
    previewBtn.disabled = true;
    try {
      const b = body(true);
      const res = await api.createBackfill(b, signal);
      previewed = JSON.stringify(b);
      preview.classList.remove('muted');
      const bf = res.backfill || {};
      const p = bf.progress || {};
      replace(preview, h('div', { class: 'panel', id: 'bf-preview-result' },
        h('h2', null, 'Preview'),
        h('p', null, h('strong', null, fmtInt(p.queued)), ` partition${int(p.queued) === 1 ? '' : 's'} to run in `, h('strong', null, fmtInt(p.runs)), ` run${int(p.runs) === 1 ? '' : 's'}`,
          int(p.skipped) ? `; ${fmtInt(p.skipped)} selected but skipped by the filter` : '', '.'),
        bf.assets?.length ? table(['Asset', 'To run', 'Skipped', 'Runs'], bf.assets.map((a) => h('tr', null,
          h('td', null, h('a', { href: assetPath(a.asset), class: 'mono' }, a.asset)),
          h('td', { class: 'num' }, fmtInt(a.progress?.queued)),
          h('td', { class: 'num' }, fmtInt(a.progress?.skipped)),
          h('td', { class: 'num' }, fmtInt(a.progress?.runs))))) : null,
        int(p.queued) === 0 ? h('p', { class: 'muted' }, 'Nothing to run with this filter: every selected partition is already done. Choose "every partition" to rebuild them anyway.') : null));
      launch.disabled = int(p.queued) === 0;
    } catch (err) {
      if (err.name === 'AbortError') return;
      previewed = null;
      launch.disabled = true;
      replace(preview, errorBox(err));
    } finally {
      previewBtn.disabled = false;
    }
  }
  previewBtn.addEventListener('click', doPreview);

  const form = h('form', {
    id: 'bf-form',
    onsubmit: async (e) => {
      e.preventDefault();
      if (!sameAsPreview()) { await doPreview(); return; }
      launch.disabled = true;
      try {
        const res = await api.createBackfill(body(false), signal);
        navigate(backfillPath(res.backfill.id));
      } catch (err) {
        if (err.name === 'AbortError') return;
        launch.disabled = false;
        preview.appendChild(errorBox(err));
      }
    },
  },
  h('div', { class: 'form-grid' },
    h('label', { for: 'bf-selection' }, 'Assets'), sel,
    h('div', { class: 'hint' }, 'Selection syntax: a key, a glob (analytics/*), +key for upstreams, key+ for downstreams, group:x, tag:k=v, and/or/not.'),
    h('label', { for: 'bf-mode' }, 'Partitions'), h('div', null, mode, ' ', rangeRow, keys),
    h('label', { for: 'bf-filter' }, 'Run'), filter,
    h('label', { for: 'bf-priority' }, 'Priority'), prio,
    h('div', { class: 'hint' }, 'Higher runs first; 0 is the default for backfills. Scheduled work is never starved.'),
    h('label', { for: 'bf-description' }, 'Description'), desc,
    h('span'), h('div', { class: 'row' }, previewBtn, launch, h('span', { class: 'muted' }, 'Preview first: it shows what would run, without running anything.'))));
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/backfills' }, 'Backfills'), ' / new'),
    h('h1', null, 'New backfill'), h('section', { class: 'panel' }, form), preview);
  ctx.ready();
  if (sel.value) doPreview();
}

export async function renderBackfill(ctx) {
  const { main, params, signal } = ctx;
  const id = params.id;
  ctx.title('Backfill ' + id);
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/backfills' }, 'Backfills'), ' / #' + id), loading());
  const head = h('div', { id: 'backfill-head' });
  const runs = h('section', { class: 'panel', id: 'backfill-runs' }, h('h2', null, 'Runs'), loading());
  let b;
  async function load() {
    b = (await api.getBackfill(id, signal)).backfill;
    // Do not close a confirmation the user has open.
    if (!head.querySelector('.confirm-box .primary')) replace(head, backfillView(b, signal, load));
    const rr = await api.listRuns({ backfill_id: id, page_size: 50 }, signal);
    replace(runs, h('h2', null, 'Runs'), rr.runs?.length
      ? [table(RUN_HEADERS, rr.runs.map((r) => runRow(r))), rr.next_page_token ? h('p', null, h('a', { href: '/runs?backfill=' + encodeURIComponent(id) }, 'All runs of this backfill →')) : null]
      : h('p', { class: 'muted' }, 'No run yet.'));
  }
  try {
    b = (await api.getBackfill(id, signal)).backfill;
  } catch (err) {
    if (err.name === 'AbortError') return;
    replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/backfills' }, 'Backfills'), ' / #' + id),
      err.status === 404 ? h('div', { class: 'empty-state' }, h('h2', null, `No backfill ${id}`)) : errorBox(err, () => renderBackfill(ctx)));
    ctx.ready('error');
    return;
  }
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/backfills' }, 'Backfills'), ' / #' + id), head, runs);
  replace(head, backfillView(b, signal, load));
  load().catch(() => {});
  ctx.ready();
  (async () => {
    while (!signal.aborted && ACTIVE.has(b.state)) {
      await sleep(1000, signal);
      if (signal.aborted) return;
      try { await load(); } catch { /* retry */ }
    }
  })();
}

function backfillView(b, signal, reload) {
  const p = b.progress || {};
  const active = ACTIVE.has(b.state);
  return h('div', null,
    h('div', { class: 'row' },
      h('h1', null, 'Backfill ', h('span', { class: 'mono' }, '#' + b.id)), badge(bfState(b)),
      h('span', { style: { flex: 1 } }),
      active && b.state !== 'BACKFILL_STATE_CANCELING' ? confirmButton('Cancel', {
        id: 'backfill-cancel', cls: 'danger', confirmLabel: 'Cancel backfill',
        question: `Cancel backfill #${b.id}? Queued runs are canceled and running ones terminated.`,
        action: async () => { await api.cancelBackfill(b.id, signal); await reload(); },
      }) : null,
      !active && int(p.failed) > 0 ? confirmButton(`Retry ${fmtInt(p.failed)} failed`, {
        id: 'backfill-retry', confirmLabel: 'Retry',
        prepare: async () => {
          const dry = (await api.retryBackfill(b.id, true, signal)).backfill;
          return `Retry the failed partitions of #${b.id}: ${fmtInt(dry?.progress?.queued)} partition${int(dry?.progress?.queued) === 1 ? '' : 's'} in ${fmtInt(dry?.progress?.runs)} run${int(dry?.progress?.runs) === 1 ? '' : 's'}?`;
        },
        action: async () => {
          const res = await api.retryBackfill(b.id, false, signal);
          navigate(backfillPath(res.backfill.id));
        },
      }) : null),
    h('section', { class: 'panel' },
      h('div', { class: 'row' }, h('div', { style: { flex: 1 }, id: 'backfill-progress', dataset: { done: String(int(p.succeeded) + int(p.failed) + int(p.canceled)), total: String(int(p.total) - int(p.skipped)) } }, progressBar(p)),
        h('strong', null, progressText(p))),
      h('div', { class: 'legend', style: { marginTop: '6px' } }, SEGS.map((s) => h('span', null, h('i', { class: 'seg ' + s }), `${s} ${fmtInt(p[s])}`)), h('span', null, `runs ${fmtInt(p.runs)}`)),
      h('div', { style: { marginTop: '12px' } }, kv([
        ['Selection', h('span', { class: 'mono' }, b.selection)],
        ['Partitions', h('span', { class: 'mono' }, rangeText(b))],
        ['Filter', FILTERS[b.filter] || FILTERS.BACKFILL_FILTER_MISSING],
        ['Priority', String(b.priority || 0)],
        b.description ? ['Description', b.description] : null,
        b.retry_of_id ? ['Retry of', h('a', { href: backfillPath(b.retry_of_id) }, '#' + b.retry_of_id)] : null,
        ['Created', `${fmtTime(b.create_time)} (${fmtAgo(b.create_time)})` + (b.end_time ? ` · ended ${fmtAgo(b.end_time)}` : '')],
      ]))),
    b.assets?.length ? h('section', { class: 'panel', id: 'backfill-assets' }, h('h2', null, 'Per asset'),
      table(['Asset', 'Progress', '', 'Runs'], b.assets.map((a) => h('tr', null,
        h('td', null, h('a', { href: assetPath(a.asset), class: 'mono' }, a.asset)),
        h('td', { style: { width: '40%' } }, progressBar(a.progress)),
        h('td', null, progressText(a.progress)),
        h('td', { class: 'num' }, h('a', { href: `/runs?backfill=${encodeURIComponent(b.id)}&asset=${encodeURIComponent(a.asset)}` }, fmtInt(a.progress?.runs))))))) : null);
}

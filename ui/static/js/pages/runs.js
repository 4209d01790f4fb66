// Runs: the list with filters, and one run with its sizing (and why),
// usage, attempts, provenance and log (followed live while it runs).
import { api } from '../api.js';
import { setQuery } from '../nav.js';
import {
  h, replace, assetPath, runPath, backfillPath, fmtAgo, fmtTime, fmtInt, fmtBytes, int, errorBox, loading, table, badge,
  enumLabel, kv, fmtDuration, parseDuration, sleep, debounce, confirmButton,
} from '../util.js';

export const RUN_STATES = ['QUEUED', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELING', 'CANCELED'];
const ACTIVE = new Set(['RUN_STATE_QUEUED', 'RUN_STATE_STARTING', 'RUN_STATE_RUNNING', 'RUN_STATE_CANCELING']);
export const isActiveRun = (r) => ACTIVE.has(r.state);
export const runState = (r) => enumLabel(r.state, 'RUN_STATE_');
export const RUN_HEADERS = ['Run', 'Asset', 'Partitions', 'State', 'Reason', 'Created', 'Duration'];

function partitionsText(keys) {
  if (!keys?.length) return '–';
  if (keys.length === 1) return keys[0];
  return `${keys[0]} … ${keys[keys.length - 1]} (${fmtInt(keys.length)})`;
}

function runDuration(r) {
  const u = parseDuration(r.usage?.duration);
  if (u !== null) return u;
  if (r.start_time) return ((r.end_time ? new Date(r.end_time) : new Date()) - new Date(r.start_time)) / 1000;
  return null;
}

export function runRow(r, { asset = true } = {}) {
  return h('tr', { dataset: { run: r.id } },
    h('td', null, h('a', { href: runPath(r.id), class: 'mono run-link' }, r.id)),
    asset ? h('td', null, h('a', { href: assetPath(r.asset), class: 'mono' }, r.asset)) : null,
    h('td', { class: 'mono' }, partitionsText(r.partition_keys)),
    h('td', null, badge(runState(r)), r.attempt > 1 ? h('span', { class: 'muted' }, ` attempt ${r.attempt}`) : null),
    h('td', null, enumLabel(r.reason, 'RUN_REASON_'), r.backfill_id ? [' ', h('a', { href: backfillPath(r.backfill_id) }, '#' + r.backfill_id)] : null),
    h('td', { title: fmtTime(r.create_time) }, fmtAgo(r.create_time)),
    h('td', { class: 'num' }, fmtDuration(runDuration(r))));
}

export async function renderList(ctx) {
  const { main, query, signal } = ctx;
  ctx.title('Runs');
  const f = { state: query.get('state') || '', asset: query.get('asset') || '', backfill: query.get('backfill') || '' };
  const state = h('select', { id: 'runs-state', 'aria-label': 'State' }, h('option', { value: '' }, 'any state'),
    RUN_STATES.map((s) => h('option', { value: s, selected: s === f.state }, s.toLowerCase())));
  const asset = h('input', { type: 'search', id: 'runs-asset', placeholder: 'asset key', value: f.asset, size: 28 });
  const backfill = h('input', { type: 'search', id: 'runs-backfill', placeholder: 'backfill id', value: f.backfill, size: 12 });
  const list = h('div', { id: 'runs-list' }, loading());
  replace(main, h('h1', null, 'Runs'),
    h('div', { class: 'toolbar' }, state, asset, backfill, h('span', { class: 'muted' }, 'Newest first; refreshes every 5 s.')),
    list);
  const st = { runs: [], token: '' };
  let gen = 0;
  async function load(more) {
    const my = ++gen;
    setQuery(f);
    const res = await api.listRuns({
      states: f.state ? ['RUN_STATE_' + f.state] : undefined, asset: f.asset, backfill_id: f.backfill,
      page_size: 50, page_token: more ? st.token : '',
    }, signal);
    if (my !== gen) return;
    st.runs = more ? st.runs.concat(res.runs || []) : res.runs || [];
    st.token = res.next_page_token || '';
    if (!st.runs.length) {
      replace(list, h('div', { class: 'empty-state', id: 'runs-empty' }, f.state || f.asset || f.backfill
        ? h('p', null, 'No run matches these filters.')
        : [h('h2', null, 'No runs yet'), h('p', null, 'Runs appear when automation requests work or you ', h('a', { href: '/backfills/new' }, 'launch a backfill'), '.')]));
    } else {
      replace(list, table(RUN_HEADERS, st.runs.map((r) => runRow(r)), { id: 'runs-table' }),
        st.token ? h('div', { class: 'pager' }, h('button', { type: 'button', onclick: () => load(true).catch(fail) }, 'Load more')) : null);
    }
    ctx.ready();
  }
  const fail = (err) => { if (err.name !== 'AbortError') { replace(list, errorBox(err, () => load(false).catch(fail))); ctx.ready('error'); } };
  state.addEventListener('change', () => { f.state = state.value; load(false).catch(fail); });
  const typed = debounce(() => load(false).catch(fail), 250);
  asset.addEventListener('input', () => { f.asset = asset.value.trim(); typed(); });
  backfill.addEventListener('input', () => { f.backfill = backfill.value.trim(); typed(); });
  await load(false).catch(fail);
  (async () => {
    while (!signal.aborted) {
      await sleep(5000, signal);
      if (signal.aborted || st.token) break; // do not reset a list paged further
      await load(false).catch(() => {});
    }
  })();
}

export async function renderRun(ctx) {
  const { main, params, signal } = ctx;
  const id = params.id;
  ctx.title('Run ' + id);
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/runs' }, 'Runs'), ' / ', id), loading());
  let r;
  try {
    r = (await api.getRun(id, signal)).run;
  } catch (err) {
    if (err.name === 'AbortError') return;
    replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/runs' }, 'Runs'), ' / ', id),
      err.status === 404 ? h('div', { class: 'empty-state' }, h('h2', null, `No run ${id}`)) : errorBox(err, () => renderRun(ctx)));
    ctx.ready('error');
    return;
  }
  const head = h('div', { id: 'run-head' });
  const sizing = h('section', { class: 'panel', id: 'run-sizing' });
  const attempts = h('section', { class: 'panel', id: 'run-attempts' });
  const prov = h('section', { class: 'panel', id: 'run-provenance' }, h('h2', null, 'Provenance'), loading());
  const logs = h('pre', { class: 'logs', id: 'run-logs', dataset: { lines: '0' } });
  const logInfo = h('span', { class: 'muted', id: 'run-log-info' });
  replace(main,
    h('div', { class: 'crumbs' }, h('a', { href: '/runs' }, 'Runs'), ' / ', id),
    head,
    h('div', { class: 'grid2' }, sizing, attempts),
    h('section', { class: 'panel' }, h('div', { class: 'row' }, h('h2', { style: { margin: 0 } }, 'Log'), logInfo), h('div', { style: { height: '8px' } }), logs),
    prov);

  function show(run) {
    r = run;
    // Do not close a confirmation the user has open.
    if (!head.querySelector('.confirm-box .primary') || !isActiveRun(run)) replace(head, runHead(run, signal));
    replace(sizing, h('h2', null, 'Size granted and why'), sizingView(run));
    replace(attempts, h('h2', null, 'Resource usage and attempts'), usageView(run));
  }
  show(r);
  provenance(prov, r, signal).catch((err) => { if (err.name !== 'AbortError') replace(prov, prov.firstChild, errorBox(err)); });
  const follow = followLogs(id, logs, logInfo, () => r, signal);
  ctx.ready();
  // Poll the run while it is active; the log follows on its own.
  (async () => {
    while (!signal.aborted && isActiveRun(r)) {
      await sleep(1500, signal);
      if (signal.aborted) return;
      try { show((await api.getRun(id, signal)).run); } catch { /* keep the last state */ }
    }
  })();
  await follow.first;
}

function runHead(r, signal) {
  const active = isActiveRun(r);
  const dur = runDuration(r);
  return h('div', null,
    h('div', { class: 'row' },
      h('h1', null, 'Run ', h('span', { class: 'mono' }, r.id)), badge(runState(r), runState(r)),
      h('span', { style: { flex: 1 } }),
      active ? confirmButton('Cancel run', {
        id: 'run-cancel', cls: 'danger', confirmLabel: 'Cancel run',
        question: `Cancel run ${r.id}? A running job is terminated.`,
        action: () => api.cancelRun(r.id, signal),
      }) : null),
    h('section', { class: 'panel', id: 'run-summary' }, kv([
      ['Asset', h('a', { href: assetPath(r.asset), class: 'mono' }, r.asset)],
      ['Partitions', r.partition_keys?.length ? h('span', { class: 'mono', id: 'run-partitions' },
        r.partition_keys.slice(0, 30).map((k, i) => [i ? ', ' : '', h('a', { href: assetPath(r.asset) + '?partition=' + encodeURIComponent(k) }, k)]),
        r.partition_keys.length > 30 ? ` and ${fmtInt(r.partition_keys.length - 30)} more` : '') : 'unpartitioned'],
      ['Reason', h('span', null, enumLabel(r.reason, 'RUN_REASON_'), r.reason_detail && r.reason_detail.toLowerCase() !== enumLabel(r.reason, 'RUN_REASON_') ? h('span', { class: 'muted' }, ' — ' + r.reason_detail) : null,
        r.backfill_id ? [' · backfill ', h('a', { href: backfillPath(r.backfill_id) }, '#' + r.backfill_id)] : null)],
      ['Priority', String(r.priority || 0) + (r.deadline ? ` · deadline ${fmtTime(r.deadline)} (${fmtAgo(r.deadline)})` : '')],
      ['Attempt', `${r.attempt || 1} of ${r.max_attempts || 1}` + (r.worker_id ? ` · worker ${r.worker_id}` : '')],
      ['Times', `created ${fmtTime(r.create_time)}` + (r.start_time ? ` · started ${fmtAgo(r.start_time)}` : '') + (r.end_time ? ` · ended ${fmtAgo(r.end_time)}` : '') + (dur !== null ? ` · ${fmtDuration(dur)}` : '')],
      r.code_version ? ['Code version', h('span', { class: 'mono' }, r.code_version)] : null,
      r.end_time ? ['Exit code', String(r.exit_code ?? 0)] : null,
      r.error ? ['Error', h('span', { class: 'mono', style: { color: 'var(--failed)' } }, r.error)] : null,
    ])));
}

function sizingView(r) {
  const s = r.sizing;
  if (!s) return h('p', { class: 'muted' }, 'No sizing recorded (not yet sized, or sized by a worker that reports none).');
  return h('div', null,
    s.reason ? h('p', { id: 'sizing-reason' }, s.reason) : null,
    kv([
      ['Memory', fmtBytes(s.memory_bytes)],
      ['CPUs', String(s.cpus ?? '–')],
      ['Shards', String(s.shards || 1)],
      s.size_class ? ['Size class', s.size_class] : null,
      ['Model', `${s.model || '–'}${s.history_samples ? ` (fitted on ${s.history_samples} past run${s.history_samples === 1 ? '' : 's'})` : ''}`],
      ['Predicted', `peak ${fmtBytes(s.predicted_peak_rss_bytes)} · ${fmtDuration(s.predicted_duration)}`],
      ['Input', `${fmtInt(s.input_rows)} rows · ${fmtBytes(s.input_bytes)}`],
    ]),
    s.inputs?.length ? h('div', { style: { marginTop: '10px' } }, h('strong', null, 'Inputs used for sizing'),
      table(['Upstream', 'Partitions', 'Rows', 'Bytes'], s.inputs.map((i) => h('tr', null,
        h('td', null, h('a', { href: assetPath(i.asset), class: 'mono' }, i.asset)),
        h('td', { class: 'num' }, fmtInt(i.partition_count)),
        h('td', { class: 'num' }, fmtInt(i.rows)),
        h('td', { class: 'num' }, fmtBytes(i.bytes)))), { id: 'sizing-inputs' })) : null);
}

function usageView(r) {
  const u = r.usage;
  const granted = int(r.sizing?.memory_bytes);
  const peak = int(u?.peak_rss_bytes);
  return h('div', null,
    u ? kv([
      ['Duration', fmtDuration(u.duration)],
      ['Peak memory', h('span', null, fmtBytes(u.peak_rss_bytes), granted ? h('span', { class: 'muted' }, ` of ${fmtBytes(granted)} granted (${Math.round((peak / granted) * 100)}%)`) : null)],
      ['CPU time', fmtDuration(u.cpu_time)],
    ]) : h('p', { class: 'muted' }, isActiveRun(r) ? 'Usage is recorded when the attempt ends.' : 'No usage recorded.'),
    r.attempts?.length ? h('div', { style: { marginTop: '10px' } },
      table(['#', 'State', 'Worker', 'Started', 'Duration', 'Peak memory', 'Exit', 'Error'], r.attempts.map((a) => h('tr', null,
        h('td', null, String(a.attempt)),
        h('td', null, badge(enumLabel(a.state, 'RUN_STATE_'))),
        h('td', { class: 'mono' }, a.worker_id || '–'),
        h('td', { title: fmtTime(a.start_time) }, fmtAgo(a.start_time)),
        h('td', { class: 'num' }, fmtDuration(a.usage?.duration || (a.start_time && a.end_time ? (new Date(a.end_time) - new Date(a.start_time)) / 1000 : null))),
        h('td', { class: 'num' }, a.usage ? fmtBytes(a.usage.peak_rss_bytes) : '–'),
        h('td', null, a.end_time ? String(a.exit_code ?? 0) : '–'),
        h('td', { class: 'mono' }, a.error || ''))))) : null);
}

// followLogs loads the log page by page and, while the run is active, polls
// for new lines. first resolves once the existing log is shown.
function followLogs(id, pre, info, getRun, signal) {
  let after = 0;
  let count = 0;
  let truncated = false;
  const MAX_LINES = 20000;
  const streamClass = { LOG_STREAM_STDERR: 'stderr', LOG_STREAM_SYSTEM: 'system' };
  function append(lines) {
    if (!lines?.length) return;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    const frag = document.createDocumentFragment();
    for (const l of lines) {
      const cls = streamClass[l.stream];
      const line = h('span', cls ? { class: cls } : null, l.text.endsWith('\n') ? l.text : l.text + '\n');
      frag.appendChild(line);
      after = Math.max(after, int(l.seq));
      count++;
    }
    pre.appendChild(frag);
    while (pre.childNodes.length > MAX_LINES) pre.removeChild(pre.firstChild);
    pre.dataset.lines = String(count);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }
  function status(live) {
    info.textContent = `${fmtInt(count)} line${count === 1 ? '' : 's'}` + (truncated ? ' · cut at the server\'s size bound' : '') + (live ? ' · live' : '');
  }
  async function page() {
    for (let i = 0; i < 100; i++) {
      const res = await api.runLogs(id, { after_seq: after, limit: 1000 }, signal);
      append(res.lines);
      truncated = truncated || !!res.truncated;
      if (res.has_more && int(res.next_seq) - 1 > after) after = int(res.next_seq) - 1;
      if (!res.has_more) break;
    }
  }
  const first = page().then(() => {
    if (!count) pre.appendChild(h('span', { class: 'system empty-log' }, isActiveRun(getRun()) ? 'Waiting for output…\n' : 'No log lines.\n'));
    status(isActiveRun(getRun()));
    pre.dataset.state = 'ready';
  }).catch((err) => {
    if (err.name !== 'AbortError') { pre.replaceWith(errorBox(err)); }
  });
  (async () => {
    await first;
    while (!signal.aborted && isActiveRun(getRun())) {
      await sleep(1000, signal);
      if (signal.aborted) return;
      try {
        const before = count;
        await page();
        if (count > before) pre.querySelector('.empty-log')?.remove();
      } catch { /* retry at the next tick */ }
      status(true);
    }
    if (!signal.aborted) {
      try { await page(); } catch { /* final read */ }
      status(false);
    }
  })();
  return { first };
}

async function provenance(sec, r, signal) {
  const title = sec.firstChild;
  // GetRun lists the materializations the run recorded.
  const ids = r.materialization_ids || [];
  const shown = ids.slice(0, 5);
  const res = shown.length ? await Promise.all(shown.map((mid) => api.provenance({ materialization_id: mid, depth: 1 }, signal))) : [];
  if (!res.length) {
    replace(sec, title, h('p', { class: 'muted' }, isActiveRun(r) ? 'Materializations are recorded when the run ends.' : 'The run recorded no materialization.'));
    return;
  }
  replace(sec, title,
    res.map((p) => {
      const m = p.root || {};
      return h('div', { class: 'prov', style: { marginBottom: '10px' } },
        h('div', null, h('strong', null, 'Materialization ', m.id), ' of ',
          h('a', { href: assetPath(m.asset) + (m.partition_key ? '?partition=' + encodeURIComponent(m.partition_key) : ''), class: 'mono' }, m.asset, m.partition_key ? ` [${m.partition_key}]` : ''),
          h('span', { class: 'muted' }, ` · ${m.row_count !== undefined ? fmtInt(m.row_count) + ' rows · ' : ''}${fmtBytes(m.bytes)} · data version `), h('span', { class: 'mono' }, m.data_version || '–'),
          h('span', { class: 'muted' }, ' · code '), h('span', { class: 'mono' }, m.code_version || '–')),
        m.provenance?.length
          ? table(['Consumed upstream partition', 'Data version'], m.provenance.slice(0, 50).map((i) => h('tr', null,
            h('td', null, h('a', { href: assetPath(i.asset) + (i.partition_key ? '?partition=' + encodeURIComponent(i.partition_key) : ''), class: 'mono' }, i.asset, i.partition_key ? ` [${i.partition_key}]` : '')),
            h('td', { class: 'mono' }, i.data_version || '–'))))
          : h('p', { class: 'muted' }, 'No upstream input recorded.'));
    }),
    ids.length > shown.length ? h('p', { class: 'muted' }, `and ${ids.length - shown.length} more materializations`) : null);
}

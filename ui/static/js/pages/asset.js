// Asset page: definition, partition health (zoomable), why a partition is
// stale or late, materializations over time, latest schema, recent runs,
// and the revision history of the declaration with a field-level diff.
import { api } from '../api.js';
import { setQuery } from '../nav.js';
import {
  h, replace, assetPath, runPath, fmtAgo, fmtTime, fmtInt, fmtBytes, int, errorBox, loading, table, badge, healthOf,
  statusName, enumLabel, kv, fmtDuration,
} from '../util.js';
import { healthBar, countsLegend } from '../healthbar.js';
import { timeChart, ROWS, BYTES } from '../chart.js';
import { partitionsText, mappingText, computeView, policiesRows } from '../decl.js';
import { runRow, RUN_HEADERS } from './runs.js';

export async function render(ctx) {
  const { main, params, query, signal } = ctx;
  const key = params.key;
  ctx.title(key);
  replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/assets' }, 'Catalog'), ' / ', key), loading());
  let a;
  try {
    a = (await api.getAsset(key, signal)).asset;
  } catch (err) {
    if (err.name === 'AbortError') return;
    replace(main, h('div', { class: 'crumbs' }, h('a', { href: '/assets' }, 'Catalog'), ' / ', key),
      err.status === 404
        ? h('div', { class: 'empty-state' }, h('h2', null, 'No asset ', h('code', null, key)), h('p', null, 'It may have been deleted or renamed. ', h('a', { href: '/assets?q=' + encodeURIComponent(key.split('/').pop()) }, 'Search the catalog'), '.'))
        : errorBox(err, () => render(ctx)));
    ctx.ready('error');
    return;
  }
  const d = a.decl || {};
  const c = a.status_counts;
  const hs = healthOf(c);
  const partitioned = !!d.partitions;

  const whyBox = h('div', { id: 'why' });
  const rangeBox = h('div', { id: 'range-detail' });
  const explain = (pk) => showWhy(whyBox, key, pk, signal);

  const bar = healthBar(key, {
    signal,
    from: query.has('from') ? int(query.get('from')) : undefined,
    to: query.has('to') ? int(query.get('to')) : undefined,
    onZoom: (lo, hi, n) => setQuery(lo === 0 && hi === n - 1 ? { from: '', to: '' } : { from: lo, to: hi }, { push: true }),
    onSelect: (r) => showRange(rangeBox, key, r, explain),
  });

  replace(main,
    h('div', { class: 'crumbs' }, h('a', { href: '/assets' }, 'Catalog'), d.group ? [' / ', h('a', { href: '/assets?group=' + encodeURIComponent(d.group) }, d.group)] : null, ' / ', key),
    h('div', { class: 'row' },
      h('h1', { class: 'mono', id: 'asset-key' }, key), badge(hs),
      h('span', { style: { flex: 1 } }),
      h('a', { href: '/lineage?focus=' + encodeURIComponent(key) }, 'Lineage'),
      h('a', { href: '/runs?asset=' + encodeURIComponent(key) }, 'Runs'),
      h('a', { href: '/backfills/new?selection=' + encodeURIComponent(key), class: 'button' }, h('button', { type: 'button', class: 'primary' }, 'Backfill…'))),
    d.description ? h('p', null, d.description) : null,
    h('div', { class: 'row muted' },
      d.group ? h('span', null, 'group ', h('strong', null, d.group)) : null,
      d.owners?.length ? h('span', null, 'owners ', d.owners.join(', ')) : null,
      Object.entries(d.tags || {}).map(([k, v]) => h('span', { class: 'tag' }, v ? `${k}=${v}` : k))),
    h('section', { class: 'panel', id: 'partitions-panel' },
      h('div', { class: 'row' }, h('h2', null, partitioned ? 'Partitions' : 'Status'), h('span', { style: { flex: 1 } }), countsLegend(c)),
      partitioned ? bar.el : h('p', null, 'Unpartitioned: one partition, ', badge(hs), '.'),
      rangeBox, whyBox),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', id: 'definition' }, h('h2', null, 'Definition'), definition(a)),
      h('section', { class: 'panel', id: 'deps' }, h('h2', null, 'Dependencies'), deps(a, signal))),
    h('section', { class: 'panel', id: 'problems' }, h('h2', null, 'Partitions needing attention'), loading()),
    h('section', { class: 'panel', id: 'materializations' }, h('h2', null, 'Materializations'), loading()),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', id: 'schema' }, h('h2', null, 'Latest materialization and schema'), loading()),
      h('section', { class: 'panel', id: 'recent-runs' }, h('h2', null, 'Recent runs'), loading())),
    h('section', { class: 'panel', id: 'history' }, h('h2', null, 'Revision history'), loading()));

  const sec = (id) => main.querySelector('#' + id);
  const guard = (id, p) => p.catch((err) => {
    if (err.name === 'AbortError') return;
    const s = sec(id);
    replace(s, s.firstChild, errorBox(err));
  });
  guard('problems', problems(sec('problems'), key, d, explain, signal));
  guard('materializations', materializations(sec('materializations'), a, signal));
  guard('schema', schema(sec('schema'), a, signal));
  guard('recent-runs', recentRuns(sec('recent-runs'), key, signal));
  guard('history', history(sec('history'), key, query.get('revision'), signal));
  if (query.get('partition') !== null) explain(query.get('partition'));
  else if (!partitioned && hs !== 'fresh') explain('');
  if (partitioned) await bar.load();
  ctx.ready();
}

function definition(a) {
  const d = a.decl || {};
  return kv([
    ['Partitions', partitionsText(d.partitions)],
    ['Compute', computeView(d.compute)],
    ['Code version', d.code_version ? h('code', null, d.code_version) : h('span', { class: 'muted' }, 'none')],
    ...policiesRows(d),
    ['Revision', h('span', null, `catalog revision ${a.revision || '–'}`, h('span', { class: 'muted' }, ` · changed ${fmtAgo(a.update_time)}, created ${fmtAgo(a.create_time)}`))],
  ]);
}

function deps(a, signal) {
  const d = a.decl || {};
  const box = h('div', null);
  const upRows = (edges) => (edges.length
    ? table(['Upstream', 'Mapping'], edges.map((e) => h('tr', null,
      h('td', null, h('a', { href: assetPath(e.asset), class: 'mono' }, e.asset)),
      h('td', null, mappingText(e.mapping), e.default_mapping ? h('span', { class: 'muted' }, ' (default)') : null))))
    : h('p', { class: 'muted' }, 'No upstream: a root asset.'));
  const declared = (d.deps || []).map((x) => ({ asset: x.asset, mapping: x.mapping, default_mapping: !x.mapping }));
  const up = h('div', null, upRows(declared));
  replace(box, up,
    h('h2', { style: { marginTop: '14px' } }, 'Downstream'),
    a.downstream?.length
      ? h('div', { class: 'pill-list' }, a.downstream.map((k) => h('a', { href: assetPath(k), class: 'tag mono' }, k)))
      : h('p', { class: 'muted' }, 'Nothing depends on this asset.'));
  // The mapping in force (declared or default) comes from the lineage edges.
  if (declared.length) {
    api.lineage({ selection: 'key:' + a.decl.key, upstream_depth: 1 }, signal).then((res) => {
      const edges = (res.edges || []).filter((e) => e.downstream === a.decl.key)
        .map((e) => ({ asset: e.upstream, mapping: e.mapping, default_mapping: e.default_mapping }));
      if (edges.length) replace(up, upRows(edges));
    }).catch(() => {});
  }
  return box;
}

function showRange(box, key, r, explain) {
  const n = r.e - r.s + 1;
  replace(box, h('div', { class: 'panel', style: { margin: '10px 0 0', background: '#fafbfc' } },
    h('div', { class: 'row' },
      badge(r.st), h('strong', null, `${fmtInt(n)} partition${n > 1 ? 's' : ''}`),
      h('span', { class: 'mono' }, r.a, n > 1 ? ' … ' + r.b : ''),
      h('span', { class: 'muted' }, `index ${fmtInt(r.s)}${n > 1 ? '–' + fmtInt(r.e) : ''}`),
      h('span', { style: { flex: 1 } }),
      h('button', { type: 'button', class: 'small', onclick: () => explain(r.a) }, n > 1 ? 'Why (first)' : 'Why'),
      n > 1 ? h('button', { type: 'button', class: 'small', onclick: () => explain(r.b) }, 'Why (last)') : null,
      h('a', { href: `/backfills/new?selection=${encodeURIComponent(key)}&start=${encodeURIComponent(r.a)}&end=${encodeURIComponent(r.b)}&filter=${r.st === 'failed' ? 'BACKFILL_FILTER_FAILED' : 'BACKFILL_FILTER_STALE'}` }, 'Backfill this range…'))));
  if (r.st !== 'fresh' || n === 1) explain(r.a);
}

const CAUSE = {
  STALE_CAUSE_KIND_NEVER_MATERIALIZED: 'never materialized',
  STALE_CAUSE_KIND_CODE_VERSION_CHANGED: 'code version changed',
  STALE_CAUSE_KIND_UPSTREAM_DATA_CHANGED: 'upstream data changed',
  STALE_CAUSE_KIND_UPSTREAM_MISSING: 'upstream missing',
  STALE_CAUSE_KIND_UPSTREAM_STALE: 'upstream stale',
  STALE_CAUSE_KIND_UPSTREAM_FAILED: 'upstream failed',
  STALE_CAUSE_KIND_RUN_FAILED: 'run failed',
};

const partitionLink = (asset, pk) => h('a', { href: assetPath(asset) + (pk ? '?partition=' + encodeURIComponent(pk) : ''), class: 'mono' }, asset, pk ? ` [${pk}]` : '');

async function showWhy(box, key, pk, signal) {
  setQuery({ partition: pk || (pk === '' ? '' : null) });
  replace(box, h('div', { class: 'panel', style: { margin: '10px 0 0' } }, loading(`Explaining ${pk || key}…`)));
  let res;
  try {
    res = await api.explainPartition(key, pk, signal);
  } catch (err) {
    if (err.name === 'AbortError') return;
    replace(box, errorBox(err));
    return;
  }
  const s = res.status || {};
  const st = statusName(s.status);
  const fr = s.freshness;
  const late = fr?.state === 'FRESHNESS_STATE_FAIL';
  const lm = s.latest_materialization;
  replace(box, h('div', { class: 'panel', id: 'why-panel', style: { margin: '10px 0 0' } },
    h('div', { class: 'row' },
      h('h2', { style: { margin: 0 } }, 'Why ', h('span', { class: 'mono' }, pk || '(unpartitioned)'), ' is ', badge(st)),
      late ? badge('late') : null,
      s.active_run_id ? h('a', { href: runPath(s.active_run_id) }, 'active run ' + s.active_run_id) : null,
      h('span', { style: { flex: 1 } }),
      h('button', { type: 'button', class: 'link', onclick: () => { setQuery({ partition: null }); replace(box); } }, 'Close')),
    res.explanation?.length
      ? h('ul', { class: 'causes', id: 'why-explanation' }, res.explanation.map((x) => h('li', null, x)))
      : h('p', { class: 'muted', id: 'why-explanation' }, st === 'fresh' ? 'Up to date with its code and its upstreams.' : 'No cause recorded.'),
    s.causes?.length ? h('div', null, h('strong', null, 'Causes'),
      h('ul', { class: 'causes' }, s.causes.map((c) => h('li', null,
        badge(CAUSE[c.kind] || enumLabel(c.kind, 'STALE_CAUSE_KIND_'), 'stale'), ' ',
        c.upstream_asset ? ['upstream ', partitionLink(c.upstream_asset, c.upstream_partition_key), ' '] : null,
        c.previous_version || c.current_version ? h('span', { class: 'mono muted' }, ` ${c.previous_version || '∅'} → ${c.current_version || '∅'} `) : null,
        c.run_id ? ['run ', h('a', { href: runPath(c.run_id) }, c.run_id), ' '] : null,
        c.message ? h('span', { class: 'muted' }, c.message) : null)))) : null,
    fr && fr.state && fr.state !== 'FRESHNESS_STATE_UNSPECIFIED' ? h('p', null, 'Freshness ', badge(enumLabel(fr.state, 'FRESHNESS_STATE_')),
      fr.deadline ? ` deadline ${fmtTime(fr.deadline)} (${fmtAgo(fr.deadline)})` : '',
      fr.overdue_by && fr.overdue_by !== '0s' ? `, overdue by ${fmtDuration(fr.overdue_by)}` : '') : null,
    kv([
      ['Code version', h('span', { class: 'mono' }, res.code_version || '–', res.materialized_code_version && res.materialized_code_version !== res.code_version ? ` (materialized with ${res.materialized_code_version})` : '')],
      ['Latest materialization', lm ? h('span', null, fmtTime(lm.create_time), lm.run_id ? [' by run ', h('a', { href: runPath(lm.run_id) }, lm.run_id)] : '', lm.row_count !== undefined ? ` · ${fmtInt(lm.row_count)} rows` : '', lm.bytes !== undefined ? ` · ${fmtBytes(lm.bytes)}` : '') : 'never'],
    ]),
    res.upstreams?.length ? h('div', { style: { marginTop: '10px' } }, h('strong', null, 'Upstream partitions'),
      table(['Upstream partition', 'Status', 'Consumed version', 'Current version'], res.upstreams.map((u) => {
        const changed = u.consumed_data_version && u.current_data_version && u.consumed_data_version !== u.current_data_version;
        return h('tr', null,
          h('td', null, partitionLink(u.asset, u.partition_key)),
          h('td', null, badge(statusName(u.status))),
          h('td', { class: 'mono' }, short(u.consumed_data_version)),
          h('td', { class: 'mono' }, short(u.current_data_version), changed ? [' ', badge('changed', 'stale')] : null));
      }), { id: 'why-upstreams' })) : null));
}

const short = (v) => (!v ? '–' : v.length > 20 ? v.slice(0, 18) + '…' : v);

async function problems(sec, key, d, explain, signal) {
  const title = sec.firstChild;
  const [bad, late] = await Promise.all([
    api.partitions(key, { statuses: ['PARTITION_STATUS_FAILED', 'PARTITION_STATUS_STALE'], descending: true, page_size: 20 }, signal),
    d.freshness ? api.partitions(key, { freshness_states: ['FRESHNESS_STATE_FAIL'], descending: true, page_size: 20 }, signal) : Promise.resolve({}),
  ]);
  const seen = new Set();
  const rows = [];
  for (const p of [...(bad.partitions || []), ...(late.partitions || [])]) {
    if (seen.has(p.partition_key)) continue;
    seen.add(p.partition_key);
    const lateNow = p.freshness?.state === 'FRESHNESS_STATE_FAIL';
    rows.push(h('tr', null,
      h('td', { class: 'mono' }, p.partition_key || '(unpartitioned)'),
      h('td', null, badge(statusName(p.status)), lateNow ? [' ', badge('late')] : null),
      h('td', null, (p.causes || []).slice(0, 2).map((c) => c.message || CAUSE[c.kind]).join('; ')),
      h('td', null, p.latest_materialization ? fmtAgo(p.latest_materialization.create_time) : 'never'),
      h('td', null, h('button', { type: 'button', class: 'small', onclick: () => { explain(p.partition_key); document.getElementById('partitions-panel').scrollIntoView({ behavior: 'smooth' }); } }, 'Why?'))));
  }
  replace(sec, title, rows.length
    ? table(['Partition', 'Status', 'Cause', 'Materialized', ''], rows)
    : h('p', { class: 'muted' }, 'No stale, failed or late partition.'));
}

// MAX_POINTS bounds the materializations the chart reads (newest first).
const MAX_POINTS = 5000;

async function materializations(sec, a, signal) {
  const title = sec.firstChild;
  const key = a.decl.key;
  // Every materialization over time (re-materializations included), newest
  // first, a page of 1,000 at a time.
  const mats = [];
  let token = '';
  do {
    const res = await api.materializations(key, { page_size: 1000, page_token: token }, signal);
    for (const m of res.materializations || []) mats.push({ pk: m.partition_key || '', ...m });
    token = res.next_page_token || '';
  } while (token && mats.length < MAX_POINTS);
  if (!mats.length) {
    replace(sec, title, h('p', { class: 'muted' }, 'Never materialized. Launch a backfill, or let automation request it.'));
    return;
  }
  const pts = mats.map((m) => ({
    t: new Date(m.create_time).getTime(), rows: m.row_count === undefined ? null : int(m.row_count),
    bytes: m.bytes === undefined ? null : int(m.bytes), label: m.pk || key,
  }));
  const parts = new Set(mats.map((m) => m.pk)).size;
  const plural = (n, w) => `${fmtInt(n)} ${w}${n === 1 ? '' : 's'}`;
  replace(sec, title,
    h('p', { class: 'muted', id: 'mat-summary' }, `${plural(mats.length, 'materialization')} of ${plural(parts, 'partition')}${token ? ` (the newest ${fmtInt(mats.length)})` : ''}: rows and bytes over time.`),
    h('div', { id: 'mat-history', dataset: { points: String(pts.length) } }, timeChart(pts, [ROWS, BYTES], { signal })),
    table(['Partition', 'Materialized', 'Rows', 'Bytes', 'Data version', 'Code version', 'Run'], mats.slice(0, 10).map((m) => h('tr', null,
      h('td', { class: 'mono' }, m.pk ? h('a', { href: assetPath(key) + '?partition=' + encodeURIComponent(m.pk) }, m.pk) : '–'),
      h('td', { title: fmtTime(m.create_time) }, fmtAgo(m.create_time)),
      h('td', { class: 'num' }, m.row_count === undefined ? '–' : fmtInt(m.row_count)),
      h('td', { class: 'num' }, fmtBytes(m.bytes)),
      h('td', { class: 'mono' }, short(m.data_version)),
      h('td', { class: 'mono' }, m.code_version || '–'),
      h('td', null, m.run_id ? h('a', { href: runPath(m.run_id) }, m.run_id) : h('span', { class: 'muted' }, 'reported')))), { id: 'mat-table' }));
}

async function schema(sec, a, signal) {
  const title = sec.firstChild;
  const lm = a.latest_materialization;
  if (!lm?.id) {
    replace(sec, title, h('p', { class: 'muted' }, 'No materialization yet.'));
    return;
  }
  const res = await api.provenance({ materialization_id: lm.id, depth: 1 }, signal);
  const m = res.root || {};
  let fields = null;
  if (m.schema_json) {
    try {
      const s = JSON.parse(m.schema_json);
      fields = Array.isArray(s) ? s : s.fields || null;
    } catch { fields = null; }
  }
  const flat = [];
  const walk = (fs, prefix, depth) => {
    for (const f of fs || []) {
      flat.push({ name: prefix + f.name, type: f.type + (f.children?.length ? '' : ''), nullable: f.nullable, depth });
      if (f.children?.length && depth < 4) walk(f.children, prefix + f.name + '.', depth + 1);
    }
  };
  if (fields) walk(fields, '', 0);
  replace(sec, title,
    kv([
      ['Partition', m.partition_key ? h('span', { class: 'mono' }, m.partition_key) : '–'],
      ['When', `${fmtTime(m.create_time)} (${fmtAgo(m.create_time)})`],
      ['Run', m.run_id ? h('a', { href: runPath(m.run_id) }, m.run_id + (m.attempt > 1 ? ` (attempt ${m.attempt})` : '')) : 'reported without a run'],
      ['Size', `${m.row_count !== undefined ? fmtInt(m.row_count) + ' rows' : '– rows'} · ${fmtBytes(m.bytes)}`],
      ['Data version', h('span', { class: 'mono' }, m.data_version || '–')],
      ['Code version', h('span', { class: 'mono' }, m.code_version || '–')],
      m.location ? ['Location', h('code', null, m.location)] : null,
      m.provenance?.length ? ['Inputs', h('div', null, m.provenance.slice(0, 20).map((p) => h('div', null, partitionLink(p.asset, p.partition_key), ' ', h('span', { class: 'mono muted' }, short(p.data_version)))),
        m.provenance.length > 20 ? h('div', { class: 'muted' }, `and ${m.provenance.length - 20} more`) : null)] : null,
    ]),
    h('h2', { style: { marginTop: '14px' } }, 'Schema'),
    fields
      ? table(['Column', 'Type', 'Nullable'], flat.map((f) => h('tr', null,
        h('td', { class: 'mono', style: { paddingLeft: 10 + f.depth * 14 + 'px' } }, f.name),
        h('td', { class: 'mono' }, f.type || '?'),
        h('td', null, f.nullable ? 'yes' : 'no'))), { id: 'schema-table' })
      : h('p', { class: 'muted' }, m.schema_json ? h('code', null, m.schema_json.slice(0, 400)) : 'No schema recorded (the job wrote no Parquet footer and reported none).'));
}

async function recentRuns(sec, key, signal) {
  const title = sec.firstChild;
  const res = await api.listRuns({ asset: key, page_size: 10 }, signal);
  const runs = res.runs || [];
  replace(sec, title, runs.length
    ? [table(RUN_HEADERS.filter((x) => x !== 'Asset'), runs.map((r) => runRow(r, { asset: false }))),
      h('p', null, h('a', { href: '/runs?asset=' + encodeURIComponent(key) }, 'All runs of this asset →'))]
    : h('p', { class: 'muted' }, 'No run yet.'));
}

const CHANGE = {
  ASSET_CHANGE_KIND_CREATED: ['created', 'fresh'],
  ASSET_CHANGE_KIND_CHANGED: ['changed', 'stale'],
  ASSET_CHANGE_KIND_DELETED: ['deleted', 'failed'],
};

// history lists the revisions of the declaration, newest first; choosing
// one shows what it changed from the one before (?revision=N keeps the
// choice in the URL).
async function history(sec, key, chosen, signal) {
  const title = sec.firstChild;
  const revs = [];
  let token = '';
  do {
    const res = await api.assetRevisions(key, { page_size: 200, page_token: token }, signal);
    revs.push(...(res.revisions || []));
    token = res.next_page_token || '';
  } while (token && revs.length < 1000);
  if (!revs.length) {
    replace(sec, title, h('p', { class: 'muted' }, 'No revision recorded.'));
    return;
  }
  const diffBox = h('div', { id: 'revision-diff' });
  const rows = revs.map((r, i) => {
    const [word, cls] = CHANGE[r.change] || [enumLabel(r.change, 'ASSET_CHANGE_KIND_'), ''];
    return h('tr', { dataset: { revision: r.revision } },
      h('td', { class: 'mono' }, `#${r.revision}`),
      h('td', null, badge(word, cls)),
      h('td', null, r.changed_fields?.length
        ? r.changed_fields.map((f) => h('span', { class: 'tag mono' }, f))
        : h('span', { class: 'muted' }, r.change === 'ASSET_CHANGE_KIND_CHANGED' ? '–' : word === 'created' && i < revs.length - 1 ? 're-created' : '')),
      h('td', null, r.actor || h('span', { class: 'muted' }, 'anonymous')),
      h('td', { title: fmtTime(r.create_time) }, fmtAgo(r.create_time)),
      h('td', { class: 'muted' }, `catalog revision ${r.catalog_revision}`),
      h('td', null, h('button', { type: 'button', class: 'small', onclick: () => show(i, true) }, 'Diff')));
  });
  const show = (i, user) => {
    rows.forEach((tr, j) => tr.classList.toggle('selected', i === j));
    if (user) setQuery({ revision: revs[i].revision });
    replace(diffBox, revisionDiff(revs[i], revs[i + 1]));
  };
  replace(sec, title,
    h('p', { class: 'muted' }, `${fmtInt(revs.length)} revision${revs.length === 1 ? '' : 's'}${token ? ' (the newest 1,000)' : ''}, newest first. Choose one to see what it changed.`),
    table(['Revision', 'Change', 'Fields changed', 'By', 'When', '', ''], rows, { id: 'revision-table' }),
    diffBox);
  const at = chosen ? revs.findIndex((r) => String(r.revision) === chosen) : -1;
  if (at >= 0) show(at, false);
  else if (revs.length > 1) show(0, false);
}

// flatDecl flattens a declaration to field paths and readable values:
// nested objects by dots, lists of scalars as one value, lists of objects
// by their asset or name (deps[raw/events].mapping) or else by index.
export function flatDecl(d) {
  const out = new Map();
  const scalar = (v) => v === null || typeof v !== 'object';
  const walk = (v, path) => {
    if (Array.isArray(v)) {
      if (v.every(scalar)) { out.set(path, v.length ? v.map(String).join(', ') : '[]'); return; }
      v.forEach((x, i) => walk(x, `${path}[${x && typeof x === 'object' ? (x.asset ?? x.name ?? x.key ?? i) : i}]`));
      return;
    }
    if (v && typeof v === 'object') {
      const ks = Object.keys(v);
      if (!ks.length) { out.set(path, '{}'); return; }
      for (const k of ks.sort()) walk(v[k], path ? `${path}.${k}` : k);
      return;
    }
    out.set(path, String(v));
  };
  walk(d || {}, '');
  return out;
}

// diffDecls lists the field paths that differ: {field, before, after, kind}
// with kind added, removed or changed, by field.
export function diffDecls(before, after) {
  const a = flatDecl(before), b = flatDecl(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out = [];
  for (const f of fields) {
    const x = a.get(f), y = b.get(f);
    if (x === y) continue;
    out.push({ field: f, before: x, after: y, kind: x === undefined ? 'added' : y === undefined ? 'removed' : 'changed' });
  }
  return out;
}

function revisionDiff(cur, prev) {
  const head = h('div', { class: 'row' },
    h('h2', { style: { margin: '14px 0 6px' } }, `Revision #${cur.revision}`),
    h('span', { class: 'muted' }, `${cur.actor ? 'by ' + cur.actor + ', ' : ''}${fmtTime(cur.create_time)}`,
      prev ? ` · compared with revision #${prev.revision}` : ''));
  if (cur.change === 'ASSET_CHANGE_KIND_DELETED') {
    return h('div', { class: 'diff-panel' }, head, h('p', { id: 'diff-summary' }, 'The asset was deleted. Its history and its materializations stay in the catalog.'));
  }
  const first = !prev || !prev.decl;
  const rows = diffDecls(first ? {} : prev.decl, cur.decl);
  const cell = (v, cls) => h('td', { class: 'mono ' + cls }, v === undefined ? h('span', { class: 'muted' }, '—') : v);
  return h('div', { class: 'diff-panel' }, head,
    h('p', { id: 'diff-summary', class: 'muted' }, first
      ? (prev ? 'Declared again after its deletion: every field is new.' : 'The first declaration: every field is new.')
      : rows.length ? `${rows.length} field${rows.length === 1 ? '' : 's'} changed.` : 'No field changed.'),
    rows.length ? table(['Field', 'Before', 'After'], rows.map((r) => h('tr', { class: 'diff-' + r.kind, dataset: { field: r.field } },
      h('td', { class: 'mono' }, r.field, r.kind !== 'changed' ? h('span', { class: 'muted' }, ` (${r.kind})`) : null),
      cell(r.before, r.kind === 'added' ? '' : 'del'),
      cell(r.after, r.kind === 'removed' ? '' : 'add'))), { id: 'diff-table', class: 'diff' }) : null);
}

// Catalog: search as you type over key, description, owners and tags;
// filter by group, owner, tag and status.
import { api } from '../api.js';
import { setQuery } from '../nav.js';
import {
  h, replace, assetPath, fmtAgo, fmtTime, fmtInt, int, miniBar, debounce, errorBox, loading, table, badge, healthOf,
} from '../util.js';

const STATUS_FILTERS = {
  '': 'any status',
  problems: 'stale, failed or late',
  stale: 'stale',
  failed: 'failed',
  late: 'late (freshness failing)',
  missing: 'has missing partitions',
  running: 'running',
};

// quote writes a selection attribute value, quoted when not a plain word.
function quote(v) {
  return /^[A-Za-z0-9_.\-@:/*]+$/.test(v) ? v : JSON.stringify(v);
}

export function selectionOf(f) {
  const parts = [];
  if (f.group) parts.push('group:' + quote(f.group));
  if (f.owner) parts.push('owner:' + quote(f.owner));
  if (f.tag) {
    const i = f.tag.indexOf('=');
    parts.push(i < 0 ? 'tag:' + quote(f.tag) : 'tag:' + quote(f.tag.slice(0, i)) + '=' + quote(f.tag.slice(i + 1)));
  }
  return parts.join(' and ');
}

export async function render(ctx) {
  const { main, query, signal } = ctx;
  ctx.title('Catalog');
  const f = {
    q: query.get('q') || '', group: query.get('group') || '', owner: query.get('owner') || '',
    tag: query.get('tag') || '', status: query.get('status') || '',
  };

  const search = h('input', {
    type: 'search', id: 'catalog-search', class: 'grow', placeholder: 'Search assets by key, description, owner or tag…',
    value: f.q, autofocus: true, 'aria-label': 'Search assets',
  });
  const group = h('select', { id: 'filter-group', 'aria-label': 'Group' }, h('option', { value: '' }, 'all groups'));
  const owner = h('select', { id: 'filter-owner', 'aria-label': 'Owner' }, h('option', { value: '' }, 'all owners'));
  const tag = h('select', { id: 'filter-tag', 'aria-label': 'Tag' }, h('option', { value: '' }, 'all tags'));
  const status = h('select', { id: 'filter-status', 'aria-label': 'Status' },
    Object.entries(STATUS_FILTERS).map(([v, t]) => h('option', { value: v, selected: v === f.status }, t)));
  const count = h('span', { class: 'muted', id: 'catalog-count' });
  const results = h('div', { id: 'catalog-results' }, loading());

  replace(main,
    h('div', { class: 'row' }, h('h1', null, 'Catalog'), h('span', { class: 'spacer' }), count),
    h('div', { class: 'toolbar' }, search, group, owner, tag, status),
    results);

  // Facets for the filters come from the lineage nodes (key, group, owners,
  // tags of every asset), loaded once; the table does not wait for them.
  api.lineage({}, signal).then((res) => {
    const groups = new Set(), owners = new Set(), tags = new Set();
    for (const n of res.nodes || []) {
      if (n.group) groups.add(n.group);
      (n.owners || []).forEach((o) => owners.add(o));
      for (const [k, v] of Object.entries(n.tags || {})) { tags.add(k); tags.add(k + '=' + v); }
    }
    const fill = (sel, values, cur) => {
      for (const v of [...values].sort()) sel.appendChild(h('option', { value: v, selected: v === cur }, v));
      if (cur && !values.has(cur)) sel.appendChild(h('option', { value: cur, selected: true }, cur));
    };
    fill(group, groups, f.group); fill(owner, owners, f.owner); fill(tag, tags, f.tag);
  }).catch(() => { /* filters stay usable with the current values */ });
  for (const [sel, v] of [[group, f.group], [owner, f.owner], [tag, f.tag]]) {
    if (v) sel.appendChild(h('option', { value: v, selected: true }, v));
  }

  let seq = 0;
  let inflight = null;
  async function load(more) {
    const my = ++seq;
    inflight?.abort();
    inflight = new AbortController();
    signal.addEventListener('abort', () => inflight?.abort(), { once: true });
    const s = inflight.signal;
    setQuery({ q: f.q, group: f.group, owner: f.owner, tag: f.tag, status: f.status });
    if (!more) { state.assets = []; state.token = ''; state.total = 0; }
    main.dataset.state = 'loading';
    try {
      const wanted = state.assets.length + 100;
      const pageSize = f.status ? 500 : 100;
      let pages = 0;
      do {
        const res = await api.listAssets({ query: f.q, selection: selectionOf(f), page_size: pageSize, page_token: state.token }, s);
        if (my !== seq) return;
        state.total = res.total_size || 0;
        state.token = res.next_page_token || '';
        let batch = res.assets || [];
        if (f.status) batch = await filterStatus(batch, f.status, s);
        if (my !== seq) return;
        state.assets.push(...batch);
        pages++;
      } while (f.status && state.token && state.assets.length < wanted && pages < 10);
      show();
    } catch (err) {
      if (err.name === 'AbortError' || my !== seq) return;
      replace(results, errorBox(err, () => load(false)));
      main.dataset.state = 'error';
    }
  }
  const state = { assets: [], token: '', total: 0 };

  function show() {
    const filtered = f.q || f.group || f.owner || f.tag || f.status;
    count.textContent = f.status
      ? `${state.assets.length}${state.token ? '+' : ''} shown (status filter over ${fmtInt(state.total)})`
      : `${fmtInt(state.total)} asset${state.total === 1 ? '' : 's'}`;
    if (!state.assets.length) {
      if (!filtered) {
        replace(results, emptyCatalog());
        ctx.ready('empty');
        return;
      }
      replace(results, h('div', { class: 'empty-state', id: 'catalog-empty' },
        h('p', null, 'No asset matches these filters.'),
        h('button', { type: 'button', onclick: () => { Object.assign(f, { q: '', group: '', owner: '', tag: '', status: '' }); search.value = ''; group.value = owner.value = tag.value = status.value = ''; load(false); } }, 'Clear filters')));
      ctx.ready();
      return;
    }
    const rows = state.assets.map((a) => assetRow(a));
    replace(results,
      table(['Asset', 'Group', 'Owners', 'Last materialization', 'Partitions'], rows, { id: 'catalog-table' }),
      state.token ? h('div', { class: 'pager' },
        h('button', { type: 'button', id: 'catalog-more', onclick: () => load(true) }, 'Load more'),
        h('span', { class: 'muted' }, `${state.assets.length} of ${fmtInt(state.total)}`)) : null);
    ctx.ready();
  }

  const reload = debounce(() => load(false), 150);
  search.addEventListener('input', () => { f.q = search.value.trim(); reload(); });
  for (const [sel, k] of [[group, 'group'], [owner, 'owner'], [tag, 'tag'], [status, 'status']]) {
    sel.addEventListener('change', () => { f[k] = sel.value; load(false); });
  }
  await load(false);
}

function assetRow(a) {
  const d = a.decl || {};
  const lm = a.latest_materialization;
  const c = a.status_counts;
  const hs = healthOf(c);
  return h('tr', { dataset: { key: d.key } },
    h('td', null,
      h('a', { href: assetPath(d.key), class: 'asset-link mono' }, d.key), ' ',
      hs === 'failed' || hs === 'stale' ? badge(hs) : null,
      int(c?.late) > 0 ? badge('late') : null,
      d.description ? h('div', { class: 'muted' }, d.description.length > 140 ? d.description.slice(0, 140) + '…' : d.description) : null,
      Object.keys(d.tags || {}).length ? h('div', null, Object.entries(d.tags).map(([k, v]) => h('span', { class: 'tag' }, v ? `${k}=${v}` : k))) : null),
    h('td', null, d.group || h('span', { class: 'muted' }, '–')),
    h('td', null, (d.owners || []).join(', ') || h('span', { class: 'muted' }, '–')),
    h('td', { title: lm ? fmtTime(lm.create_time) : '' }, lm ? fmtAgo(lm.create_time) : h('span', { class: 'muted' }, 'never')),
    h('td', null, miniBar(c), ' ', h('span', { class: 'muted' }, c ? fmtInt(c.total) : '')));
}

// filterStatus keeps the assets with a partition in status; late counts
// the partitions whose freshness policy fails (status_counts.late).
async function filterStatus(assets, status) {
  const has = (a, k) => int(a.status_counts?.[k]) > 0;
  return assets.filter((a) => {
    switch (status) {
      case 'problems': return has(a, 'stale') || has(a, 'failed') || has(a, 'late');
      default: return has(a, status);
    }
  });
}

export function emptyCatalog() {
  return h('div', { class: 'empty-state', id: 'catalog-empty' },
    h('h2', null, 'No assets yet'),
    h('p', null, 'Declare your assets in a YAML file and apply it to this server:'),
    h('pre', null, 'strata apply -f assets.yaml'),
    h('p', { class: 'muted' }, 'Then come back here: the catalog, lineage, partitions and runs fill in as Strata works.'));
}

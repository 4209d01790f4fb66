// Lineage: the asset graph laid out left to right on a canvas, focused on
// an asset with upstream/downstream depth, or the whole graph; collapse by
// group, search to focus, pan (drag) and zoom (wheel), click to open.
import { api } from '../api.js';
import { navigate, setQuery } from '../nav.js';
import { h, replace, assetPath, STATUS_COLOR, healthOf, countsTitle, errorBox, fmtInt, int } from '../util.js';
import { layout, collapse, NODE_W, NODE_H } from '../graph.js';

const AUTO_COLLAPSE = 1000;
const DEPTHS = [['1', '1'], ['2', '2'], ['3', '3'], ['5', '5'], ['-1', 'all']];
const FILL = {
  fresh: '#e3f4ea', stale: '#fcefd0', failed: '#f9dede', running: '#dde8fb', missing: '#eef0f3', partial: '#eef6e8', unknown: '#ffffff',
};
const STROKE = { ...STATUS_COLOR, partial: '#8cc5a2', unknown: '#aab2bf' };

export async function render(ctx) {
  const { main, query, signal } = ctx;
  ctx.title('Lineage');
  main.className = 'wide';
  const t0 = performance.now();
  const focus = query.get('focus') || '';
  const up = query.get('up') || '2';
  const down = query.get('down') || '2';
  // collapse=1 or 0; unset collapses graphs of more than AUTO_COLLAPSE
  // assets, which stay readable one node per group.
  const collapseParam = query.get('collapse');
  let grouped = collapseParam === '1';

  const search = h('input', { type: 'search', id: 'lineage-search', class: 'grow', placeholder: 'Search an asset to focus on (Enter)…', value: focus, list: 'lineage-keys' });
  const keysList = h('datalist', { id: 'lineage-keys' });
  const upSel = h('select', { id: 'lineage-up', 'aria-label': 'Upstream depth', disabled: !focus }, DEPTHS.map(([v, t]) => h('option', { value: v, selected: v === up }, t)));
  const downSel = h('select', { id: 'lineage-down', 'aria-label': 'Downstream depth', disabled: !focus }, DEPTHS.map(([v, t]) => h('option', { value: v, selected: v === down }, t)));
  const groupBox = h('input', { type: 'checkbox', id: 'lineage-collapse', checked: grouped });
  const info = h('div', { class: 'graph-info', id: 'lineage-info' }, 'Loading…');
  const canvas = h('canvas', { id: 'lineage-canvas' });
  const area = h('div', { class: 'graph-canvas', id: 'lineage-graph', dataset: { state: 'loading', nodes: '0' } }, canvas, info);
  const go = (params) => navigate('/lineage?' + new URLSearchParams(Object.entries({ focus, up, down, collapse: collapseParam ?? '', ...params }).filter(([, v]) => v !== '' && v !== undefined && v !== null)));
  replace(main, h('div', { class: 'graph-page' },
    h('div', { class: 'toolbar' },
      h('strong', null, 'Lineage'), search, keysList,
      h('label', null, 'upstream ', upSel), h('label', null, 'downstream ', downSel),
      h('label', { title: 'Show one node per group; click a group to open it' }, groupBox, ' collapse groups'),
      focus ? h('button', { type: 'button', onclick: () => go({ focus: '' }) }, 'Whole graph') : null,
      h('button', { type: 'button', id: 'lineage-fit', onclick: () => view?.fit() }, 'Fit'),
      h('span', { class: 'legend' }, ['fresh', 'stale', 'failed', 'running', 'missing'].map((s) => h('span', null, h('i', { style: { background: STATUS_COLOR[s] } }), s)))),
    area));
  upSel.addEventListener('change', () => go({ up: upSel.value }));
  downSel.addEventListener('change', () => go({ down: downSel.value }));
  groupBox.addEventListener('change', () => go({ collapse: groupBox.checked ? '1' : '0' }));

  let view = null;
  let res;
  try {
    res = await api.lineage(focus ? { selection: 'key:' + focus, upstream_depth: up, downstream_depth: down } : {}, signal);
  } catch (err) {
    if (err.name === 'AbortError') return;
    area.dataset.state = 'error';
    replace(area, h('div', { style: { padding: '20px' } }, errorBox(err, () => navigate(location.pathname + location.search, { replace: true }))));
    ctx.ready('error');
    return;
  }
  const tFetch = performance.now();
  const all = res.nodes || [];
  if (!all.length && focus) {
    area.dataset.state = 'ready';
    replace(area, h('div', { style: { padding: '20px' } }, h('div', { class: 'empty-state' },
      h('p', null, 'No asset ', h('code', null, focus), '. ', h('a', { href: '/lineage' }, 'Show the whole graph'), '.'))));
    ctx.ready('empty');
    return;
  }
  if (!all.length) {
    area.dataset.state = 'ready';
    replace(area, h('div', { style: { padding: '20px' } }, h('div', { class: 'empty-state', id: 'lineage-empty' },
      h('h2', null, 'No assets yet'), h('p', null, 'Declare assets with their dependencies and apply them:'), h('pre', null, 'strata apply -f assets.yaml'))));
    ctx.ready('empty');
    return;
  }
  if (collapseParam === null && all.length > AUTO_COLLAPSE) {
    grouped = true;
    groupBox.checked = true;
  }
  const keys = all.map((n) => n.key).sort();
  // A datalist of thousands of keys is slow to build: only when small.
  if (keys.length <= 2000) for (const k of keys) keysList.appendChild(h('option', { value: k }));

  const expanded = new Set();
  const focusGroup = all.find((n) => n.key === focus)?.group;
  if (focusGroup !== undefined) expanded.add(focusGroup || '(no group)');
  view = graphView(canvas, area, info, {
    signal, focus,
    open: (n) => {
      if (n.isGroup) { expanded.add(n.group); view.set(build()); return; }
      navigate(assetPath(n.key));
    },
  });
  function build() {
    const g = grouped ? collapse(all, res.edges || [], expanded) : { nodes: all, edges: res.edges || [] };
    return g;
  }
  view.set(build());
  const tReady = performance.now();
  area.dataset.state = 'ready';
  area.dataset.fetchMs = String(Math.round(tFetch - t0));
  area.dataset.layoutMs = String(Math.round(tReady - tFetch));
  ctx.ready();

  search.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    const q = search.value.trim().toLowerCase();
    if (!q) { if (focus) go({ focus: '' }); return; }
    const hit = keys.find((k) => k === q) || keys.find((k) => k.toLowerCase().includes(q));
    if (!hit) { info.textContent = `No asset matches "${search.value}".`; return; }
    go({ focus: hit });
  });

  // Colour by health: the API leaves status out of large graphs; fetch it
  // by pages of the asset list, after the graph is on screen.
  if (all.some((n) => !n.status_counts)) {
    const byKey = new Map(all.map((n) => [n.key, n]));
    (async () => {
      let token = '';
      for (let i = 0; i < 20 && !signal.aborted; i++) {
        const page = await api.listAssets({ page_size: 1000, page_token: token }, signal);
        for (const a of page.assets || []) {
          const n = byKey.get(a.decl?.key);
          if (n) n.status_counts = a.status_counts;
        }
        view.set(build(), { keepView: true });
        token = page.next_page_token;
        if (!token) break;
      }
    })().catch(() => {});
  }
  return () => view?.destroy();
}

// graphView draws {nodes, edges} on canvas with pan and zoom.
function graphView(canvas, area, info, { signal, focus, open }) {
  let g = null; // {nodes, edges, idx: Map, pos, E: Int32Array pairs}
  const tf = { x: 0, y: 0, k: 1 };
  let hover = -1;
  let raf = 0;
  let drag = null;

  function set(data, { keepView = false } = {}) {
    const nodes = data.nodes;
    const idx = new Map(nodes.map((n, i) => [n.key, i]));
    const pairs = [];
    for (const e of data.edges) {
      const a = idx.get(e.upstream), b = idx.get(e.downstream);
      if (a !== undefined && b !== undefined) pairs.push([a, b]);
    }
    const pos = layout(nodes.length, pairs);
    const health = nodes.map((n) => healthOf(n.status_counts));
    const labels = new Array(nodes.length);
    g = { nodes, idx, pairs, pos, health, labels, nb: null };
    area.dataset.nodes = String(nodes.length);
    area.dataset.edges = String(pairs.length);
    const groups = nodes.filter((n) => n.isGroup).length;
    info.textContent = `${fmtInt(nodes.length)} node${nodes.length === 1 ? '' : 's'}${groups ? ` (${groups} collapsed group${groups === 1 ? '' : 's'})` : ''} · ${fmtInt(pairs.length)} edges · ${pos.layers} layers · drag to pan, wheel to zoom, click to open`;
    if (!keepView) fit();
    else schedule();
  }

  function fit() {
    if (!g) return;
    const w = area.clientWidth || 800, hh = area.clientHeight || 600;
    const pad = 40;
    const kw = (w - pad * 2) / Math.max(1, g.pos.width), kh = (hh - pad * 2) / Math.max(1, g.pos.height);
    // Fit the whole graph, unless that makes it unreadable: a very tall or
    // very wide graph fits its other side (up to a scale where labels
    // read), centred on the median node: pan to see the rest.
    const k = Math.min(1.2, Math.max(Math.min(kw, kh), Math.min(0.7, Math.max(kw, kh))));
    tf.k = Math.max(0.005, k);
    const mid = (arr, size) => { const a = Float64Array.from(arr).sort(); return a.length ? a[a.length >> 1] + size / 2 : 0; };
    tf.x = g.pos.width * tf.k > w - pad * 2 ? w / 2 - mid(g.pos.x, NODE_W) * tf.k : (w - g.pos.width * tf.k) / 2;
    tf.y = g.pos.height * tf.k > hh - pad * 2 ? hh / 2 - mid(g.pos.y, NODE_H) * tf.k : (hh - g.pos.height * tf.k) / 2;
    if (g.pos.width * tf.k > w - pad * 2) tf.x = Math.min(pad, Math.max(tf.x, w - pad - g.pos.width * tf.k));
    const fi = focus ? g.idx.get(focus) : undefined;
    if (fi !== undefined && tf.k < 0.5) { // zoom in on the focused asset in a big graph
      tf.k = 0.8;
      tf.x = w / 2 - (g.pos.x[fi] + NODE_W / 2) * tf.k;
      tf.y = hh / 2 - (g.pos.y[fi] + NODE_H / 2) * tf.k;
    }
    draw();
  }

  function schedule() {
    if (!raf) raf = requestAnimationFrame(() => { raf = 0; draw(); });
  }

  function label(ctx, i, maxW) {
    let s = g.labels[i];
    if (s !== undefined) return s;
    const n = g.nodes[i];
    s = n.isGroup ? `${n.group} (${n.members})` : n.key;
    if (ctx.measureText(s).width > maxW) {
      let lo = 0, hi = s.length;
      while (lo < hi) { // longest suffix that fits after "…"
        const m = (lo + hi) >> 1;
        if (ctx.measureText('…' + s.slice(m)).width <= maxW) hi = m; else lo = m + 1;
      }
      s = '…' + s.slice(lo);
    }
    g.labels[i] = s;
    return s;
  }

  function neighbours() {
    if (g.nb) return g.nb;
    const nb = Array.from({ length: g.nodes.length }, () => []);
    g.pairs.forEach(([a, b], ei) => { nb[a].push(ei); nb[b].push(ei); });
    g.nb = nb;
    return nb;
  }

  function draw() {
    if (!g) return;
    const dpr = window.devicePixelRatio || 1;
    const w = area.clientWidth, hh = area.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hh * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(hh * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hh);
    ctx.setTransform(dpr * tf.k, 0, 0, dpr * tf.k, dpr * tf.x, dpr * tf.y);
    const { x, y } = g.pos;
    // visible world rectangle
    const vx0 = -tf.x / tf.k, vy0 = -tf.y / tf.k, vx1 = (w - tf.x) / tf.k, vy1 = (hh - tf.y) / tf.k;
    const visible = (i) => x[i] + NODE_W >= vx0 && x[i] <= vx1 && y[i] + NODE_H >= vy0 && y[i] <= vy1;
    const many = g.pairs.length > 3000 && tf.k < 0.3;
    ctx.lineWidth = 1 / Math.max(tf.k, 0.5);
    ctx.strokeStyle = many ? 'rgba(120,130,150,.18)' : 'rgba(120,130,150,.55)';
    ctx.beginPath();
    for (const [a, b] of g.pairs) {
      const ax = x[a] + NODE_W, ay = y[a] + NODE_H / 2, bx = x[b], by = y[b] + NODE_H / 2;
      if (Math.max(ax, bx) < vx0 || Math.min(ax, bx) > vx1 || Math.max(ay, by) < vy0 || Math.min(ay, by) > vy1) continue;
      ctx.moveTo(ax, ay);
      if (many) ctx.lineTo(bx, by);
      else { const mx = (ax + bx) / 2; ctx.bezierCurveTo(mx, ay, mx, by, bx, by); }
    }
    ctx.stroke();
    if (hover >= 0) { // the hovered node's edges on top
      ctx.strokeStyle = '#2f6fde'; ctx.lineWidth = 2 / Math.max(tf.k, 0.5);
      ctx.beginPath();
      for (const ei of neighbours()[hover]) {
        const [a, b] = g.pairs[ei];
        const ax = x[a] + NODE_W, ay = y[a] + NODE_H / 2, bx = x[b], by = y[b] + NODE_H / 2, mx = (ax + bx) / 2;
        ctx.moveTo(ax, ay); ctx.bezierCurveTo(mx, ay, mx, by, bx, by);
      }
      ctx.stroke();
    }
    const detail = tf.k * NODE_H >= 14;
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    // Far out, nodes are drawn at least 3 screen pixels tall in their
    // health colour, so a big graph reads as a map of where problems are.
    const minH = 3 / tf.k;
    const far = NODE_H < minH * 1.5;
    for (let i = 0; i < g.nodes.length; i++) {
      if (!visible(i)) continue;
      const hs = g.health[i];
      const n = g.nodes[i];
      if (far) {
        ctx.fillStyle = STROKE[hs] || '#aab2bf';
        ctx.fillRect(x[i], y[i] + NODE_H / 2 - minH / 2, NODE_W, minH);
        if (n.key === focus) { ctx.strokeStyle = '#1d2330'; ctx.lineWidth = 3 / tf.k; ctx.strokeRect(x[i], y[i], NODE_W, NODE_H); }
        continue;
      }
      ctx.fillStyle = FILL[hs] || '#fff';
      ctx.fillRect(x[i], y[i], NODE_W, NODE_H);
      ctx.fillStyle = STROKE[hs] || '#aab2bf';
      ctx.fillRect(x[i], y[i], 5, NODE_H);
      if (detail) {
        const focused = n.key === focus || i === hover;
        ctx.lineWidth = focused ? 2.5 : 1;
        ctx.strokeStyle = focused ? '#1d2330' : n.isGroup ? '#7d8796' : STROKE[hs] || '#aab2bf';
        ctx.strokeRect(x[i] + 0.5, y[i] + 0.5, NODE_W - 1, NODE_H - 1);
        if (n.isGroup) { ctx.strokeRect(x[i] + 3.5, y[i] + 3.5, NODE_W - 7, NODE_H - 7); }
        ctx.fillStyle = n.selected === false && focus ? '#677185' : '#1d2330';
        ctx.fillText(label(ctx, i, NODE_W - 18), x[i] + 11, y[i] + NODE_H / 2);
      } else if (n.key === focus) {
        ctx.strokeStyle = '#1d2330'; ctx.lineWidth = 3 / tf.k;
        ctx.strokeRect(x[i], y[i], NODE_W, NODE_H);
      }
    }
    area.dataset.drawn = String(int(area.dataset.drawn) + 1);
  }

  function nodeAt(px, py) {
    if (!g) return -1;
    const wx = (px - tf.x) / tf.k, wy = (py - tf.y) / tf.k;
    const { x, y } = g.pos;
    for (let i = 0; i < g.nodes.length; i++) {
      if (wx >= x[i] && wx <= x[i] + NODE_W && wy >= y[i] && wy <= y[i] + NODE_H) return i;
    }
    return -1;
  }
  const local = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };

  canvas.addEventListener('mousedown', (e) => {
    const [px, py] = local(e);
    drag = { px, py, x: tf.x, y: tf.y, moved: false };
    canvas.classList.add('dragging');
  });
  window.addEventListener('mousemove', (e) => {
    if (!drag) return;
    const [px, py] = local(e);
    if (Math.abs(px - drag.px) + Math.abs(py - drag.py) > 3) drag.moved = true;
    tf.x = drag.x + px - drag.px; tf.y = drag.y + py - drag.py;
    schedule();
  }, { signal });
  window.addEventListener('mouseup', (e) => {
    if (!drag) return;
    const d = drag; drag = null;
    canvas.classList.remove('dragging');
    if (!d.moved && e.target === canvas) {
      const [px, py] = local(e);
      const i = nodeAt(px, py);
      if (i >= 0) open(g.nodes[i]);
    }
  }, { signal });
  canvas.addEventListener('mousemove', (e) => {
    if (drag) return;
    const [px, py] = local(e);
    const i = nodeAt(px, py);
    if (i !== hover) {
      hover = i;
      canvas.style.cursor = i >= 0 ? 'pointer' : '';
      canvas.title = i >= 0 ? (g.nodes[i].isGroup ? `group ${g.nodes[i].group}: ${g.nodes[i].members} assets (click to expand)` : g.nodes[i].key) + '\n' + countsTitle(g.nodes[i].status_counts) : '';
      schedule();
    }
  });
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    const [px, py] = local(e);
    const f = Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015));
    const k = Math.min(3, Math.max(0.01, tf.k * f));
    tf.x = px - ((px - tf.x) * k) / tf.k;
    tf.y = py - ((py - tf.y) * k) / tf.k;
    tf.k = k;
    schedule();
  }, { passive: false });
  const ro = new ResizeObserver(() => schedule());
  ro.observe(area);

  // Where a node is on screen (client coordinates), for tests and tools.
  area.nodeCenter = (key) => {
    const i = g?.idx.get(key);
    if (i === undefined) return null;
    const r = canvas.getBoundingClientRect();
    return [r.left + tf.x + (g.pos.x[i] + NODE_W / 2) * tf.k, r.top + tf.y + (g.pos.y[i] + NODE_H / 2) * tf.k];
  };
  return {
    set, fit,
    destroy() { ro.disconnect(); cancelAnimationFrame(raf); },
  };
}

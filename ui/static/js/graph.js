// Layered layout of a DAG, left to right (a small Sugiyama): longest-path
// layering, a few barycenter sweeps to order each layer, then vertical
// positions pulled toward neighbours without overlap. Written for speed on
// thousands of nodes: O((V + E) log V) per sweep, no dummy nodes (an edge
// that spans layers pulls on the order through its real ends).

export const NODE_W = 200;
export const NODE_H = 34;
const GAP_X = 90;
const GAP_Y = 12;

// layout(n, edges) places nodes 0..n-1; edges are [from, to] index pairs
// (upstream to downstream). Returns {x: Float64Array, y, layer: Int32Array,
// width, height}.
export function layout(n, edges, { sweeps = 4 } = {}) {
  const out = Array.from({ length: n }, () => []);
  const inn = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    if (a === b) continue;
    out[a].push(b);
    inn[b].push(a);
  }
  // Longest-path layering over a topological order (Kahn). Asset graphs
  // are acyclic, but a collapsed one (one node per group) need not be:
  // when Kahn stalls, the remaining node with the fewest unprocessed
  // upstreams goes next and its edges from later nodes are ignored
  // (drawn backwards), so every node gets a layer.
  const layer = new Int32Array(n);
  const indeg = new Int32Array(n);
  for (let i = 0; i < n; i++) indeg[i] = inn[i].length;
  const order = new Int32Array(n);
  const rank = new Int32Array(n).fill(-1);
  const queue = [];
  for (let i = 0; i < n; i++) if (!indeg[i]) queue.push(i);
  let done = 0;
  let qi = 0;
  while (done < n) {
    if (qi === queue.length) {
      let best = -1;
      for (let i = 0; i < n; i++) {
        if (rank[i] < 0 && indeg[i] > 0 && (best < 0 || indeg[i] < indeg[best] || (indeg[i] === indeg[best] && out[i].length > out[best].length))) best = i;
      }
      indeg[best] = 0;
      queue.push(best);
    }
    const v = queue[qi++];
    if (rank[v] >= 0) continue;
    rank[v] = done;
    order[done++] = v;
    for (const w of out[v]) {
      if (rank[w] >= 0) continue;
      if (--indeg[w] === 0) queue.push(w);
    }
  }
  for (let k = 0; k < n; k++) {
    const v = order[k];
    let l = 0;
    for (const u of inn[v]) if (rank[u] < k && layer[u] + 1 > l) l = layer[u] + 1;
    layer[v] = l;
  }
  // Pull sources right next to their first downstream (a source feeding
  // only layer 5 sits in layer 4), so edges stay short.
  for (let k = n - 1; k >= 0; k--) {
    const v = order[k];
    if (inn[v].length || !out[v].length) continue;
    let m = Infinity;
    for (const w of out[v]) m = Math.min(m, layer[w]);
    layer[v] = Math.max(0, m - 1);
  }
  let nl = 0;
  for (let i = 0; i < n; i++) nl = Math.max(nl, layer[i] + 1);
  const layers = Array.from({ length: nl }, () => []);
  for (const v of order) layers[layer[v]].push(v);

  // Ordering: pos[v] is v's rank in its layer, normalised to [0, 1] so
  // layers of different sizes compare.
  const pos = new Float64Array(n);
  const norm = () => {
    for (const L of layers) {
      const d = Math.max(1, L.length - 1);
      L.forEach((v, i) => { pos[v] = L.length === 1 ? 0.5 : i / d; });
    }
  };
  norm();
  const bary = new Float64Array(n);
  const sweep = (nb, from, to, step) => {
    for (let l = from; l !== to; l += step) {
      const L = layers[l];
      for (const v of L) {
        const ns = nb[v];
        if (!ns.length) { bary[v] = pos[v]; continue; }
        let s = 0;
        for (const w of ns) s += pos[w];
        bary[v] = s / ns.length;
      }
      L.sort((a, b) => bary[a] - bary[b] || pos[a] - pos[b]);
      const d = Math.max(1, L.length - 1);
      L.forEach((v, i) => { pos[v] = L.length === 1 ? 0.5 : i / d; });
    }
  };
  for (let s = 0; s < sweeps; s++) {
    sweep(inn, 1, nl, 1);
    sweep(out, nl - 2, -1, -1);
  }

  // Coordinates: stack each layer, then pull nodes toward the mean y of
  // their neighbours, keeping order and spacing.
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const step = NODE_H + GAP_Y;
  let maxLen = 0;
  for (const L of layers) maxLen = Math.max(maxLen, L.length);
  for (let l = 0; l < nl; l++) {
    const L = layers[l];
    const off = ((maxLen - L.length) * step) / 2;
    L.forEach((v, i) => { x[v] = l * (NODE_W + GAP_X); y[v] = off + i * step; });
  }
  const want = new Float64Array(n);
  for (let it = 0; it < 3; it++) {
    for (let l = 0; l < nl; l++) {
      const L = layers[l];
      for (const v of L) {
        let s = 0, c = 0;
        for (const w of inn[v]) { s += y[w]; c++; }
        for (const w of out[v]) { s += y[w]; c++; }
        want[v] = c ? s / c : y[v];
      }
      // forward: no overlap with the node above
      let prev = -Infinity;
      for (const v of L) { y[v] = Math.max(want[v], prev + step); prev = y[v]; }
      // backward: shift up where a node was pushed below what it wanted
      let next = Infinity;
      for (let i = L.length - 1; i >= 0; i--) {
        const v = L[i];
        y[v] = Math.min(y[v], next - step);
        y[v] = Math.max(y[v], i > 0 ? -Infinity : -Infinity);
        next = y[v];
      }
      // the backward pass may break the forward order at the top: fix it
      prev = -Infinity;
      for (const v of L) { if (y[v] < prev + step) y[v] = prev + step; prev = y[v]; }
    }
  }
  let minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) { minY = Math.min(minY, y[i]); maxY = Math.max(maxY, y[i]); }
  if (n) for (let i = 0; i < n; i++) y[i] -= minY;
  return { x, y, layer, layers: nl, width: nl * (NODE_W + GAP_X) - GAP_X, height: n ? maxY - minY + NODE_H : 0 };
}

// collapse groups nodes whose group is not in expanded into one node per
// group. nodes: [{key, group, status_counts}]; edges: [{upstream,
// downstream}]. Returns {nodes, edges} with group nodes {key: "group:g",
// group, isGroup: true, members, status_counts (summed)}.
export function collapse(nodes, edges, expanded) {
  const groupOf = (n) => n.group || '(no group)';
  const outNodes = [];
  const idOf = new Map();
  const groups = new Map();
  for (const n of nodes) {
    const g = groupOf(n);
    if (expanded.has(g)) {
      idOf.set(n.key, n.key);
      outNodes.push(n);
      continue;
    }
    let gn = groups.get(g);
    if (!gn) {
      gn = { key: 'group:' + g, group: g, isGroup: true, members: 0, status_counts: null, selected: false };
      groups.set(g, gn);
      outNodes.push(gn);
    }
    gn.members++;
    gn.selected = gn.selected || n.selected;
    if (n.status_counts) {
      gn.status_counts = gn.status_counts || { total: 0, fresh: 0, stale: 0, failed: 0, running: 0, missing: 0 };
      for (const k of Object.keys(gn.status_counts)) gn.status_counts[k] += Number(n.status_counts[k] || 0);
    }
    idOf.set(n.key, gn.key);
  }
  const seen = new Set();
  const outEdges = [];
  for (const e of edges) {
    const a = idOf.get(e.upstream), b = idOf.get(e.downstream);
    if (!a || !b || a === b) continue;
    const k = a + '\u0000' + b;
    if (seen.has(k)) continue;
    seen.add(k);
    outEdges.push({ upstream: a, downstream: b });
  }
  return { nodes: outNodes, edges: outEdges };
}

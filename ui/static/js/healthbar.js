// The partition health bar: an asset's partitions drawn from the
// aggregated ranges of GetPartitionHealth on a canvas. Each pixel column
// stacks the share of each status among the partitions it covers, so one
// failed partition among a million still shows. Drag to zoom into an index
// range, click a range to select it, double-click or "Zoom out" to widen.
import { api } from './api.js';
import { h, replace, STATUS_COLOR, statusName, fmtInt, int, sleep } from './util.js';

const ORDER = ['failed', 'stale', 'running', 'fresh', 'missing', 'unknown'];
const SI = Object.fromEntries(ORDER.map((s, i) => [s, i]));
const MAX_RANGES = 5000; // per request; the server caps at 100000
const MAX_FOLLOWUPS = 12; // extra requests to fill a truncated view

// healthBar returns {el, load(lo, hi)}; onSelect(range) gets the range
// clicked, onZoom(lo, hi) the index range shown after a zoom.
export function healthBar(assetKey, { signal, onSelect, onZoom, from, to }) {
  const canvas = h('canvas', { id: 'health-canvas', role: 'img', 'aria-label': 'Partition health' });
  const axisL = h('span', { class: 'mono' });
  const axisM = h('span', { class: 'muted' });
  const axisR = h('span', { class: 'mono' });
  const tip = h('div', { class: 'tooltip', hidden: true });
  const status = h('span', { class: 'muted' });
  const zoomOut = h('button', { type: 'button', class: 'small', disabled: true, onclick: () => zoomBy(4) }, 'Zoom out');
  const reset = h('button', { type: 'button', class: 'small', disabled: true, onclick: () => setView(0, st.n - 1, true) }, 'Whole range');
  const legend = h('div', { class: 'legend' },
    ['fresh', 'stale', 'failed', 'running', 'missing'].map((s) => h('span', null, h('i', { style: { background: STATUS_COLOR[s] } }), s)),
    h('span', null, h('i', { class: 'hatch', style: { background: STATUS_COLOR.unknown } }), 'not loaded: zoom in'));
  const wrap = h('div', { class: 'health-wrap', id: 'health-bar', dataset: { state: 'loading' } },
    h('div', { class: 'row' }, legend, h('span', { class: 'spacer', style: { flex: 1 } }), status, zoomOut, reset),
    canvas,
    h('div', { class: 'health-axis' }, axisL, axisM, axisR));
  document.body.appendChild(tip);
  signal.addEventListener('abort', () => tip.remove(), { once: true });

  const st = { n: 0, lo: 0, hi: 0, ranges: [], gen: 0, sel: null, drag: null, hover: null };

  async function fetchView(lo, hi) {
    const gen = ++st.gen;
    wrap.dataset.state = 'loading';
    status.textContent = 'loading…';
    const params = { max_ranges: MAX_RANGES };
    if (st.n) { params.start_index = lo; params.end_index = hi; }
    const res = await api.partitionHealth(assetKey, params, signal);
    if (gen !== st.gen) return;
    st.n = int(res.partition_count);
    if (!st.n) {
      st.ranges = [];
      draw();
      status.textContent = 'no partitions yet';
      wrap.dataset.state = 'ready';
      return;
    }
    if (params.start_index === undefined) { st.lo = 0; st.hi = st.n - 1; }
    st.ranges = (res.ranges || []).map(norm);
    st.counts = res.counts;
    draw();
    wrap.dataset.state = 'ready';
    wrap.dataset.ranges = String(st.ranges.length);
    wrap.dataset.partitions = String(st.n);
    updateStatus(res.truncated);
    if (res.truncated) await fillTruncated(gen, int(res.next_start_index));
  }

  // fillTruncated loads the rest of a view that needed more ranges than one
  // answer holds: the remaining index range is cut in slices, fetched a few
  // at a time; what stays unloaded is drawn hatched.
  async function fillTruncated(gen, next) {
    const hi = st.hi;
    const slices = Math.min(MAX_FOLLOWUPS, Math.ceil((hi - next + 1) / 1));
    const size = Math.ceil((hi - next + 1) / slices);
    const jobs = [];
    for (let s = next; s <= hi; s += size) jobs.push([s, Math.min(hi, s + size - 1)]);
    let truncated = false;
    const run = async ([a, b]) => {
      const res = await api.partitionHealth(assetKey, { start_index: a, end_index: b, max_ranges: Math.ceil(MAX_RANGES / 2) }, signal);
      if (gen !== st.gen) return;
      if (res.truncated) truncated = true;
      st.ranges.push(...(res.ranges || []).map(norm));
      st.ranges.sort((x, y) => x.s - y.s);
      draw();
    };
    for (let i = 0; i < jobs.length; i += 4) {
      await Promise.all(jobs.slice(i, i + 4).map(run));
      if (gen !== st.gen) return;
      await sleep(0, signal);
    }
    wrap.dataset.ranges = String(st.ranges.length);
    updateStatus(truncated);
  }

  function norm(r) {
    return { s: int(r.start_index), e: int(r.end_index), a: r.first_key || '', b: r.last_key || '', st: statusName(r.status) };
  }

  function updateStatus(truncated) {
    const span = st.hi - st.lo + 1;
    status.textContent = (span === st.n ? `${fmtInt(st.n)} partitions` : `${fmtInt(span)} of ${fmtInt(st.n)} partitions`)
      + ` · ${fmtInt(st.ranges.length)} ranges` + (truncated ? ' · zoom in for full detail' : '');
    zoomOut.disabled = reset.disabled = span >= st.n;
  }

  function setView(lo, hi, notify) {
    lo = Math.max(0, Math.floor(lo)); hi = Math.min(st.n - 1, Math.ceil(hi));
    if (hi < lo) return;
    st.lo = lo; st.hi = hi;
    if (notify) onZoom?.(lo, hi, st.n);
    fetchView(lo, hi).catch(fail);
  }

  function zoomBy(f) {
    const mid = (st.lo + st.hi) / 2;
    const half = ((st.hi - st.lo + 1) * f) / 2;
    setView(mid - half, mid + half, true);
  }

  function fail(err) {
    if (err.name === 'AbortError') return;
    wrap.dataset.state = 'error';
    status.textContent = '';
    wrap.appendChild(h('div', { class: 'error' }, 'Could not load partition health: ', err.message));
  }

  function geom() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 800;
    const hgt = canvas.clientHeight || 46;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
    }
    return { w, hgt, dpr };
  }

  function draw() {
    const { w, hgt, dpr } = geom();
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const W = Math.max(1, Math.floor(w));
    if (!st.n) {
      ctx.fillStyle = '#eceef1'; ctx.fillRect(0, 0, w, hgt);
      return;
    }
    const lo = st.lo, span = st.hi - st.lo + 1;
    const scale = W / span; // pixels per partition
    const acc = new Float64Array(W * ORDER.length);
    const add = (s, e, si) => {
      // partitions [s, e] clipped to the view, in pixel units
      const x0 = (Math.max(s, lo) - lo) * scale;
      const x1 = (Math.min(e, st.hi) + 1 - lo) * scale;
      if (x1 <= x0) return;
      const p0 = Math.floor(x0), p1 = Math.min(W - 1, Math.ceil(x1) - 1);
      for (let p = p0; p <= p1; p++) {
        acc[p * ORDER.length + si] += Math.min(x1, p + 1) - Math.max(x0, p);
      }
    };
    let covered = lo;
    for (const r of st.ranges) {
      if (r.e < lo || r.s > st.hi) continue;
      if (r.s > covered) add(covered, r.s - 1, SI.unknown);
      add(r.s, r.e, SI[r.st] ?? SI.unknown);
      covered = Math.max(covered, r.e + 1);
    }
    if (covered <= st.hi) add(covered, st.hi, SI.unknown);
    const barH = hgt;
    for (let p = 0; p < W; p++) {
      let tot = 0;
      for (let i = 0; i < ORDER.length; i++) tot += acc[p * ORDER.length + i];
      if (tot <= 0) continue;
      let y = 0;
      for (let i = 0; i < ORDER.length; i++) {
        const v = acc[p * ORDER.length + i];
        if (!v) continue;
        let hh = (v / tot) * barH;
        // keep rare statuses visible: failed, stale, running at least 3px,
        // fresh 2px (a column of 700 partitions with one failure shows it)
        if (i < 3 && hh < 3) hh = Math.min(barH, 3);
        else if (i === 3 && hh < 2) hh = 2;
        ctx.fillStyle = STATUS_COLOR[ORDER[i]];
        ctx.fillRect(p, y, 1, Math.min(hh, barH - y));
        y += hh;
        if (y >= barH) break;
      }
    }
    // unloaded parts: hatch over the grey
    if (st.ranges.length && covered <= st.hi) {
      ctx.strokeStyle = 'rgba(255,255,255,.55)';
      const x0 = (covered - lo) * scale;
      ctx.beginPath();
      for (let x = x0 - hgt; x < w; x += 6) { ctx.moveTo(x, hgt); ctx.lineTo(x + hgt, 0); }
      ctx.save(); ctx.beginPath(); ctx.rect(x0, 0, w - x0, hgt); ctx.clip();
      ctx.beginPath();
      for (let x = x0 - hgt; x < w; x += 6) { ctx.moveTo(x, hgt); ctx.lineTo(x + hgt, 0); }
      ctx.stroke(); ctx.restore();
    }
    if (scale >= 3) { // partition separators when each is wide enough
      ctx.fillStyle = 'rgba(255,255,255,.6)';
      for (let i = 1; i < span; i++) ctx.fillRect(Math.round(i * scale), 0, 1, hgt);
    }
    if (st.sel) {
      const x0 = (Math.max(st.sel.s, lo) - lo) * scale, x1 = (Math.min(st.sel.e, st.hi) + 1 - lo) * scale;
      if (x1 > x0) { ctx.strokeStyle = '#1d2330'; ctx.lineWidth = 2; ctx.strokeRect(x0 + 1, 1, Math.max(2, x1 - x0 - 2), hgt - 2); }
    }
    if (st.drag && st.drag.moved) {
      const a = Math.min(st.drag.x0, st.drag.x1), b = Math.max(st.drag.x0, st.drag.x1);
      ctx.fillStyle = 'rgba(47,111,222,.25)'; ctx.fillRect(a, 0, b - a, hgt);
      ctx.strokeStyle = '#2f6fde'; ctx.lineWidth = 1; ctx.strokeRect(a + .5, .5, b - a - 1, hgt - 1);
    }
    const first = st.ranges.find((r) => r.e >= lo);
    const last = [...st.ranges].reverse().find((r) => r.s <= st.hi);
    axisL.textContent = first && first.s <= lo ? (first.s === lo ? first.a : `#${fmtInt(lo)}`) : `#${fmtInt(lo)}`;
    axisR.textContent = last && last.e >= st.hi ? (last.e === st.hi ? last.b : `#${fmtInt(st.hi)}`) : `#${fmtInt(st.hi)}`;
    axisM.textContent = `partitions ${fmtInt(lo)}–${fmtInt(st.hi)} by index`;
  }

  const indexAt = (x) => st.lo + Math.floor((x / canvas.clientWidth) * (st.hi - st.lo + 1));
  function rangeAt(i) {
    let a = 0, b = st.ranges.length - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      const r = st.ranges[m];
      if (i < r.s) b = m - 1; else if (i > r.e) a = m + 1; else return r;
    }
    return null;
  }
  const xOf = (e) => e.clientX - canvas.getBoundingClientRect().left;

  canvas.addEventListener('mousedown', (e) => { st.drag = { x0: xOf(e), x1: xOf(e), moved: false }; });
  window.addEventListener('mouseup', (e) => {
    if (!st.drag) return;
    const d = st.drag; st.drag = null;
    if (d.moved && Math.abs(d.x1 - d.x0) > 4) {
      const a = indexAt(Math.min(d.x0, d.x1)), b = indexAt(Math.max(d.x0, d.x1));
      setView(a, b, true);
    } else if (e.target === canvas) {
      const r = rangeAt(indexAt(xOf(e)));
      if (r) { st.sel = r; draw(); onSelect?.(r); }
    }
  }, { signal });
  canvas.addEventListener('mousemove', (e) => {
    const x = xOf(e);
    if (st.drag) { st.drag.x1 = x; st.drag.moved = true; draw(); }
    const i = indexAt(x);
    const r = rangeAt(i);
    tip.hidden = false;
    tip.style.left = e.clientX + 12 + 'px';
    tip.style.top = e.clientY + 14 + 'px';
    tip.textContent = r
      ? `${r.st} · ${fmtInt(r.e - r.s + 1)} partition${r.e > r.s ? 's' : ''}\n${r.a}${r.e > r.s ? ' … ' + r.b : ''}\nindex ${fmtInt(r.s)}${r.e > r.s ? '–' + fmtInt(r.e) : ''}`
      : `index ${fmtInt(i)} · not loaded: zoom in`;
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  canvas.addEventListener('dblclick', () => zoomBy(4));
  canvas.addEventListener('wheel', (e) => {
    if (!e.ctrlKey && !e.altKey) return; // plain wheel scrolls the page
    e.preventDefault();
    const i = indexAt(xOf(e));
    const f = e.deltaY > 0 ? 2 : 0.5;
    const lo = i - (i - st.lo) * f, hi = i + (st.hi - i) * f;
    setView(lo, hi, true);
  }, { passive: false });
  const ro = new ResizeObserver(() => draw());
  ro.observe(canvas);
  signal.addEventListener('abort', () => ro.disconnect(), { once: true });

  return {
    el: wrap,
    // load shows [from, to] (whole range when unset) and resolves when the
    // first answer is drawn.
    async load() {
      try {
        await fetchView(0, 0);
        if (from !== undefined && to !== undefined && st.n && (from > 0 || to < st.n - 1)) {
          st.lo = Math.max(0, from); st.hi = Math.min(st.n - 1, to);
          await fetchView(st.lo, st.hi);
        }
      } catch (err) { fail(err); }
    },
    select(r) { st.sel = r; draw(); },
  };
}

export function countsLegend(c) {
  if (!c) return null;
  return h('div', { class: 'legend', id: 'health-counts' },
    ['fresh', 'stale', 'failed', 'running', 'missing'].map((s) => h('span', null,
      h('i', { style: { background: STATUS_COLOR[s] } }), `${s} ${fmtInt(c[s])}`)),
    h('span', null, `total ${fmtInt(c.total)}`));
}

export { replace };

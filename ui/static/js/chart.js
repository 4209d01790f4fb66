// A small time-series chart on canvas: one panel per series, sharing the
// time axis (row count and bytes of materializations over time).
import { h, fmtCompact, fmtBytes, fmtTime } from './util.js';

// timeChart(points, series) draws points [{t: ms, ...}] for each series
// {key, label, color, fmt}. Returns the element.
export function timeChart(points, series, { signal } = {}) {
  const canvas = h('canvas', { id: 'mat-chart', role: 'img', 'aria-label': series.map((s) => s.label).join(' and ') + ' over time' });
  const tip = h('div', { class: 'tooltip', hidden: true });
  const el = h('div', { class: 'chart' }, canvas);
  document.body.appendChild(tip);
  signal?.addEventListener('abort', () => tip.remove(), { once: true });
  points = points.filter((p) => !isNaN(p.t)).sort((a, b) => a.t - b.t);
  let layout = null;

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 600, H = canvas.clientHeight || 180;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(H * dpr);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, H);
    ctx.font = '11px system-ui, sans-serif';
    const left = 64, right = 10, top = 6, bottom = 20;
    const panelH = (H - top - bottom) / series.length;
    const t0 = points.length ? points[0].t : 0, t1 = points.length ? points[points.length - 1].t : 1;
    const tspan = Math.max(1, t1 - t0);
    const X = (t) => left + (points.length === 1 ? (w - left - right) / 2 : ((t - t0) / tspan) * (w - left - right));
    layout = { X, series: [] };
    series.forEach((s, si) => {
      const y0 = top + si * panelH + (si ? 10 : 0), ph = panelH - 18;
      const vals = points.map((p) => p[s.key]).filter((v) => v !== null && v !== undefined);
      const max = Math.max(1, ...vals);
      const Y = (v) => y0 + ph - (v / max) * ph;
      ctx.strokeStyle = '#e2e5ea'; ctx.fillStyle = '#677185'; ctx.lineWidth = 1;
      for (const f of [0, 0.5, 1]) {
        const y = Math.round(Y(max * f)) + 0.5;
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
        ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
        ctx.fillText(s.fmt(max * f), left - 6, y);
      }
      ctx.save(); ctx.translate(10, y0 + ph / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = 'center'; ctx.fillStyle = s.color;
      ctx.fillText(s.label, 0, 0); ctx.restore();
      ctx.strokeStyle = s.color; ctx.fillStyle = s.color; ctx.lineWidth = 1.5;
      ctx.beginPath();
      let started = false;
      for (const p of points) {
        const v = p[s.key];
        if (v === null || v === undefined) continue;
        if (!started) { ctx.moveTo(X(p.t), Y(v)); started = true; } else ctx.lineTo(X(p.t), Y(v));
      }
      if (points.length <= 400) ctx.stroke(); else { ctx.globalAlpha = 0.5; ctx.stroke(); ctx.globalAlpha = 1; }
      if (points.length <= 200) {
        for (const p of points) {
          const v = p[s.key];
          if (v === null || v === undefined) continue;
          ctx.beginPath(); ctx.arc(X(p.t), Y(v), 2.5, 0, Math.PI * 2); ctx.fill();
        }
      }
      layout.series.push({ s, Y });
    });
    ctx.fillStyle = '#677185'; ctx.textBaseline = 'alphabetic';
    if (points.length) {
      ctx.textAlign = 'left'; ctx.fillText(fmtTime(new Date(t0).toISOString()), left, H - 4);
      if (points.length > 1) { ctx.textAlign = 'right'; ctx.fillText(fmtTime(new Date(t1).toISOString()), w - right, H - 4); }
    }
  }

  canvas.addEventListener('mousemove', (e) => {
    if (!layout || !points.length) return;
    const x = e.clientX - canvas.getBoundingClientRect().left;
    let best = null, bd = Infinity;
    for (const p of points) { const d = Math.abs(layout.X(p.t) - x); if (d < bd) { bd = d; best = p; } }
    if (!best || bd > 20) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.style.left = e.clientX + 12 + 'px'; tip.style.top = e.clientY + 12 + 'px';
    tip.textContent = [best.label, fmtTime(new Date(best.t).toISOString()), ...series.map((s) => `${s.label}: ${best[s.key] === null || best[s.key] === undefined ? '–' : s.fmt(best[s.key])}`)].filter(Boolean).join('\n');
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  const ro = new ResizeObserver(() => draw());
  ro.observe(canvas);
  signal?.addEventListener('abort', () => ro.disconnect(), { once: true });
  requestAnimationFrame(draw);
  return el;
}

export const ROWS = { key: 'rows', label: 'rows', color: '#2f6fde', fmt: fmtCompact };
export const BYTES = { key: 'bytes', label: 'bytes', color: '#8a4fd6', fmt: (v) => fmtBytes(Math.round(v)) };

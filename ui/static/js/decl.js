// Words for declarations: partitions definitions and partition mappings.
import { h } from './util.js';

export function partitionsText(p) {
  if (!p) return 'unpartitioned';
  if (p.time_window) return 'time windows: ' + timeWindowText(p.time_window);
  if (p.static?.length) return `static: ${p.static.length} key${p.static.length === 1 ? '' : 's'} (${p.static.slice(0, 8).join(', ')}${p.static.length > 8 ? ', …' : ''})`;
  if (p.dynamic) return `dynamic: keys of "${p.dynamic.name}" (added over the API)`;
  if (p.multi?.length) return 'multi: ' + p.multi.map((d) => `${d.name} (${dimText(d)})`).join(' × ');
  return 'unpartitioned';
}

function dimText(d) {
  if (d.time_window) return timeWindowText(d.time_window);
  if (d.static?.length) return `static, ${d.static.length} keys`;
  if (d.dynamic) return `dynamic "${d.dynamic.name}"`;
  return '?';
}

export function timeWindowText(t) {
  const parts = [t.schedule || (t.cron ? `cron "${t.cron}"` : '?')];
  if (t.start) parts.push('from ' + t.start);
  if (t.end) parts.push('to ' + t.end);
  if (t.timezone) parts.push(t.timezone);
  if (t.fmt) parts.push(`keys "${t.fmt}"`);
  if (t.end_offset) parts.push(`end offset ${t.end_offset}`);
  if (t.hour_offset || t.minute_offset) parts.push(`at +${t.hour_offset || 0}h${String(t.minute_offset || 0).padStart(2, '0')}`);
  if (t.day_offset !== undefined && t.day_offset !== null) parts.push(`day ${t.day_offset}`);
  return parts.join(', ');
}

export function mappingText(m) {
  if (!m) return 'default';
  if (m.identity) return 'identity';
  if (m.time_window) {
    const t = m.time_window;
    const s = t.start_offset || 0, e = t.end_offset || 0;
    return 'time window' + (s || e ? ` (offsets ${s}..${e})` : '') + (t.allow_nonexistent_upstream ? ', allows nonexistent upstream' : '');
  }
  if (m.all) return 'all partitions';
  if (m.last) return 'last partition';
  if (m.latest_overlapping) return 'latest overlapping';
  if (m.specific?.length) return 'specific: ' + m.specific.join(', ');
  if (m.static && Object.keys(m.static).length) {
    const e = Object.entries(m.static);
    return 'static map: ' + e.slice(0, 4).map(([k, v]) => `${k} → ${(v || []).join('|')}`).join(', ') + (e.length > 4 ? ', …' : '');
  }
  if (m.multi && Object.keys(m.multi).length) {
    return 'per dimension: ' + Object.entries(m.multi).map(([k, v]) => `${k}: ${mappingText(v)}`).join('; ');
  }
  return 'default';
}

export function computeView(c) {
  if (!c) return h('span', { class: 'muted' }, 'none (an external or observed asset)');
  return h('div', null,
    c.command?.length ? h('code', null, c.command.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')) : null,
    c.image ? h('div', null, 'image ', h('code', null, c.image)) : null,
    c.workdir ? h('div', { class: 'muted' }, 'workdir ', c.workdir) : null,
    c.timeout ? h('div', { class: 'muted' }, 'timeout ', c.timeout) : null,
    c.shardable ? h('div', { class: 'muted' }, 'shardable (honours STRATA_SHARDS)') : null,
    c.env && Object.keys(c.env).length ? h('div', { class: 'muted' }, 'env: ', Object.keys(c.env).sort().join(', ')) : null);
}

export function policiesRows(d) {
  const rows = [];
  if (d.freshness) {
    const f = d.freshness;
    rows.push(['Freshness', [f.max_lag ? `within ${f.max_lag} of window end` : '', f.cron_deadline ? `by cron "${f.cron_deadline}"` : '', f.warn_lag ? `warn after ${f.warn_lag}` : '', f.timezone || ''].filter(Boolean).join(', ')]);
  }
  if (d.automation) rows.push(['Automation', d.automation.condition + (d.automation.cron ? ` (cron "${d.automation.cron}")` : '')]);
  if (d.retry) rows.push(['Retry', `${d.retry.max_attempts || 1} attempts` + (d.retry.backoff ? `, backoff ${d.retry.backoff}` : '')]);
  if (d.backfill_policy?.max_partitions_per_run) rows.push(['Backfill policy', `at most ${d.backfill_policy.max_partitions_per_run} partitions per run`]);
  if (d.resources) rows.push(['Resources', [d.resources.memory ? `memory ${d.resources.memory}` : '', d.resources.cpus ? `${d.resources.cpus} CPUs` : ''].filter(Boolean).join(', ')]);
  if (d.output) rows.push(['Output', h('code', null, d.output)]);
  return rows;
}

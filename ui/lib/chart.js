// Small SVG charts drawn from the time-series API: lines or stacked bars over time buckets,
// with axes, a legend and a per-bucket tooltip. Hand-written so the binary serves the UI
// with no build step and no third-party script; SVG scales with the page (viewBox), so the
// same chart reads at 1280 px and at 390 px.

import {h} from './dom.js';

const W = 640;
const H = 220;
const PAD = {l: 52, r: 12, t: 12, b: 28};
export const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4',
  '#ec4899', '#84cc16', '#64748b'];

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  if (spanMs > 2 * 86400e3) return `${pad(d.getDate())}/${pad(d.getMonth() + 1)} ${pad(d.getHours())}h`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * A chart. `times`: bucket starts (ms). `series`: [{name, values, color?}]. Options:
 * `kind` ('line' | 'bar', bars stack), `format` (y labels and tooltips), `title`.
 */
export function chart({title, times, series, kind = 'line', format = (v) => String(v)}) {
  const n = times.length;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const stacked = kind === 'bar';
  let top = 0;
  for (let i = 0; i < n; i++) {
    if (stacked) top = Math.max(top, series.reduce((s, x) => s + (x.values[i] || 0), 0));
    else for (const s of series) top = Math.max(top, s.values[i] || 0);
  }
  const max = niceMax(top);
  const x = (i) => PAD.l + (n <= 1 ? iw / 2 : (i * iw) / (n - 1));
  const slot = n > 0 ? iw / n : iw;
  const y = (v) => PAD.t + ih - (v / max) * ih;
  const svg = h('svg:svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': `${title}: ${series.map((s) => `${s.name} latest ${format(s.values[n - 1] || 0)}`).join(', ')}`});
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    svg.append(h('svg:line', {x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid'}));
    svg.append(h('svg:text', {x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis'}, format(v)));
  }
  const span = n > 1 ? times[n - 1] - times[0] : 0;
  const every = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += every) {
    const cx = stacked ? PAD.l + slot * (i + 0.5) : x(i);
    svg.append(h('svg:text', {x: cx, y: H - 8, 'text-anchor': 'middle', class: 'axis'}, timeLabel(times[i], span)));
  }
  series.forEach((s, k) => {
    s.color = s.color || PALETTE[k % PALETTE.length];
  });
  if (stacked) {
    const base = new Array(n).fill(0);
    for (const s of series) {
      for (let i = 0; i < n; i++) {
        const v = s.values[i] || 0;
        if (v <= 0) continue;
        const y0 = y(base[i]);
        const y1 = y(base[i] + v);
        base[i] += v;
        svg.append(h('svg:rect', {x: PAD.l + slot * i + slot * 0.1, y: y1, width: Math.max(1, slot * 0.8),
          height: Math.max(0.5, y0 - y1), fill: s.color},
        h('svg:title', {}, `${timeLabel(times[i], 0)} ${s.name}: ${format(v)}`)));
      }
    }
  } else {
    for (const s of series) {
      const d = s.values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v || 0).toFixed(1)}`).join(' ');
      svg.append(h('svg:path', {d, fill: 'none', stroke: s.color, 'stroke-width': 2, class: 'line'}));
      s.values.forEach((v, i) => {
        if (!v) return;
        svg.append(h('svg:circle', {cx: x(i), cy: y(v), r: 2.5, fill: s.color},
          h('svg:title', {}, `${timeLabel(times[i], 0)} ${s.name}: ${format(v)}`)));
      });
    }
  }
  const legend = h('ul', {class: 'legend'}, series.map((s) =>
    h('li', {}, h('span', {class: 'swatch', style: {background: s.color}}), s.name)));
  return h('figure', {class: 'chart-card'}, h('figcaption', {}, title), svg, legend);
}

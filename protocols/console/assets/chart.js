// Line charts as inline SVG: one polyline per series over a shared time axis.

import { h, s } from './dom.js';

/**
 * series: [{ name, points: [[t_ms, value], ...] }]; returns a <figure> with the chart and a
 * legend. Colours come from the stylesheet classes s0..s3.
 */
export function lineChart(title, series, format) {
  const W = 560; const H = 200; const L = 56; const R = 10; const T = 12; const B = 24;
  const all = series.flatMap((x) => x.points);
  const t0 = Math.min(...all.map((p) => p[0]), Date.now() - 60000);
  const t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(1, ...all.map((p) => p[1]));
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / vmax) * (H - T - B);
  const grid = [0, 0.5, 1].map((f) => [
    s('line', { class: 'grid', x1: L, x2: W - R, y1: y(vmax * f), y2: y(vmax * f) }),
    s('text', { x: L - 4, y: y(vmax * f) + 4, 'text-anchor': 'end' }, format(vmax * f)),
  ]);
  const minutes = Math.round((t1 - t0) / 60000);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title },
    s('title', {}, title),
    grid,
    s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
    s('text', { x: L, y: H - 6 }, minutes ? `${minutes} min ago` : 'now'),
    s('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, 'now'),
    series.map((ser, i) => s('polyline', {
      class: `s${i % 4}`,
      'data-series': ser.name,
      points: ser.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '),
    })));
  const legend = h('div', { class: 'legend' }, series.map((ser, i) => h('span', {},
    s('svg', { width: 14, height: 4, 'aria-hidden': 'true' }, s('rect', { class: `s${i % 4}`, width: 14, height: 4 })),
    ` ${ser.name}`)));
  return h('figure', { class: 'panel' }, h('figcaption', {}, h('strong', {}, title)), svg, legend);
}

/** Per-second rates between consecutive cumulative samples: [[t, rate], ...]. */
export function rates(samples, pick) {
  const out = [];
  for (let i = 1; i < samples.length; i += 1) {
    const dt = (samples[i].at_ms - samples[i - 1].at_ms) / 1000;
    if (dt > 0) out.push([samples[i].at_ms, Math.max(0, (pick(samples[i]) - pick(samples[i - 1])) / dt)]);
  }
  return out;
}

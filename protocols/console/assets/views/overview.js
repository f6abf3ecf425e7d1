// Overview: listeners, storage, uptime, counts and a live chart of records in and out.

import { api } from '../api.js';
import { lineChart, rates } from '../chart.js';
import { h, table } from '../dom.js';
import * as f from '../format.js';

function card(label, value, id) {
  return h('div', { class: 'card', 'data-card': id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

export async function render(main) {
  const [o, hist] = await Promise.all([api.overview(), api.history()]);
  const protocols = [...new Set(hist.samples.flatMap((x) => Object.keys(x.protocols)))].sort();
  const zero = { records_in: 0, records_out: 0, bytes_in: 0, bytes_out: 0 };
  const series = (key) => protocols.map((p) => ({
    name: p, points: rates(hist.samples, (x) => (x.protocols[p] || zero)[key]),
  }));
  const totals = Object.entries(o.totals);
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    h('div', { class: 'grid' },
      card('Uptime', f.duration(o.uptime_secs), 'uptime'),
      card('Hubs', f.num(o.hubs), 'hubs'),
      card('Consumer groups', f.num(o.groups), 'groups'),
      card('Storage', o.storage.url || 'unknown', 'storage'),
      card('Durability', `${o.storage.durability}${o.storage.durable ? '' : ' (not durable)'}`, 'durability'),
      card('Access policies', o.access_policies ? f.num(o.access_policies) : 'none (open)', 'policies')),
    h('h2', {}, 'Listeners'),
    table(['Protocol', 'Address', 'TLS'], o.listeners.map((l) => [l.protocol, l.address, l.tls ? 'yes' : 'no']), { id: 'listeners' }),
    h('h2', {}, `Traffic (last ${Math.round((hist.interval_secs * hist.capacity) / 60)} minutes, one sample every ${hist.interval_secs} s)`),
    protocols.length
      ? h('div', { class: 'charts' },
        lineChart('Records in per second', series('records_in'), f.rate),
        lineChart('Records out per second', series('records_out'), f.rate))
      : h('p', { class: 'muted' }, 'No traffic yet.'),
    h('h2', {}, 'Totals since start'),
    table(['Protocol', '#Records in', '#Bytes in', '#Records out', '#Bytes out'],
      totals.map(([p, t]) => [p, f.num(t.records_in), f.bytes(t.bytes_in), f.num(t.records_out), f.bytes(t.bytes_out)]), { id: 'totals' }),
    h('p', { class: 'muted' }, `hubgate ${o.version}, started ${f.time(o.started_at)}`));
  return { refresh: 5000 };
}

// Hubs: every hub with its settings, size and in/out rates; filter, create, delete.

import { api } from '../api.js';
import { confirmAction, h, toast } from '../dom.js';
import * as f from '../format.js';

let previous = null; // the last read, for rates
let filterText = '';

function rates(hubs) {
  const now = Date.now();
  const out = new Map();
  if (previous) {
    const dt = (now - previous.at) / 1000;
    for (const hub of hubs) {
      const before = previous.traffic.get(hub.name);
      if (before && dt > 0) {
        out.set(hub.name, [(hub.traffic.records_in - before.records_in) / dt, (hub.traffic.records_out - before.records_out) / dt]);
      }
    }
  }
  previous = { at: now, traffic: new Map(hubs.map((x) => [x.name, x.traffic])) };
  return out;
}

function rows(hubs, tbody, refresh) {
  const r = rates(hubs);
  const shown = hubs.filter((x) => x.name.toLowerCase().includes(filterText.toLowerCase()));
  tbody.replaceChildren(...shown.map((hub) => {
    const [rin, rout] = r.get(hub.name) || [null, null];
    return h('tr', { 'data-hub': hub.name },
      h('td', {}, h('a', { href: `#/hubs/${encodeURIComponent(hub.name)}` }, hub.name)),
      h('td', { class: 'num' }, hub.partition_count),
      h('td', {}, f.retention(hub.retention_ms)),
      h('td', {}, hub.cleanup_policy),
      h('td', { class: 'num', 'data-col': 'records' }, f.num(hub.records)),
      h('td', { class: 'num' }, f.bytes(hub.stored_bytes)),
      h('td', { class: 'num' }, f.rate(rin)),
      h('td', { class: 'num' }, f.rate(rout)),
      h('td', {}, h('button', {
        class: 'danger', 'aria-label': `Delete hub ${hub.name}`,
        onclick: async () => {
          if (!await confirmAction('Delete hub', `Delete hub “${hub.name}” and all its records? This cannot be undone.`, 'Delete')) return;
          try { await api.deleteHub(hub.name); toast(`Deleted hub ${hub.name}`); refresh(); } catch (e) { toast(e.message, true); }
        },
      }, 'Delete')));
  }));
  if (!shown.length) tbody.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, hubs.length ? 'No hub matches the filter.' : 'No hubs yet.')));
}

export async function render(main) {
  const tbody = h('tbody', {});
  let hubs = (await api.hubs()).hubs;
  const refresh = async () => { hubs = (await api.hubs()).hubs; rows(hubs, tbody, refresh); };
  const filter = h('input', {
    type: 'search', id: 'hub-filter', placeholder: 'Filter by name', 'aria-label': 'Filter hubs by name', value: filterText,
    oninput: (e) => { filterText = e.target.value; rows(hubs, tbody, refresh); },
  });
  const form = h('form', { class: 'panel', id: 'create-hub', 'aria-label': 'Create a hub' },
    h('h2', {}, 'Create a hub'),
    h('div', { class: 'row' },
      h('label', {}, 'Name', h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9._\\-]+', maxlength: 249 })),
      h('label', {}, 'Partitions', h('input', { name: 'partitions', type: 'number', min: 1, max: 1024, value: 4 })),
      h('label', {}, 'Retention (hours, empty: forever)', h('input', { name: 'retention_hours', type: 'number', min: 0, step: 'any', value: 168 })),
      h('label', {}, 'Cleanup policy', h('select', { name: 'cleanup_policy' },
        ['delete', 'compact', 'compact_delete'].map((p) => h('option', { value: p }, p)))),
      h('button', { type: 'submit' }, 'Create')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const name = d.get('name').trim();
    const hours = d.get('retention_hours');
    const settings = { partitions: Number(d.get('partitions')), cleanup_policy: d.get('cleanup_policy'), retention_ms: hours === '' ? -1 : Math.round(Number(hours) * 3600000) };
    try {
      const existing = hubs.some((x) => x.name.toLowerCase() === name.toLowerCase());
      if (existing) throw new Error(`hub ${name} already exists; change it on its page`);
      await api.putHub(name, settings);
      toast(`Created hub ${name}`);
      form.reset();
      await refresh();
    } catch (err) { toast(err.message, true); }
  });
  main.replaceChildren(
    h('h1', {}, 'Hubs'),
    h('div', { class: 'row' }, filter),
    h('table', { id: 'hubs' },
      h('thead', {}, h('tr', {}, ['Name', '#Partitions', 'Retention', 'Cleanup', '#Records', '#Stored', '#In', '#Out', ''].map((x) => h('th', { scope: 'col', class: x.startsWith('#') ? 'num' : null }, x.replace('#', ''))))),
      tbody),
    form);
  rows(hubs, tbody, refresh);
  return { refresh: 5000, update: refresh };
}

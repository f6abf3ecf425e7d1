// One hub: settings (change, delete), partitions, consumer groups with lag, events, send.

import { api } from '../api.js';
import { confirmAction, h, table, toast } from '../dom.js';
import * as f from '../format.js';
import { eventsPanel } from './events.js';

function settingsForm(hub, reload) {
  const field = (label, name, value, attrs = {}) => h('label', {}, label, h('input', { name, value: value ?? '', ...attrs }));
  const form = h('form', { class: 'panel', id: 'hub-settings', 'aria-label': 'Hub settings' },
    h('h2', {}, 'Settings'),
    h('div', { class: 'row' },
      field('Partitions (can only grow)', 'partitions', hub.partition_count, { type: 'number', min: hub.partition_count }),
      field('Retention ms (-1: forever)', 'retention_ms', hub.retention_ms ?? -1, { type: 'number', min: -1 }),
      field('Retention bytes per partition (-1: unbounded)', 'retention_bytes', hub.retention_bytes ?? -1, { type: 'number', min: -1 }),
      h('label', {}, 'Cleanup policy', h('select', { name: 'cleanup_policy' },
        ['delete', 'compact', 'compact_delete'].map((p) => h('option', { value: p, selected: p === hub.cleanup_policy }, p)))),
      field('Max message bytes', 'max_message_bytes', hub.max_message_bytes, { type: 'number', min: 1 }),
      h('button', { type: 'submit' }, 'Save'),
      h('button', {
        type: 'button', class: 'danger', id: 'delete-hub',
        onclick: async () => {
          if (!await confirmAction('Delete hub', `Delete hub “${hub.name}” and all its records? This cannot be undone.`, 'Delete')) return;
          try { await api.deleteHub(hub.name); toast(`Deleted hub ${hub.name}`); location.hash = '#/hubs'; } catch (e) { toast(e.message, true); }
        },
      }, 'Delete hub')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const n = (k) => Number(d.get(k));
    try {
      await api.putHub(hub.name, { partitions: n('partitions'), retention_ms: n('retention_ms'), retention_bytes: n('retention_bytes'), cleanup_policy: d.get('cleanup_policy'), max_message_bytes: n('max_message_bytes') });
      toast('Saved');
      reload();
    } catch (err) { toast(err.message, true); }
  });
  return form;
}

function sendForm(hub, afterSend) {
  const props = h('tbody', {});
  const addProp = () => props.append(h('tr', {},
    h('td', {}, h('input', { name: 'prop-name', 'aria-label': 'Property name' })),
    h('td', {}, h('input', { name: 'prop-value', 'aria-label': 'Property value' }))));
  addProp();
  const form = h('form', { class: 'panel', id: 'send-form', 'aria-label': 'Send an event' },
    h('h2', {}, 'Send an event'),
    h('label', {}, 'Body', h('textarea', { name: 'body', required: true })),
    h('div', { class: 'row' },
      h('label', {}, 'Partition key', h('input', { name: 'key' })),
      h('label', {}, 'or partition', h('select', { name: 'partition' }, h('option', { value: '' }, 'by key / round robin'),
        Array.from({ length: hub.partition_count }, (_, i) => h('option', { value: i }, i))))),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Property'), h('th', {}, 'Value'))), props),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', onclick: addProp }, 'Add property'),
      h('button', { type: 'submit' }, 'Send')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const names = d.getAll('prop-name');
    const values = d.getAll('prop-value');
    const userProperties = {};
    names.forEach((k, i) => { if (k.trim()) userProperties[k.trim()] = values[i]; });
    const event = { Body: d.get('body'), UserProperties: userProperties };
    const key = d.get('key');
    const partition = d.get('partition');
    if (key && partition !== '') { toast('give a partition key or a partition, not both', true); return; }
    if (key) event.BrokerProperties = { PartitionKey: key };
    try {
      await api.send(hub.name, partition, event);
      toast('Event sent (stored durably)');
      form.querySelector('textarea').value = '';
      afterSend();
    } catch (err) { toast(err.message, true); }
  });
  return form;
}

export async function render(main, name) {
  const hub = await api.hub(name);
  const reload = () => render(main, name);
  const lso = hub.partitions.some((p) => p.last_stable_offset !== p.high_watermark);
  const cols = ['#Partition', '#Log start', '#High watermark', ...(lso ? ['#Last stable'] : []), '#Records', '#Stored', 'Last enqueued'];
  const events = eventsPanel(hub);
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/hubs' }, '← Hubs')),
    h('h1', {}, `Hub ${hub.name}`),
    h('p', { class: 'muted' }, `${hub.partition_count} partitions · retention ${f.retention(hub.retention_ms)} · ${hub.cleanup_policy} · ${hub.timestamp_policy} · created ${f.time(hub.created_at)}`),
    h('h2', {}, 'Partitions'),
    table(cols, hub.partitions.map((p) => [p.partition, f.num(p.log_start), f.num(p.high_watermark), ...(lso ? [f.num(p.last_stable_offset)] : []),
      f.num(p.records), f.bytes(p.stored_bytes), f.time(p.last_enqueued_time)]), { id: 'partitions' }),
    h('h2', {}, 'Consumer groups'),
    hub.groups.length
      ? table(['Group', 'Kind', '#Total lag', 'Per partition (committed / lag)'], hub.groups.map((g) => [
        h('a', { href: `#/groups/${encodeURIComponent(g.group)}` }, g.group), g.kind, h('span', { 'data-lag': g.group }, f.num(g.lag)),
        g.partitions.map((p) => h('div', { 'data-partition-lag': `${g.group}/${p.partition}` }, `p${p.partition}: ${f.num(p.committed)} / ${f.num(p.lag)}`))]), { id: 'hub-groups' })
      : h('p', { class: 'muted' }, 'No consumer group has committed offsets in this hub.'),
    events.element,
    sendForm(hub, () => events.load()),
    settingsForm(hub, reload));
  events.load();
  return {};
}

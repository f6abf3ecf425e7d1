// Consumer groups: committed offsets and lag; delete a group's offsets; reset them.

import { api } from '../api.js';
import { confirmAction, h, table, toast } from '../dom.js';
import * as f from '../format.js';

export async function renderList(main) {
  const r = await api.groups();
  main.replaceChildren(
    h('h1', {}, 'Consumer groups'),
    h('p', { class: 'muted' }, 'Kafka consumer groups: live ones from the coordinator, and every group with committed offsets.'),
    r.groups.length
      ? table(['Group', 'Kind', 'State', 'Hubs', '#Partitions', '#Lag'], r.groups.map((g) => [
        h('a', { href: `#/groups/${encodeURIComponent(g.group)}` }, g.group), g.kind, g.state || 'offsets only', g.hubs.join(', '), g.partitions, f.num(g.lag)]), { id: 'groups' })
      : h('p', { class: 'muted' }, 'No consumer group yet.'));
  return { refresh: 5000 };
}

export async function renderGroup(main, name) {
  const g = await api.group(name);
  const hubs = [...new Set(g.offsets.map((o) => o.hub))];
  const reset = h('form', { class: 'panel', id: 'reset-form', 'aria-label': 'Reset offsets' },
    h('h2', {}, 'Reset offsets'),
    h('p', { class: 'muted' }, 'Refused while the group has members: stop its consumers first.'),
    h('div', { class: 'row' },
      h('label', {}, 'Hub', h('select', { name: 'hub' }, hubs.map((x) => h('option', { value: x }, x)))),
      h('label', {}, 'To', h('select', { name: 'to' }, ['earliest', 'latest', 'time'].map((x) => h('option', { value: x }, x)))),
      h('label', {}, 'Time (for “time”)', h('input', { name: 'time', type: 'datetime-local' })),
      h('button', { type: 'submit' }, 'Reset')));
  reset.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(reset);
    const request = { hub: d.get('hub'), to: d.get('to') };
    if (request.to === 'time') {
      const t = Date.parse(d.get('time'));
      if (Number.isNaN(t)) { toast('choose a time', true); return; }
      request.time_ms = t;
    }
    if (!await confirmAction('Reset offsets', `Move group “${name}” in hub “${request.hub}” to ${request.to}?`, 'Reset')) return;
    try { await api.resetGroup(name, request); toast('Offsets reset'); renderGroup(main, name); } catch (err) { toast(err.message, true); }
  });
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/groups' }, '← Groups')),
    h('h1', {}, `Group ${g.group}`),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Total lag'), h('div', { class: 'value', id: 'group-lag' }, f.num(g.lag))),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'State'), h('div', { class: 'value', id: 'group-state' }, g.state || 'no live members (offsets only)')),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Protocol'), h('div', { class: 'value' }, g.protocol ? `${g.protocol_type} / ${g.protocol}` : '—')),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Members'), h('div', { class: 'value' }, g.members ? g.members.length : 0))),
    h('h2', {}, 'Members'),
    g.members && g.members.length
      ? table(['Member', 'Client', 'Host', 'Assignment'], g.members.map((m) => [
        m.instance_id ? `${m.member_id} (static: ${m.instance_id})` : m.member_id, m.client_id, m.client_host,
        m.assignment.map((a) => `${a.hub}: ${a.partitions.join(', ')}`).join('; ') || '—']), { id: 'group-members' })
      : h('p', { class: 'muted' }, 'No live members.'),
    h('h2', {}, 'Committed offsets'),
    table(['Hub', '#Partition', '#Committed', '#High watermark', '#Lag', 'Committed at', 'Metadata'],
      g.offsets.map((o) => [h('a', { href: `#/hubs/${encodeURIComponent(o.hub)}` }, o.hub), o.partition, f.num(o.committed), f.num(o.high_watermark), f.num(o.lag), f.time(o.committed_at), o.metadata]), { id: 'group-offsets' }),
    reset,
    h('div', { class: 'panel' }, h('h2', {}, 'Delete'),
      h('p', { class: 'muted' }, 'Forgets every committed offset of the group. Refused while the group has members.'),
      h('button', {
        class: 'danger', id: 'delete-group',
        onclick: async () => {
          if (!await confirmAction('Delete group', `Delete the committed offsets of group “${name}”?`, 'Delete')) return;
          try { await api.deleteGroup(name); toast(`Deleted group ${name}`); location.hash = '#/groups'; } catch (err) { toast(err.message, true); }
        },
      }, 'Delete group')));
  return {};
}

// The events browser of a hub page: newest events of a partition, or from an offset or a
// time; key, timestamp, offset, headers with their AMQP types, and bodies as text, pretty
// JSON or hex.

import { api } from '../api.js';
import { h, table, toast } from '../dom.js';
import * as f from '../format.js';

function decode(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function hex(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = [...bytes.slice(i, i + 16)];
    const ascii = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(6, '0')}  ${chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(48)}  ${ascii}`);
  }
  return lines.join('\n');
}

/** Text worth showing as text: no control characters besides tab and line breaks. */
function printable(value) {
  return value.text !== undefined && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(value.text);
}

function shown(value, mode) {
  if (!value) return '(null)';
  if (mode === 'hex') return hex(decode(value.base64));
  if (!printable(value)) return `(binary, ${value.size} bytes; choose hex)`;
  if (mode === 'json') {
    try { return JSON.stringify(JSON.parse(value.text), null, 2); } catch (_) { return `(not JSON)\n${value.text}`; }
  }
  return value.text;
}

function valueText(value) {
  if (!value) return '(null)';
  return printable(value) ? value.text : `0x${[...decode(value.base64)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function eventView(ev) {
  const pre = h('pre', { class: 'body', 'data-body': ev.offset });
  let mode = ev.value && printable(ev.value) && /^\s*[[{]/.test(ev.value.text) ? 'json' : ev.value && !printable(ev.value) ? 'hex' : 'text';
  const buttons = ['text', 'json', 'hex'].map((m) => h('button', {
    type: 'button', class: 'secondary', 'data-mode': m, 'aria-pressed': String(m === mode),
    onclick: () => { mode = m; update(); },
  }, m === 'json' ? 'JSON' : m));
  function update() {
    pre.textContent = shown(ev.value, mode);
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
  }
  update();
  const props = ev.amqp.properties ? Object.entries(ev.amqp.properties) : [];
  const headers = ev.headers.filter((x) => !x.name.startsWith('x-amqp-'));
  return h('article', { class: 'event', 'data-offset': ev.offset },
    h('header', {},
      h('span', {}, 'offset ', h('strong', {}, ev.offset)),
      h('span', {}, f.time(ev.timestamp)),
      h('span', {}, 'key ', h('code', { 'data-key': '' }, ev.key ? valueText(ev.key) : '(none)')),
      ev.amqp.body ? h('span', {}, 'AMQP body ', h('span', { class: 'tag' }, ev.amqp.body)) : null,
      ev.value && ev.value.truncated ? h('span', { class: 'muted' }, `(first 64 KiB of ${f.bytes(ev.value.size)})`) : null,
      ev.headers_truncated ? h('span', { class: 'muted' }, '(first 64 headers)') : null),
    props.length ? table(['AMQP property', 'Type', 'Value'], props.map(([k, v]) => [k, h('span', { class: 'tag type' }, v.type), String(v.value)]), { class: 'props' }) : null,
    headers.length ? table(['Header / application property', 'Type', 'Value'], headers.map((x) => [
      x.name,
      x.amqp ? h('span', { class: 'tag type' }, x.amqp.type) : h('span', { class: 'tag' }, x.value && printable(x.value) ? 'text' : 'bytes'),
      x.amqp ? String(x.amqp.value) : valueText(x.value)]), { class: 'headers' }) : null,
    h('div', { class: 'row' }, h('span', { class: 'muted' }, 'Body:'), h('div', { class: 'tabs', role: 'group', 'aria-label': 'Body view' }, buttons)),
    pre);
}

export function eventsPanel(hub) {
  const list = h('div', { id: 'events', 'aria-live': 'polite' });
  const partition = h('select', { name: 'partition', 'aria-label': 'Partition' },
    Array.from({ length: hub.partition_count }, (_, i) => h('option', { value: i }, `partition ${i}`)));
  const from = h('select', { name: 'from', 'aria-label': 'Start' },
    h('option', { value: 'newest' }, 'newest'), h('option', { value: 'offset' }, 'from offset'), h('option', { value: 'time' }, 'from time'));
  const at = h('input', { name: 'at', 'aria-label': 'Offset or time', placeholder: 'offset, or 2026-01-01T12:00', size: 22 });
  const limit = h('input', { name: 'limit', type: 'number', min: 1, max: 100, value: 20, 'aria-label': 'How many' });
  const form = h('form', { class: 'row', id: 'events-form' },
    h('label', {}, 'Partition', partition), h('label', {}, 'Start', from), h('label', {}, 'Offset / time', at),
    h('label', {}, 'Count', limit), h('button', { type: 'submit' }, 'Load events'));
  async function load() {
    const q = { limit: limit.value };
    if (from.value === 'offset') q.offset = at.value.trim();
    if (from.value === 'time') {
      const t = Date.parse(at.value.trim());
      if (Number.isNaN(t)) { toast('give a date and time, e.g. 2026-01-01T12:00', true); return; }
      q.time_ms = t;
    }
    try {
      const r = await api.events(hub.name, partition.value, q);
      list.replaceChildren(
        h('p', { class: 'muted' }, `Partition ${r.partition}: offsets ${r.log_start}–${r.high_watermark - 1}; ${r.events.length} event(s) from offset ${r.from}.`),
        ...r.events.slice().reverse().map(eventView));
    } catch (e) { toast(e.message, true); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  return { element: h('section', { 'aria-label': 'Events' }, h('h2', {}, 'Events'), form, list), load, partition };
}

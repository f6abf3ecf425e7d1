// The one place that calls the gateway's JSON admin API (docs/HTTP.md). Same origin only,
// no cookies (`credentials: 'omit'`), the SAS token in the Authorization header.

import { current } from './auth.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code || ''}: ${message}`.replace(' : ', ': '));
    this.status = status;
    this.code = code;
  }
}

/** Calls `method path`; JSON bodies are encoded, answers decoded. Throws ApiError. */
export async function call(method, path, body, headers = {}) {
  const signedIn = current();
  const h = { ...headers };
  if (signedIn) h.Authorization = signedIn.token;
  let payload = body;
  if (body !== undefined && typeof body !== 'string') {
    h['Content-Type'] = h['Content-Type'] || 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers: h, body: payload, credentials: 'omit', cache: 'no-store' });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent('hubgate:unauthorized'));
    throw new ApiError(response.status, json && json.code, (json && json.message) || response.statusText);
  }
  return json;
}

const seg = encodeURIComponent;

export const api = {
  access: () => call('GET', '/admin/access'),
  overview: () => call('GET', '/admin/overview'),
  history: () => call('GET', '/admin/history'),
  hubs: () => call('GET', '/admin/hubs'),
  hub: (name) => call('GET', `/admin/hubs/${seg(name)}`),
  putHub: (name, settings) => call('PUT', `/admin/hubs/${seg(name)}`, settings),
  deleteHub: (name) => call('DELETE', `/admin/hubs/${seg(name)}`),
  events: (name, partition, query) => call('GET', `/admin/hubs/${seg(name)}/partitions/${partition}/events?${new URLSearchParams(query)}`),
  groups: () => call('GET', '/admin/groups'),
  group: (name) => call('GET', `/admin/groups/${seg(name)}`),
  deleteGroup: (name) => call('DELETE', `/admin/groups/${seg(name)}`),
  resetGroup: (name, request) => call('POST', `/admin/groups/${seg(name)}/offsets`, request),
  /** One event through the REST batch send, so names and values of properties are free. */
  send: (hub, partition, event) => call('POST',
    partition === '' ? `/${seg(hub)}/messages` : `/${seg(hub)}/partitions/${partition}/messages`,
    JSON.stringify([event]), { 'Content-Type': 'application/vnd.microsoft.servicebus.json' }),
};

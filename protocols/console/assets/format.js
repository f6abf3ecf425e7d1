// Number, size, time and duration formatting.

export function num(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function rate(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return `${n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')}/s`;
}

export function duration(secs) {
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = Math.floor(secs % 60);
  return [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}m`, `${s}s`].filter(Boolean).join(' ');
}

export function retention(ms) {
  if (ms === null || ms === undefined) return 'forever';
  const hours = ms / 3600000;
  return hours >= 24 && hours % 24 === 0 ? `${hours / 24} d` : hours >= 1 ? `${+hours.toFixed(2)} h` : `${ms} ms`;
}

export function time(iso) {
  return iso ? iso.replace('T', ' ').replace('Z', ' UTC') : '—';
}

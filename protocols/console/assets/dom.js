// Small DOM functions: elements are built with createElement (never innerHTML), so text from
// the gateway is always text, and event handlers are attached in code (no inline script).

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: h('td', {class: 'num'}, '42'). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** A table from column headers and rows of cells; a header starting with '#' is numeric. */
export function table(headers, rows, attrs) {
  const num = headers.map((x) => x.startsWith('#'));
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((x, i) => h('th', { scope: 'col', class: num[i] ? 'num' : null }, num[i] ? x.slice(1) : x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { class: num[i] ? 'num' : null }, c))))));
}

/** Shows a short message at the bottom right. */
export function toast(message, isError) {
  const box = document.getElementById('toast');
  const item = h('div', { class: isError ? 'error' : null }, message);
  box.append(item);
  setTimeout(() => item.remove(), isError ? 8000 : 4000);
}

/** Asks to confirm in a modal dialog; resolves true when confirmed. */
export function confirmAction(title, text, action) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = action;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

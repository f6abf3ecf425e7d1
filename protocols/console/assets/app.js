// The console shell: hash routes (#/, #/hubs, #/hubs/NAME, #/groups, #/groups/NAME), the
// sign-in gate, periodic refresh of the page shown, and error display.

import { api } from './api.js';
import { current, signOut } from './auth.js';
import { h, toast } from './dom.js';
import * as groups from './views/groups.js';
import * as hub from './views/hub.js';
import * as hubs from './views/hubs.js';
import * as overview from './views/overview.js';
import * as signin from './views/signin.js';

const main = document.getElementById('main');
let timer = null;
let authRequired = false;

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'hubs' && parts[1]) return ['hubs', (m) => hub.render(m, parts[1])];
  if (parts[0] === 'hubs') return ['hubs', hubs.render];
  if (parts[0] === 'groups' && parts[1]) return ['groups', (m) => groups.renderGroup(m, parts[1])];
  if (parts[0] === 'groups') return ['groups', groups.renderList];
  return ['overview', overview.render];
}

function showSignedIn() {
  const box = document.getElementById('signed');
  const s = current();
  if (!authRequired) { box.replaceChildren(h('span', { class: 'muted' }, 'open gateway (no access policies)')); return; }
  box.replaceChildren(
    s ? h('span', { id: 'signed-in' }, `signed in: ${s.policy}`) : h('span', {}, 'signed out'),
    s ? h('button', { class: 'secondary', id: 'signout', onclick: () => { signOut(); show(); } }, 'Sign out') : null);
}

async function show() {
  clearInterval(timer);
  showSignedIn();
  if (authRequired && !current()) {
    signin.render(main, show);
    return;
  }
  const [nav, view] = route();
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  try {
    const result = (await view(main)) || {};
    if (result.refresh) {
      timer = setInterval(async () => {
        if (document.querySelector('dialog[open]') || main.contains(document.activeElement) && document.activeElement.matches('input, select, textarea')) return;
        try { await (result.update ? result.update() : view(main)); } catch (e) { toast(e.message, true); }
      }, result.refresh);
    }
  } catch (e) {
    if (e.status === 401) return; // the unauthorized handler shows the sign-in
    main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { role: 'alert' }, e.message));
  }
}

window.addEventListener('hubgate:unauthorized', () => {
  if (document.getElementById('signin')) return; // the sign-in form shows its own error
  authRequired = true;
  signOut();
  clearInterval(timer);
  showSignedIn();
  signin.render(main, show, 'Your token was refused or has expired. Sign in again.');
});
window.addEventListener('hashchange', () => { show(); main.focus(); });

api.access().then((a) => { authRequired = a.required; show(); }).catch((e) => {
  // A gateway that guards even this route needs a token all the more.
  if (e.status === 401 || e.status === 403) { authRequired = true; show(); return; }
  main.replaceChildren(h('h1', {}, 'The gateway does not answer'), h('p', { role: 'alert' }, e.message));
});

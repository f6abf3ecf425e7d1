// Sign-in with a policy name and key (signed here into a short-lived token), or a SAS token.

import { describeToken, save, signToken, TOKEN_SECS } from '../auth.js';
import { call } from '../api.js';
import { h } from '../dom.js';

export function render(main, done, reason) {
  const error = h('p', { class: 'error-text', role: 'alert', id: 'signin-error' });
  const name = h('input', { name: 'policy', id: 'policy', autocomplete: 'username', value: 'RootManageSharedAccessKey' });
  const key = h('input', { name: 'key', id: 'key', type: 'password', autocomplete: 'current-password' });
  const token = h('textarea', { name: 'token', id: 'token', placeholder: 'SharedAccessSignature sr=…&sig=…&se=…&skn=…' });
  const form = h('form', { class: 'panel signin', id: 'signin' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, reason || 'This gateway has access policies. Sign in with a policy name and key, or paste a SAS token. The key never leaves this page: it signs a token valid for one hour, kept in this tab only.'),
    h('label', { for: 'policy' }, 'Policy name', name),
    h('label', { for: 'key' }, 'Key', key),
    h('p', { class: 'muted' }, 'or'),
    h('label', { for: 'token' }, 'SAS token', token),
    error,
    h('div', { class: 'row end' }, h('button', { type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    try {
      let credential;
      if (token.value.trim()) {
        const t = token.value.trim();
        credential = { token: t, ...describeToken(t) };
      } else {
        credential = await signToken(name.value.trim(), key.value, `${location.origin}/`, TOKEN_SECS);
      }
      key.value = '';
      token.value = '';
      save(credential);
      await call('GET', '/admin/hubs'); // proves the token before going on
      done();
    } catch (err) {
      error.textContent = `Sign-in failed: ${err.message}`;
    }
  });
  main.replaceChildren(form);
  name.focus();
}

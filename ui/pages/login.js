// Log in with an admin user: the server answers with an HttpOnly session cookie, which every
// later call carries; the page never sees or stores the token.

import {h, fill, field} from '../lib/dom.js';
import {api} from '../lib/api.js';

export function render(root, ctx) {
  const user = h('input', {name: 'username', autocomplete: 'username', required: true});
  const pass = h('input', {name: 'password', type: 'password', autocomplete: 'current-password', required: true});
  const error = h('p', {class: 'form-error', role: 'alert'});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Log in');
  const form = h('form', {class: 'panel login', 'aria-labelledby': 'page-title'},
    h('h1', {id: 'page-title'}, 'Log in to Heimdall'),
    ctx.reason ? h('p', {class: 'muted'}, ctx.reason) : null,
    field('Username', user), field('Password', pass), error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await api('/api/session/login', {method: 'POST', body: {username: user.value, password: pass.value}, quiet401: true});
      ctx.done();
    } catch (err) {
      error.textContent = err.status === 401
        ? 'Wrong username or password.'
        : `Logging in failed: ${err.message}`;
      pass.select();
    } finally {
      submit.disabled = false;
    }
  });
  fill(root, form);
  user.focus();
}

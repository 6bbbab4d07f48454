// The console's shell: hash routes to pages, the navigation, the colour theme, the login gate
// and one notice area. Pages are modules with `render(root, ctx)` returning an optional
// cleanup (timers, live streams) that runs when the user leaves the page.

import {h, fill} from './lib/dom.js';
import {api, setUnauthorizedHandler} from './lib/api.js';

const PAGES = [
  {path: 'dashboard', label: 'Dashboard', load: () => import('./pages/dashboard.js')},
  {path: 'logs', label: 'Logs', load: () => import('./pages/logs.js')},
  {path: 'providers', label: 'Providers', load: () => import('./pages/providers.js')},
  {path: 'governance', label: 'Virtual keys', load: () => import('./pages/governance.js')},
  {path: 'cache', label: 'Cache', load: () => import('./pages/cache.js')},
  {path: 'mcp', label: 'MCP', load: () => import('./pages/mcp.js')},
  {path: 'config', label: 'Config', load: () => import('./pages/config.js')},
];

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const notices = document.getElementById('notices');
let cleanup = null;
let authEnabled = false;
let showingLogin = false;

/** Show a message: `error` stays until dismissed (and is announced at once), others fade. */
export function notify(message, kind = 'info') {
  const close = h('button', {class: 'icon-button', 'aria-label': 'Dismiss'}, '×');
  const el = h('div', {class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status'},
    h('span', {}, message), close);
  close.addEventListener('click', () => el.remove());
  notices.append(el);
  if (kind !== 'error') setTimeout(() => el.remove(), 5000);
}

const ctx = {notify, navigate: (p) => { location.hash = `#/${p}`; }};

function applyTheme(theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  document.getElementById('theme-toggle').textContent = `Theme: ${theme === 'system' ? 'auto' : theme}`;
  document.getElementById('theme-toggle').setAttribute('aria-label', `Colour theme: ${theme}. Switch`);
}

function setupChrome() {
  fill(nav, h('ul', {}, PAGES.map((p) =>
    h('li', {}, h('a', {href: `#/${p.path}`, 'data-page': p.path}, p.label)))));
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const open = nav.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  nav.addEventListener('click', (e) => {
    if (e.target.closest('a')) {
      nav.classList.remove('open');
      toggle.setAttribute('aria-expanded', 'false');
    }
  });
  const order = ['system', 'light', 'dark'];
  let theme = localStorage.getItem('heimdall-theme') || 'system';
  applyTheme(theme);
  document.getElementById('theme-toggle').addEventListener('click', () => {
    theme = order[(order.indexOf(theme) + 1) % order.length];
    localStorage.setItem('heimdall-theme', theme);
    applyTheme(theme);
  });
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await api('/api/session/logout', {method: 'POST', body: {}});
    } catch (e) {
      notify(`Logging out failed: ${e.message}`, 'error');
      return;
    }
    showLogin();
  });
}

async function showLogin(reason) {
  if (cleanup) cleanup();
  cleanup = null;
  showingLogin = true;
  document.getElementById('logout').hidden = true;
  const mod = await import('./pages/login.js');
  mod.render(view, {...ctx, reason, done: () => {
    showingLogin = false;
    document.getElementById('logout').hidden = !authEnabled;
    route();
  }});
}

async function route() {
  if (showingLogin) return;
  const name = (location.hash.replace(/^#\/?/, '').split('/')[0]) || 'dashboard';
  const page = PAGES.find((p) => p.path === name) || PAGES[0];
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (cleanup) cleanup();
  cleanup = null;
  document.title = `${page.label} · Heimdall`;
  fill(view, h('p', {class: 'muted'}, 'Loading…'));
  try {
    const mod = await page.load();
    const root = h('section', {class: 'page', 'aria-labelledby': 'page-title'});
    fill(view, root);
    cleanup = (await mod.render(root, ctx)) || null;
    view.focus({preventScroll: true});
  } catch (e) {
    if (e.status === 401) return;
    fill(view, h('div', {class: 'panel error', role: 'alert'},
      h('h1', {id: 'page-title'}, page.label), h('p', {}, `This page could not load: ${e.message}`)));
  }
}

async function start() {
  setupChrome();
  setUnauthorizedHandler(() => showLogin('Your session has ended; log in again.'));
  try {
    const s = await api('/api/session/is-auth-enabled');
    authEnabled = Boolean(s && s.is_auth_enabled);
    if (authEnabled && !s.has_valid_token) {
      showLogin();
      return;
    }
  } catch (e) {
    notify(`Could not ask whether login is required: ${e.message}`, 'error');
  }
  document.getElementById('logout').hidden = !authEnabled;
  route();
}

window.addEventListener('hashchange', route);
start();

// The app shell: a router over the History API. Each page module exports
// render(ctx) and may return a cleanup function; ctx.signal aborts when the
// user leaves the page, ending its requests and polling.
import { h, replace } from './util.js';
import { onUnauthorized, setToken, token } from './api.js';
import { navigate } from './nav.js';
import * as catalog from './pages/catalog.js';
import * as assetPage from './pages/asset.js';
import * as lineage from './pages/lineage.js';
import * as runs from './pages/runs.js';
import * as backfills from './pages/backfills.js';

const routes = [
  { re: /^\/(?:assets\/?)?$/, page: catalog.render, nav: 'assets' },
  { re: /^\/assets\/(.+?)\/?$/, page: assetPage.render, nav: 'assets', params: ['key'] },
  { re: /^\/lineage\/?$/, page: lineage.render, nav: 'lineage' },
  { re: /^\/runs\/?$/, page: runs.renderList, nav: 'runs' },
  { re: /^\/runs\/([^/]+)\/?$/, page: runs.renderRun, nav: 'runs', params: ['id'] },
  { re: /^\/backfills\/?$/, page: backfills.renderList, nav: 'backfills' },
  { re: /^\/backfills\/new\/?$/, page: backfills.renderNew, nav: 'backfills' },
  { re: /^\/backfills\/([^/]+)\/?$/, page: backfills.renderBackfill, nav: 'backfills', params: ['id'] },
];

const main = document.getElementById('main');
let current = null; // { controller, cleanup }

function route() {
  if (current) {
    current.controller.abort();
    try { current.cleanup?.(); } catch (e) { console.error(e); }
    current = null;
  }
  let path = location.pathname;
  try { path = decodeURI(path); } catch { /* malformed: route it as is */ }
  const query = new URLSearchParams(location.search);
  let match = null;
  let r;
  for (r of routes) {
    match = r.re.exec(path);
    if (match) break;
  }
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', !!match && a.dataset.nav === r.nav);
  }
  const controller = new AbortController();
  main.dataset.state = 'loading';
  main.className = '';
  replace(main);
  if (!match) {
    document.title = 'Not found · Strata';
    main.dataset.state = 'error';
    replace(main, h('h1', null, 'Page not found'), h('p', null, 'Nothing lives at ', h('code', null, path), '. ', h('a', { href: '/' }, 'Go to the catalog'), '.'));
    return;
  }
  const params = {};
  (r.params || []).forEach((name, i) => { params[name] = match[i + 1]; });
  const ctx = {
    main, params, query, signal: controller.signal,
    ready: (state = 'ready') => {
      if (controller.signal.aborted) return;
      main.dataset.state = state;
      // For the performance tests: ms from navigation start to ready.
      window.strataReadyAt = performance.now();
    },
    title: (t) => { document.title = t ? `${t} · ${window.STRATA_CONFIG?.title || 'Strata'}` : (window.STRATA_CONFIG?.title || 'Strata'); },
  };
  current = { controller, cleanup: null };
  ctx.title('');
  Promise.resolve()
    .then(() => r.page(ctx))
    .then((cleanup) => { if (current?.controller === controller) current.cleanup = cleanup; })
    .catch((err) => {
      if (controller.signal.aborted || err?.name === 'AbortError') return;
      console.error(err);
      main.dataset.state = 'error';
      main.appendChild(h('div', { class: 'error', role: 'alert' }, h('strong', null, 'Error: '), err.message || String(err)));
    });
}

// Links: same-origin clicks become History API navigations.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/v1/') || url.pathname.startsWith('/static/')) return;
  e.preventDefault();
  if (url.href === location.href) return;
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => route());
window.addEventListener('strata:route', () => route());

// Token: the API may require a bearer token; it is kept in localStorage.
const banner = document.getElementById('banner');
function showTokenForm(reason) {
  const input = h('input', { type: 'password', placeholder: 'API token', autocomplete: 'off', size: 40 });
  replace(banner,
    h('form', {
      class: 'token-form',
      onsubmit: (e) => { e.preventDefault(); setToken(input.value.trim()); banner.hidden = true; route(); },
    },
    h('span', null, reason || 'The API needs a token.'), ' ', input, ' ',
    h('button', { type: 'submit' }, 'Save'), ' ',
    token() ? h('button', { type: 'button', class: 'link', onclick: () => { setToken(''); banner.hidden = true; route(); } }, 'Forget token') : null,
    h('button', { type: 'button', class: 'link', onclick: () => { banner.hidden = true; } }, 'Close')));
  banner.hidden = false;
  input.focus();
}
onUnauthorized((status) => showTokenForm(status === 401
  ? 'The API refused the request: it needs a valid token (strata server --tokens-file).'
  : 'Your token may not do this (it needs a role with more rights).'));
document.getElementById('token-button').addEventListener('click', () => showTokenForm(token() ? 'Replace the API token:' : 'Set an API token:'));

route();

// The console's entry point: sign-in, the frame (header, navigation, sign-out), and a hash router over pages.

import {api, setCsrf, onSignedOut, setAccountScope, ApiError} from './api.js';
import {h, replace} from './dom.js';

// The pages. Each is a module whose `mount(root, ctx)` draws into `root` and returns `{update?, unmount?}`;
// `when` hides a page from keys that cannot use it.
const PAGES = [
  {id: 'search', title: 'Search', load: () => import('./search.js')},
  {id: 'views', title: 'Views', load: () => import('./views.js')},
  // Alerts watch every instance of the account: a key narrowed to one instance cannot use them (403).
  {id: 'alerts', title: 'Alerts', load: () => import('./alerts.js'), when: (key) => !key.instance},
  {id: 'boards', title: 'Boards', load: () => import('./boards.js')},
  {id: 'insights', title: 'Insights', load: () => import('./insights.js')},
  {id: 'keys', title: 'API keys', load: () => import('./keys.js')},
  // Forwarding to SIEMs; everyone reads how far each route is, managers change them.
  {id: 'routes', title: 'Routes', load: () => import('./routes.js')},
  // Everyone sees plans and storage figures; only managers of the whole account change them.
  {id: 'instances', title: 'Instances', load: () => import('./instances.js')},
  // Timelines of a principal or a resource, usually opened from an event.
  {id: 'investigate', title: 'Investigate', load: () => import('./investigate.js')},
];

const app = document.getElementById('app');
let me = null; // GET /v1/session's answer
let mounted = null; // {id, page, root}

/** `#/search?q=x` -> {id: 'search', params}. */
function route() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [id, query = ''] = hash.split('?');
  const visible = PAGES.filter((page) => !page.when || page.when(me.key));
  const page = visible.find((p) => p.id === id) || visible[0];
  return {page, params: new URLSearchParams(query)};
}

/** `#/search?q=x`: the address of a page in a given state (empty parameters left out). */
function hashOf(id, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined && v !== null)).toString();
  return `#/${id}${query ? `?${query}` : ''}`;
}

/** Writes a page's state into the URL: pushed (Back returns to it) or replaced. No hashchange fires. */
function navigate(id, params, {push}) {
  const hash = hashOf(id, params);
  if (hash === window.location.hash) return;
  if (push) window.history.pushState(null, '', hash);
  else window.history.replaceState(null, '', hash);
}

// Counts calls of show(): a page module still loading when the address changes again must not mount over the
// newer page (a link followed right after sign-in).
let showing = 0;

async function show() {
  const turn = ++showing;
  const {page, params} = route();
  for (const link of document.querySelectorAll('nav.main a')) {
    if (link.dataset.page === page.id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (mounted && mounted.id === page.id && mounted.page.update) {
    mounted.page.update(params);
    return;
  }
  if (mounted && mounted.page.unmount) mounted.page.unmount();
  mounted = null;
  const root = document.getElementById('page');
  replace(root);
  const module = await page.load();
  if (turn !== showing) return;
  // `link` addresses another page: an href, so links work from the keyboard and open in a new tab.
  const ctx = {me, params, navigate: (p, options) => navigate(page.id, p, options), link: hashOf};
  mounted = {id: page.id, page: module.mount(root, ctx) || {}};
  document.title = `${page.title} · Acta`;
}

function unmountPage() {
  if (mounted && mounted.page.unmount) mounted.page.unmount();
  mounted = null;
}

async function signOut() {
  try {
    await api('DELETE', '/v1/session');
  } catch {
    // Already ended on the server; the page forgets it all the same.
  }
  signedOut('You are signed out.');
}

function signedOut(message) {
  unmountPage();
  me = null;
  setCsrf(null);
  setAccountScope(null);
  showSignIn(message);
}

async function accountPicker() {
  // The platform admin belongs to no account; it works in one at a time (the `default` one unless chosen).
  const select = h('select', {'aria-label': 'Account', class: 'account-picker'});
  try {
    const {accounts = []} = await api('GET', '/v1/accounts');
    const chosen = window.sessionStorage.getItem('acta.account') || 'default';
    for (const account of accounts) select.append(h('option', {value: account.id, selected: account.id === chosen}, `${account.name} (${account.id})`));
    setAccountScope(select.value || chosen);
  } catch {
    setAccountScope('default');
  }
  select.addEventListener('change', () => {
    window.sessionStorage.setItem('acta.account', select.value);
    setAccountScope(select.value);
    unmountPage();
    show();
  });
  return select;
}

async function showFrame() {
  const key = me.key;
  const nav = h('nav', {class: 'main', 'aria-label': 'Pages'},
    PAGES.filter((page) => !page.when || page.when(key)).map((page) => h('a', {href: `#/${page.id}`, dataset: {page: page.id}}, page.title)));
  const who = h('span', {class: 'who', title: `key ${key.id}`},
    h('span', {class: 'who-name'}, key.principal || key.name), ` · ${key.role}`, key.account ? ` · ${key.account}` : '');
  const picker = key.role === 'admin' ? await accountPicker() : null;
  const out = h('button', {type: 'button', class: 'signout', on: {click: signOut}}, 'Sign out');
  replace(app,
    // A button, not `href="#page"`: the hash is the router's.
    h('button', {type: 'button', class: 'skip', on: {click: () => document.getElementById('page').focus()}}, 'Skip to content'),
    h('header', {class: 'top'}, h('a', {class: 'brand', href: '#/search', 'aria-label': 'Acta home'}, h('img', {src: '/console/icon.svg', alt: '', width: 20, height: 20}), 'Acta'),
      nav, h('span', {class: 'spacer'}), picker, who, out),
    h('main', {id: 'page', tabindex: -1}));
  await show();
}

function showSignIn(message) {
  const input = h('input', {id: 'api-key', type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false'});
  const error = h('p', {class: 'signin-error', role: 'alert'}, message && message !== 'You are signed out.' ? message : '');
  const note = h('p', {class: 'muted', role: 'status'}, message === 'You are signed out.' ? message : '');
  const button = h('button', {type: 'submit', class: 'primary'}, 'Sign in');
  const form = h('form', {class: 'signin-form', on: {submit: async (event) => {
    event.preventDefault();
    button.disabled = true;
    replace(error);
    try {
      me = await api('POST', '/v1/session', {body: {key: input.value}});
      input.value = '';
      setCsrf(me.session && me.session.csrf_token);
      await showFrame();
    } catch (failure) {
      replace(error, failure instanceof ApiError ? failure.message : String(failure));
      input.focus();
    } finally {
      button.disabled = false;
    }
  }}},
  h('h1', {}, h('img', {src: '/console/icon.svg', alt: '', width: 28, height: 28}), 'Acta'),
  h('p', {class: 'muted'}, 'Audit events of your account: search, live tail, views, alerts, boards, and its API keys.'),
  h('label', {class: 'field', for: 'api-key'}, h('span', {class: 'field-label'}, 'API key')), input,
  h('p', {class: 'field-hint'}, 'The key is exchanged for a session cookie; the page never stores it.'),
  button, error, note);
  replace(app, h('main', {class: 'signin'}, form));
  document.title = 'Sign in · Acta';
  input.focus();
}

onSignedOut(() => {
  if (me) signedOut('Your session has ended. Sign in again.');
});

window.addEventListener('hashchange', () => {
  if (me) show();
});

async function start() {
  try {
    const answer = await api('GET', '/v1/session');
    if (answer.signed_in === false) {
      showSignIn('');
      return;
    }
    me = answer;
    setCsrf(me.session && me.session.csrf_token);
    await showFrame();
  } catch (error) {
    me = null;
    showSignIn(error instanceof ApiError && error.status === 401 ? '' : error.message);
  }
}

start();

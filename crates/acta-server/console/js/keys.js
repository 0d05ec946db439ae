// The API keys page (seed 002): create (the secret shown once, with a copy button), describe, lock, unlock,
// delete. Refusals (a locked key is 409) are shown as the server words them. Each of these actions is audited
// by the server as an `iam-identity.user-apikey.*` event with agent `Acta web console`.

import {api, ApiError, accountScopeOf} from './api.js';
import {h, replace, parseTime, formatTime} from './dom.js';
import {openDialog, field} from './dialog.js';

const ROLES = ['reader', 'writer', 'manager', 'ingest'];
const RANK = {ingest: 1, reader: 1, writer: 2, manager: 3, admin: 4};

const when = (text) => {
  const ms = parseTime(text);
  return Number.isFinite(ms) ? formatTime(ms, {millis: false}) : '';
};

export function mount(root, ctx) {
  const me = ctx.me.key;
  const isManager = RANK[me.role] >= RANK.manager;
  // Readers and ingest keys cannot mint keys (the server refuses); they still see and lock their own.
  const canCreate = RANK[me.role] >= RANK.writer;
  const banner = h('div', {class: 'banner', role: 'status', hidden: true});
  const tbody = h('tbody', {});
  let instances = [];

  function say(text, kind = 'info') {
    banner.className = `banner ${kind}`;
    banner.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    replace(banner, text);
    banner.hidden = false;
  }

  function fail(what, error) {
    say(`${what} failed: ${error instanceof ApiError ? error.describe() : error.message}`, 'error');
  }

  // ----- create -----
  const nameInput = h('input', {name: 'name', required: true, maxlength: 200, autocomplete: 'off'});
  const roleSelect = h('select', {name: 'role'},
    ROLES.filter((role) => me.role === 'admin' || RANK[role] <= RANK[me.role]).map((role) => h('option', {value: role}, role)));
  const instanceSelect = h('select', {name: 'instance'}, h('option', {value: ''}, 'all instances'));
  const descriptionInput = h('input', {name: 'description', maxlength: 1000, autocomplete: 'off'});
  const principalInput = h('input', {name: 'principal', autocomplete: 'off', placeholder: me.principal || ''});
  const secretBox = h('div', {class: 'secret', hidden: true, role: 'status'});
  const createForm = h('form', {class: 'create-form', 'aria-label': 'Create an API key', on: {submit: (e) => { e.preventDefault(); create(); }}},
    field('Name', nameInput),
    field('Role', roleSelect),
    field('Instance', instanceSelect),
    field('Description', descriptionInput),
    isManager ? field('Principal', principalInput, 'user or service id; empty: yours') : null,
    h('div', {class: 'form-actions'}, h('button', {type: 'submit', class: 'primary'}, 'Create key')));

  function showSecret(key) {
    const secret = h('input', {class: 'secret-value', readonly: true, value: key.secret, 'aria-label': 'New API key', spellcheck: 'false'});
    const copied = h('span', {class: 'muted', 'aria-live': 'polite'});
    const copy = h('button', {type: 'button', class: 'primary', on: {click: async () => {
      try {
        await navigator.clipboard.writeText(key.secret);
        replace(copied, 'Copied to the clipboard.');
      } catch {
        secret.select();
        replace(copied, 'Select and copy it yourself (Ctrl+C): the browser refused the clipboard.');
      }
    }}}, 'Copy');
    const done = h('button', {type: 'button', on: {click: () => { secretBox.hidden = true; replace(secretBox); }}}, 'Done');
    replace(secretBox,
      h('p', {}, h('strong', {}, `Key “${key.name}” created.`), ' Copy it now: it is shown only this once and Acta keeps only its hash.'),
      h('div', {class: 'secret-row'}, secret, copy, done), copied);
    secretBox.hidden = false;
    copy.focus();
  }

  async function create() {
    const body = {name: nameInput.value.trim(), role: roleSelect.value};
    if (descriptionInput.value.trim()) body.description = descriptionInput.value.trim();
    if (instanceSelect.value) body.instance = instanceSelect.value;
    if (isManager && principalInput.value.trim()) body.principal = principalInput.value.trim();
    if (accountScopeOf()) body.account = accountScopeOf();
    try {
      const key = await api('POST', '/v1/keys', {body});
      createForm.reset();
      banner.hidden = true;
      showSecret(key);
      await load();
    } catch (error) {
      fail('Creating the key', error);
    }
  }

  // ----- the list -----
  async function describe(key) {
    const name = h('input', {value: key.name, required: true, maxlength: 200});
    const description = h('textarea', {rows: 3, maxlength: 1000}, key.description || '');
    const saved = await openDialog({
      title: `Describe key ${key.name}`,
      fields: [field('Name', name), field('Description', description)],
      submitLabel: 'Save',
      onSubmit: () => api('PATCH', `/v1/keys/${encodeURIComponent(key.id)}`, {body: {name: name.value.trim(), description: description.value}}),
    });
    if (saved) {
      say(`Key “${name.value.trim()}” saved.`);
      await load();
    }
  }

  async function setLocked(key, locked) {
    try {
      await api('POST', `/v1/keys/${encodeURIComponent(key.id)}/${locked ? 'lock' : 'unlock'}`);
      say(`Key “${key.name}” ${locked ? 'locked: it can be neither changed nor deleted until unlocked' : 'unlocked'}.`);
      await load();
    } catch (error) {
      fail(`${locked ? 'Locking' : 'Unlocking'} “${key.name}”`, error);
    }
  }

  async function remove(key) {
    let refusal = null;
    const confirmed = await openDialog({
      title: `Delete key ${key.name}?`,
      fields: [h('p', {}, 'Anything using this key loses access at once. This cannot be undone.')],
      submitLabel: 'Delete',
      danger: true,
      onSubmit: async () => {
        try {
          await api('DELETE', `/v1/keys/${encodeURIComponent(key.id)}`);
        } catch (error) {
          // Close the dialog and say why on the page, next to the key (a locked key is 409).
          refusal = error;
        }
      },
    });
    if (refusal) {
      fail(`Deleting “${key.name}”`, refusal);
      await load();
    } else if (confirmed) {
      say(`Key “${key.name}” deleted.`);
      await load();
    }
  }

  function keyRow(key) {
    const self = key.id === me.id;
    const state = key.locked ? h('span', {class: 'badge locked'}, 'locked') : h('span', {class: 'badge active'}, 'active');
    return h('tr', {dataset: {keyId: key.id}},
      h('th', {scope: 'row'}, key.name, self ? h('span', {class: 'muted'}, ' (this session)') : null),
      h('td', {class: 'mono'}, key.id),
      h('td', {}, key.role),
      h('td', {}, key.principal || ''),
      h('td', {}, key.instance ? (instances.find((i) => i.id === key.instance) || {}).name || key.instance : 'all'),
      h('td', {class: 'description'}, key.description || ''),
      h('td', {class: 'time'}, when(key.created_at)),
      h('td', {class: 'time'}, when(key.last_used_at)),
      h('td', {}, state),
      h('td', {class: 'actions'},
        h('button', {type: 'button', class: 'small', 'aria-label': `Describe ${key.name}`, on: {click: () => describe(key)}}, 'Describe'),
        key.locked
          ? h('button', {type: 'button', class: 'small', 'aria-label': `Unlock ${key.name}`, on: {click: () => setLocked(key, false)}}, 'Unlock')
          : h('button', {type: 'button', class: 'small', 'aria-label': `Lock ${key.name}`, on: {click: () => setLocked(key, true)}}, 'Lock'),
        // A locked key cannot be deleted (the API answers 409): say so rather than confirm and then fail.
        h('button', {type: 'button', class: 'small danger', 'aria-label': `Delete ${key.name}`, disabled: key.locked,
          title: key.locked ? 'A locked key cannot be deleted: unlock it first' : null, on: {click: () => remove(key)}}, 'Delete'),
        key.locked ? h('div', {class: 'muted action-reason'}, 'Unlock to delete') : null));
  }

  async function load() {
    try {
      const answer = await api('GET', '/v1/keys');
      const keys = answer.keys || [];
      replace(tbody, keys.length ? keys.map(keyRow) : h('tr', {}, h('td', {colspan: 10, class: 'muted'}, 'No keys.')));
    } catch (error) {
      fail('Listing the keys', error);
    }
  }

  async function loadInstances() {
    try {
      instances = (await api('GET', '/v1/instances')).instances || [];
      replace(instanceSelect, h('option', {value: ''}, 'all instances'),
        instances.map((instance) => h('option', {value: instance.id}, `${instance.name} (${instance.region})`)));
    } catch {
      instances = [];
    }
  }

  replace(root, h('section', {class: 'page keys-page', 'aria-label': 'API keys'},
    h('header', {class: 'page-head'}, h('h1', {}, 'API keys'),
      h('p', {class: 'muted'}, 'A key is a principal with one role in this account. Lock a key to protect it from changes and deletion.')),
    banner,
    canCreate ? h('section', {class: 'card'}, h('h2', {}, 'Create a key'), createForm, secretBox) : null,
    h('div', {class: 'table-box'}, h('table', {class: 'keys'},
      h('thead', {}, h('tr', {}, ['Name', 'ID', 'Role', 'Principal', 'Instance', 'Description', 'Created', 'Last used', 'State', 'Actions']
        .map((name) => h('th', {scope: 'col'}, name)))),
      tbody))));

  loadInstances().then(load);
  return {};
}

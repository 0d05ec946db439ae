// The instances page, for managers: an account's event stores by region with their retention plans. Creating
// one is "provisioning Activity Tracker in US South" (seed 000).

import {api, ApiError, accountScopeOf} from './api.js';
import {h, replace, parseTime, formatTime} from './dom.js';
import {openDialog, field} from './dialog.js';

const PLANS = [7, 14, 30];

function retentionInput(days) {
  return h('input', {type: 'number', min: 1, max: 3650, step: 1, value: days, required: true, list: 'retention-plans'});
}

export function mount(root, ctx) {
  const role = ctx.me.key.role;
  const canManage = (role === 'manager' || role === 'admin') && !ctx.me.key.instance;
  const banner = h('div', {class: 'banner', role: 'status', hidden: true});
  const tbody = h('tbody', {});

  function say(text, kind = 'info') {
    banner.className = `banner ${kind}`;
    banner.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    replace(banner, text);
    banner.hidden = false;
  }
  const fail = (what, error) => say(`${what} failed: ${error instanceof ApiError ? error.describe() : error.message}`, 'error');

  const name = h('input', {required: true, maxlength: 200, autocomplete: 'off', placeholder: 'us-south'});
  const region = h('input', {required: true, maxlength: 64, autocomplete: 'off', placeholder: 'us-south', pattern: '[a-z0-9_\\-]+'});
  const retention = retentionInput(30);
  const strict = h('input', {type: 'checkbox'});
  const createForm = h('form', {class: 'create-form', 'aria-label': 'Create an instance', on: {submit: (e) => { e.preventDefault(); create(); }}},
    field('Name', name), field('Region', region), field('Retention (days)', retention, '7, 14, 30 or your own'),
    h('label', {class: 'field check'}, strict, ' Strict CADF (DSP0262)'),
    h('div', {class: 'form-actions'}, h('button', {type: 'submit', class: 'primary'}, 'Create instance')));

  async function create() {
    const body = {name: name.value.trim(), region: region.value.trim(), retention_days: Number(retention.value), strict: strict.checked};
    if (accountScopeOf()) body.account = accountScopeOf();
    try {
      const instance = await api('POST', '/v1/instances', {body});
      createForm.reset();
      say(`Instance “${instance.name}” created in ${instance.region}.`);
      await load();
    } catch (error) {
      fail('Creating the instance', error);
    }
  }

  async function edit(instance) {
    const newName = h('input', {value: instance.name, required: true, maxlength: 200});
    const days = retentionInput(instance.retention_days);
    const isStrict = h('input', {type: 'checkbox', checked: instance.strict});
    const saved = await openDialog({
      title: `Change instance ${instance.name}`,
      fields: [field('Name', newName), field('Retention (days)', days), h('label', {class: 'field check'}, isStrict, ' Strict CADF (DSP0262)')],
      onSubmit: () => api('PATCH', `/v1/instances/${encodeURIComponent(instance.id)}`,
        {body: {name: newName.value.trim(), retention_days: Number(days.value), strict: isStrict.checked}}),
    });
    if (saved) {
      say(`Instance “${newName.value.trim()}” saved.`);
      await load();
    }
  }

  async function remove(instance) {
    let refusal = null;
    const confirmed = await openDialog({
      title: `Delete instance ${instance.name}?`,
      fields: [h('p', {}, 'Only an instance that never held events can be deleted; events leave by retention.')],
      submitLabel: 'Delete',
      danger: true,
      onSubmit: async () => {
        try {
          await api('DELETE', `/v1/instances/${encodeURIComponent(instance.id)}`);
        } catch (error) {
          refusal = error;
        }
      },
    });
    if (refusal) fail(`Deleting “${instance.name}”`, refusal);
    else if (confirmed) say(`Instance “${instance.name}” deleted.`);
    await load();
  }

  // Storage figures: live events, bytes on disk, arrival times of the oldest and newest events.
  function bytesText(bytes) {
    if (!Number.isFinite(bytes)) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
  }
  function timeText(text) {
    const time = parseTime(text);
    return Number.isFinite(time) ? formatTime(time, {millis: false}) : '';
  }

  function row(instance) {
    const created = parseTime(instance.created_at);
    const storage = instance.storage || {};
    return h('tr', {dataset: {instanceId: instance.id}},
      h('th', {scope: 'row'}, instance.name),
      h('td', {class: 'mono'}, instance.id),
      h('td', {}, instance.region),
      h('td', {}, `${instance.retention_days} days`),
      h('td', {}, instance.global ? 'yes' : ''),
      h('td', {}, instance.strict ? 'strict' : 'lenient'),
      h('td', {class: 'number'}, Number.isFinite(storage.events) ? storage.events.toLocaleString('en-US') : ''),
      h('td', {class: 'number'}, bytesText(storage.bytes)),
      h('td', {class: 'time'}, timeText(storage.oldest)),
      h('td', {class: 'time'}, timeText(storage.newest)),
      h('td', {class: 'time'}, storage.archived_through || ''),
      h('td', {class: 'time'}, Number.isFinite(created) ? formatTime(created, {millis: false}) : ''),
      h('td', {class: 'actions'}, canManage ? [
        h('button', {type: 'button', class: 'small', 'aria-label': `Change ${instance.name}`, on: {click: () => edit(instance)}}, 'Change'),
        instance.global ? null : h('button', {type: 'button', class: 'small danger', 'aria-label': `Delete ${instance.name}`, on: {click: () => remove(instance)}}, 'Delete'),
      ] : null));
  }

  async function load() {
    try {
      const instances = (await api('GET', '/v1/instances')).instances || [];
      replace(tbody, instances.map(row));
    } catch (error) {
      fail('Listing the instances', error);
    }
  }

  replace(root, h('section', {class: 'page instances-page', 'aria-label': 'Instances'},
    h('header', {class: 'page-head'}, h('h1', {}, 'Instances'),
      h('p', {class: 'muted'}, 'Each instance keeps this account’s events of one region for its retention. Global events (IAM, Acta’s own audit trail) go to the global instance.')),
    banner,
    h('datalist', {id: 'retention-plans'}, PLANS.map((days) => h('option', {value: days}))),
    canManage ? h('section', {class: 'card'}, h('h2', {}, 'Create an instance'), createForm) : null,
    h('div', {class: 'table-box'}, h('table', {class: 'instances'},
      h('thead', {}, h('tr', {}, ['Name', 'ID', 'Region', 'Retention', 'Global', 'CADF', 'Events', 'Size', 'Oldest', 'Newest', 'Archived through', 'Created', 'Actions'].map((n) => h('th', {scope: 'col'}, n)))),
      tbody))));
  load();
  return {};
}

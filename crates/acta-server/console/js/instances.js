// The instances page: an account's event stores by region with their retention plans, storage figures and
// archives. Everyone sees the plans and figures; managers of the whole account create instances (seed 000's
// "provisioning Activity Tracker in US South"), change plans and set archives. A shorter plan deletes data, so
// the page first asks the API what it would delete (`dry_run`), shows it, and sends `confirm` only when the
// manager confirms that list.

import {api, ApiError, accountScopeOf} from './api.js';
import {h, replace, parseTime, formatTime, formatCount} from './dom.js';
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

  const path = (instance, rest = '') => `/v1/instances/${encodeURIComponent(instance.id)}${rest}`;

  async function edit(instance) {
    const newName = h('input', {value: instance.name, required: true, maxlength: 200});
    const isStrict = h('input', {type: 'checkbox', checked: instance.strict});
    const saved = await openDialog({
      title: `Settings of instance ${instance.name}`,
      fields: [field('Name', newName), h('label', {class: 'field check'}, isStrict, ' Strict CADF (DSP0262)'),
        h('p', {class: 'field-hint'}, 'The retention plan has its own button: a shorter one shows what it deletes first.')],
      onSubmit: () => api('PATCH', path(instance), {body: {name: newName.value.trim(), strict: isStrict.checked}}),
    });
    if (saved) {
      say(`Instance “${newName.value.trim()}” saved.`);
      await load();
    }
  }

  /** `14 days of events, 1,234 events, will be deleted:` and one line per day. */
  function deletionList(answer) {
    const partitions = answer.partitions || [];
    const events = Number(answer.events) || partitions.reduce((sum, p) => sum + (Number(p.events) || 0), 0);
    if (!partitions.length) {
      return [h('p', {class: 'deletion-summary'}, 'Nothing is old enough to be deleted now. From now on, each day of events goes once it is older than the new plan.')];
    }
    const days = partitions.length === 1 ? '1 day of events' : `${formatCount(partitions.length)} days of events`;
    return [
      h('p', {class: 'deletion-summary'}, h('strong', {}, `${days}, ${formatCount(events)} ${events === 1 ? 'event' : 'events'}, will be deleted:`)),
      h('ul', {class: 'deletion-list', 'aria-label': 'Days that would be deleted'},
        partitions.map((p) => h('li', {}, h('span', {class: 'mono'}, p.day), `: ${formatCount(p.events)} ${p.events === 1 ? 'event' : 'events'}`))),
      h('p', {class: 'muted'}, 'Days are arrival days (UTC). What the instance’s archive holds stays there.'),
    ];
  }

  async function changePlan(instance) {
    const days = retentionInput(instance.retention_days);
    let wanted = null;
    let dryRun = null;
    const chosen = await openDialog({
      title: `Retention plan of ${instance.name}`,
      fields: [field('Retention (days)', days, `now ${instance.retention_days} days; 7, 14, 30 or your own`)],
      submitLabel: 'Save plan',
      onSubmit: async () => {
        wanted = Number(days.value);
        if (!Number.isInteger(wanted)) throw new Error('The plan is a whole number of days.');
        if (wanted >= instance.retention_days) {
          // A longer (or the same) plan deletes nothing: it applies at once.
          await api('PATCH', path(instance), {body: {retention_days: wanted}});
        } else {
          dryRun = await api('PATCH', path(instance), {body: {retention_days: wanted, dry_run: true}});
        }
      },
    });
    if (!chosen) return;
    if (!dryRun) {
      say(`The plan of “${instance.name}” is now ${wanted} days.`);
      await load();
      return;
    }
    const confirmed = await openDialog({
      title: `Shorten ${instance.name} from ${instance.retention_days} to ${wanted} days?`,
      fields: deletionList(dryRun),
      submitLabel: 'Delete and shorten',
      danger: true,
      onSubmit: () => api('PATCH', path(instance), {body: {retention_days: wanted, confirm: true}}),
    });
    if (confirmed) {
      const gone = (dryRun.partitions || []).length;
      say(`The plan of “${instance.name}” is now ${wanted} days${gone ? `; ${formatCount(dryRun.events)} events of ${gone} ${gone === 1 ? 'day are' : 'days are'} being deleted` : ''}.`);
    } else {
      say(`The plan of “${instance.name}” stays ${instance.retention_days} days; nothing was deleted.`);
    }
    await load();
  }

  // ----- archives -----

  /** `S3 bucket/prefix at https://s3.example.com`, `Directory /srv/archive`, or null. */
  function archiveText(archive) {
    if (!archive) return null;
    if (archive.kind === 'directory') return `Directory ${archive.path}`;
    if (archive.kind === 's3') return `S3 ${archive.bucket}${archive.prefix ? `/${archive.prefix}` : ''} at ${archive.endpoint}`;
    return String(archive.kind);
  }

  function archiveCell(instance, shown, buttons) {
    const actions = buttons ? h('div', {class: 'cell-actions'}, buttons) : null;
    if (shown === undefined) return h('td', {class: 'archive muted'}, '…');
    if (shown instanceof Error) return h('td', {class: 'archive inline-error'}, shown.message);
    if (!shown) return h('td', {class: 'archive'}, h('span', {class: 'muted'}, 'none'), ' ', actions);
    const archive = shown.archive || {};
    return h('td', {class: 'archive'},
      h('div', {class: 'mono'}, archiveText(archive)),
      archive.kind === 's3' ? h('div', {class: 'muted'}, `key ${archive.access_key_id} · secret ${archive.secret_access_key}`) : null,
      archive.ndjson ? h('div', {class: 'muted'}, 'with NDJSON') : null,
      shown.failing ? h('div', {class: 'inline-error'}, `failing: ${shown.last_error || 'see the server log'}`) : null,
      actions);
  }

  async function archiveOf(instance) {
    if (instance.has_archive === false) return null;
    try {
      return await api('GET', path(instance, '/archive'));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      return error;
    }
  }

  async function editArchive(instance, shown) {
    const current = (shown && shown.archive) || {kind: 'directory'};
    const kind = h('select', {}, [['directory', 'Directory on the server'], ['s3', 'S3-compatible storage']]
      .map(([value, label]) => h('option', {value, selected: current.kind === value}, label)));
    const dirPath = h('input', {value: current.path || '', autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: '/srv/acta-archive/acme'});
    const endpoint = h('input', {value: current.endpoint || '', autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'https://s3.example.com'});
    const bucket = h('input', {value: current.bucket || '', autocomplete: 'off', spellcheck: 'false'});
    const prefix = h('input', {value: current.prefix || '', autocomplete: 'off', spellcheck: 'false', placeholder: 'optional'});
    const region = h('input', {value: current.region || '', autocomplete: 'off', spellcheck: 'false', placeholder: 'us-east-1'});
    const keyId = h('input', {value: current.access_key_id || '', autocomplete: 'off', spellcheck: 'false'});
    // The secret is never given back: it is typed again on every change.
    const secret = h('input', {type: 'password', autocomplete: 'new-password', spellcheck: 'false'});
    const allowHttp = h('input', {type: 'checkbox', checked: Boolean(current.allow_http)});
    const ndjson = h('input', {type: 'checkbox', checked: Boolean(current.ndjson)});
    const directoryFields = h('div', {class: 'archive-fields'},
      field('Directory', dirPath, 'an absolute path under an archive root the operator allows'));
    const s3Fields = h('div', {class: 'archive-fields'},
      field('Endpoint', endpoint), field('Bucket', bucket), field('Prefix', prefix), field('Region', region),
      field('Access key ID', keyId),
      field('Secret access key', secret, shown && current.kind === 's3' ? 'never shown again: type it again to save' : 'never shown again'),
      h('label', {class: 'field check'}, allowHttp, ' Allow plain http:// (unencrypted)'));
    const sync = () => {
      directoryFields.hidden = kind.value !== 'directory';
      s3Fields.hidden = kind.value !== 's3';
    };
    kind.addEventListener('change', sync);
    sync();
    const saved = await openDialog({
      title: `Archive of ${instance.name}`,
      fields: [h('p', {class: 'muted'}, 'Sealed days are copied here, with their checkpoints, before retention deletes them; deletion waits for a confirmed copy.'),
        field('Kind', kind), directoryFields, s3Fields, h('label', {class: 'field check'}, ndjson, ' Also write compressed NDJSON for other tools')],
      submitLabel: 'Save archive',
      onSubmit: async () => {
        const trimmed = (input) => input.value.trim();
        const body = kind.value === 'directory'
          ? {kind: 'directory', path: trimmed(dirPath), ndjson: ndjson.checked}
          : {kind: 's3', endpoint: trimmed(endpoint), bucket: trimmed(bucket), access_key_id: trimmed(keyId),
            secret_access_key: secret.value, ndjson: ndjson.checked, allow_http: allowHttp.checked};
        if (kind.value === 's3') {
          if (trimmed(prefix)) body.prefix = trimmed(prefix);
          if (trimmed(region)) body.region = trimmed(region);
        }
        await api('PUT', path(instance, '/archive'), {body});
      },
    });
    if (saved) {
      say(`The archive of “${instance.name}” is saved.`);
      await load();
    }
  }

  async function removeArchive(instance) {
    let refusal = null;
    const confirmed = await openDialog({
      title: `Remove the archive of ${instance.name}?`,
      fields: [h('p', {}, 'Nothing more is copied there; what it already holds stays. Retention then deletes days without a copy.')],
      submitLabel: 'Remove archive',
      danger: true,
      onSubmit: async () => {
        try {
          await api('DELETE', path(instance, '/archive'));
        } catch (error) {
          refusal = error;
        }
      },
    });
    if (refusal) fail(`Removing the archive of “${instance.name}”`, refusal);
    else if (confirmed) say(`The archive of “${instance.name}” is removed.`);
    await load();
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
    return Number.isFinite(time) ? formatTime(time, {millis: false}).slice(0, 16) : '';
  }

  function row(instance, archive) {
    const created = parseTime(instance.created_at);
    const storage = instance.storage || {};
    const label = instance.name;
    const archiveUsable = canManage && !(archive instanceof Error) && archive !== undefined;
    return h('tr', {dataset: {instanceId: instance.id}},
      h('th', {scope: 'row'}, h('span', {class: 'instance-name'}, instance.name),
        instance.global ? [' ', h('span', {class: 'badge category'}, 'global')] : null,
        instance.strict ? [' ', h('span', {class: 'badge category', title: 'Events must be strict CADF (DSP0262)'}, 'strict')] : null,
        h('div', {class: 'instance-id mono muted', title: 'Instance ID'}, instance.id),
        Number.isFinite(created) ? h('div', {class: 'instance-id muted'}, `created ${formatTime(created, {millis: false}).slice(0, 16)}`) : null),
      h('td', {}, instance.region),
      h('td', {class: 'plan'}, `${instance.retention_days} days`,
        canManage ? [' ', h('button', {type: 'button', class: 'small', 'aria-label': `Change the plan of ${label}`, on: {click: () => changePlan(instance)}}, 'Change…')] : null),
      h('td', {class: 'number'}, Number.isFinite(storage.events) ? formatCount(storage.events) : ''),
      h('td', {class: 'number'}, bytesText(storage.bytes)),
      h('td', {class: 'time'}, timeText(storage.oldest)),
      h('td', {class: 'time'}, timeText(storage.newest)),
      canManage ? archiveCell(instance, archive, archiveUsable ? [
        h('button', {type: 'button', class: 'small', 'aria-label': `Set the archive of ${label}`,
          on: {click: () => editArchive(instance, archive)}}, archive ? 'Edit…' : 'Set…'),
        archive ? h('button', {type: 'button', class: 'small danger', 'aria-label': `Remove the archive of ${label}`,
          on: {click: () => removeArchive(instance)}}, 'Remove') : null,
      ] : null) : null,
      h('td', {class: 'time'}, storage.archived_through || ''),
      canManage ? h('td', {class: 'actions'},
        // One "Change" per row, the plan's: this one holds the name and strict mode.
        h('button', {type: 'button', class: 'small', 'aria-label': `Settings of ${label}`, on: {click: () => edit(instance)}}, 'Settings…'),
        instance.global ? null : h('button', {type: 'button', class: 'small danger', 'aria-label': `Delete ${label}`, on: {click: () => remove(instance)}}, 'Delete'))
        : null);
  }

  async function load() {
    try {
      const instances = (await api('GET', '/v1/instances')).instances || [];
      // Archives are a manager's business (their settings name credentials): readers are not asked.
      const archives = canManage ? await Promise.all(instances.map(archiveOf)) : [];
      replace(tbody, instances.map((instance, i) => row(instance, archives[i])));
    } catch (error) {
      fail('Listing the instances', error);
    }
  }

  const columns = ['Name', 'Region', 'Retention', 'Events', 'Size', 'Oldest', 'Newest',
    ...(canManage ? ['Archive'] : []), 'Archived through', ...(canManage ? ['Actions'] : [])];
  replace(root, h('section', {class: 'page instances-page', 'aria-label': 'Instances'},
    h('header', {class: 'page-head'}, h('h1', {}, 'Instances'),
      h('p', {class: 'muted'}, 'Each instance keeps this account’s events of one region for its retention plan, then deletes them a day at a time (after copying them to its archive, when it has one). Global events (IAM, Acta’s own audit trail) go to the global instance.')),
    banner,
    h('datalist', {id: 'retention-plans'}, PLANS.map((days) => h('option', {value: days}))),
    canManage ? h('section', {class: 'card'}, h('h2', {}, 'Create an instance'), createForm) : null,
    h('div', {class: 'table-box'}, h('table', {class: 'instances'},
      h('thead', {}, h('tr', {}, columns.map((n) => h('th', {scope: 'col'}, n)))),
      tbody))));
  load();
  return {};
}

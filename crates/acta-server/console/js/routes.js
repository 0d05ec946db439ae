// The routes page: where the account's events are forwarded (syslog, a webhook, NDJSON files, Elasticsearch),
// and how far each route is: its state, how many events it is behind, its failures and last error. Managers of
// the whole account create, pause, resume and delete routes; everyone else reads. A webhook's signing secret is
// shown once, when Acta generates it (docs/forwarding.md).

import {api, accountScopeOf} from './api.js';
import {h, replace, banner, formatTime, formatCount} from './dom.js';
import {openDialog, field} from './dialog.js';

const STATES = {up_to_date: 'Up to date', sending: 'Sending', failing: 'Failing', disabled: 'Paused'};

/** `syslog+tls siem.example:6514`, `webhook https://...`, `directory siem/acme`. */
export function destinationText(destination) {
  const d = destination || {};
  if (d.type === 'syslog') return `syslog${d.tls ? '+tls' : ''} ${d.host}:${d.port}`;
  if (d.type === 'directory') return `directory ${d.path}`;
  if (d.type === 's3') return `s3 ${d.endpoint}/${d.bucket}${d.prefix ? `/${d.prefix}` : ''}`;
  return `${d.type} ${d.url || ''}`;
}

export function mount(root, ctx) {
  const role = ctx.me.key.role;
  const canManage = (role === 'manager' || role === 'admin') && !ctx.me.key.instance;
  const notice = banner();
  const tbody = h('tbody', {});
  const path = (route, rest = '') => `/v1/routes/${encodeURIComponent(route.id)}${rest}`;

  function row(route) {
    const status = route.status || {};
    const time = (text) => (text ? formatTime(Date.parse(text), {millis: false}) : '—');
    const actions = canManage ? h('td', {}, h('div', {class: 'cell-actions'},
      h('button', {type: 'button', class: 'small', on: {click: () => toggle(route)}}, route.enabled ? 'Pause' : 'Resume'),
      h('button', {type: 'button', class: 'small danger', on: {click: () => remove(route)}}, 'Delete'))) : null;
    return h('tr', {dataset: {routeId: route.id}},
      h('td', {}, route.name),
      h('td', {class: 'mono'}, destinationText(route.destination)),
      h('td', {class: 'mono'}, route.query || h('span', {class: 'muted'}, 'every event')),
      h('td', {class: `route-state ${status.state}`}, STATES[status.state] || status.state),
      h('td', {class: 'num', 'aria-label': 'Events behind'}, formatCount(status.lag_events || 0)),
      h('td', {class: 'num'}, formatCount(status.delivered_events || 0)),
      h('td', {}, time(status.last_delivery)),
      h('td', {}, status.last_error
        ? h('div', {class: 'inline-error'}, `${formatCount(status.failures)} failed: ${status.last_error}`, h('div', {class: 'muted'}, time(status.last_error_at)))
        : h('span', {class: 'muted'}, status.failures ? `${formatCount(status.failures)} failed` : 'none')),
      actions);
  }

  async function load() {
    let routes;
    try {
      routes = (await api('GET', '/v1/routes')).routes || [];
    } catch (error) {
      notice.fail('Listing the routes', error);
      return;
    }
    if (routes.length === 0) {
      replace(tbody, h('tr', {}, h('td', {colspan: canManage ? 9 : 8, class: 'empty muted'},
        'No routes: the account’s events stay in Acta only.')));
      return;
    }
    replace(tbody, routes.map(row));
  }

  async function toggle(route) {
    try {
      await api('PATCH', path(route), {body: {enabled: !route.enabled}});
      notice.say(`Route “${route.name}” ${route.enabled ? 'paused: it keeps its place' : 'resumed from where it stopped'}.`);
    } catch (error) {
      notice.fail('Changing the route', error);
    }
    await load();
  }

  async function remove(route) {
    const removed = await openDialog({
      title: `Delete route ${route.name}?`,
      fields: [h('p', {}, 'Events stop going to ', h('span', {class: 'mono'}, destinationText(route.destination)),
        '. What it already received stays there.')],
      submitLabel: 'Delete route',
      danger: true,
      onSubmit: () => api('DELETE', path(route)),
    });
    if (removed) {
      notice.say(`Route “${route.name}” deleted.`);
      await load();
    }
  }

  async function create() {
    const name = h('input', {required: true, maxlength: 200, autocomplete: 'off', placeholder: 'SIEM'});
    const query = h('input', {autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'every event'});
    const kind = h('select', {}, [['syslog', 'Syslog (RFC 5424)'], ['webhook', 'Webhook (signed NDJSON)'],
      ['elasticsearch', 'Elasticsearch bulk API'], ['s3', 'NDJSON objects in S3'], ['directory', 'NDJSON files on the server']]
      .map(([value, label]) => h('option', {value}, label)));
    const host = h('input', {autocomplete: 'off', spellcheck: 'false', placeholder: 'siem.example.com'});
    const port = h('input', {type: 'number', min: 1, max: 65535, placeholder: '514 (6514 with TLS)'});
    const tls = h('input', {type: 'checkbox'});
    const url = h('input', {autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'https://'});
    const index = h('input', {autocomplete: 'off', spellcheck: 'false', placeholder: 'acta-events'});
    const apiKey = h('input', {type: 'password', autocomplete: 'new-password'});
    const dir = h('input', {autocomplete: 'off', spellcheck: 'false', placeholder: 'siem/acme'});
    const endpoint = h('input', {autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'https://s3.example.com'});
    const bucket = h('input', {autocomplete: 'off', spellcheck: 'false'});
    const prefix = h('input', {autocomplete: 'off', spellcheck: 'false', placeholder: 'optional'});
    const keyId = h('input', {autocomplete: 'off', spellcheck: 'false'});
    const secretKey = h('input', {type: 'password', autocomplete: 'new-password'});
    const fromOldest = h('input', {type: 'checkbox'});
    const groups = {
      syslog: h('div', {}, field('Host', host), field('Port', port), h('label', {class: 'field check'}, tls, ' TLS')),
      url: h('div', {}, field('URL', url, 'webhook batches are signed: X-Acta-Signature')),
      elasticsearch: h('div', {}, field('Index', index), field('API key', apiKey, 'optional; never shown again')),
      directory: h('div', {}, field('Path', dir, 'under the server’s --forward-dir')),
      s3: h('div', {}, field('Endpoint', endpoint), field('Bucket', bucket), field('Prefix', prefix),
        field('Access key ID', keyId), field('Secret access key', secretKey, 'never shown again')),
    };
    const shown = {syslog: ['syslog'], webhook: ['url'], elasticsearch: ['url', 'elasticsearch'], directory: ['directory'], s3: ['s3']};
    const sync = () => {
      for (const [name, group] of Object.entries(groups)) group.hidden = !shown[kind.value].includes(name);
    };
    kind.addEventListener('change', sync);
    sync();
    let created = null;
    const saved = await openDialog({
      title: 'New route',
      fields: [field('Name', name), field('Events', query, 'a query; empty sends every event'), field('Destination', kind),
        ...Object.values(groups), h('label', {class: 'field check'}, fromOldest, ' Begin with every event the account holds')],
      submitLabel: 'Create route',
      onSubmit: async () => {
        const destination = {type: kind.value};
        if (kind.value === 'syslog') {
          destination.host = host.value.trim();
          if (port.value) destination.port = Number(port.value);
          destination.tls = tls.checked;
        } else if (kind.value === 'directory') {
          destination.path = dir.value.trim();
        } else if (kind.value === 's3') {
          Object.assign(destination, {endpoint: endpoint.value.trim(), bucket: bucket.value.trim(),
            access_key_id: keyId.value.trim(), secret_access_key: secretKey.value});
          if (prefix.value.trim()) destination.prefix = prefix.value.trim();
        } else {
          destination.url = url.value.trim();
          if (kind.value === 'elasticsearch') {
            if (index.value.trim()) destination.index = index.value.trim();
            if (apiKey.value) destination.api_key = apiKey.value;
          }
        }
        const body = {name: name.value.trim(), destination, start: fromOldest.checked ? 'oldest' : 'now'};
        if (query.value.trim()) body.query = query.value.trim();
        if (accountScopeOf()) body.account = accountScopeOf();
        created = await api('POST', '/v1/routes', {body});
      },
    });
    if (!saved || !created) return;
    if (created.secret) {
      await openDialog({
        title: `Signing secret of ${created.name}`,
        fields: [h('p', {}, 'Give it to the receiver to check X-Acta-Signature. It is not shown again.'),
          h('input', {readonly: true, value: created.secret, class: 'mono', 'aria-label': 'Signing secret'})],
        submitLabel: 'Done',
      });
    }
    notice.say(`Route “${created.name}” created.`);
    await load();
  }

  const head = ['Name', 'Destination', 'Events', 'State', 'Behind', 'Sent', 'Last delivery', 'Failures'];
  replace(root, h('section', {class: 'page routes-page', 'aria-label': 'Routes'},
    h('header', {class: 'page-head'}, h('h1', {}, 'Routes'),
      h('p', {class: 'muted'}, 'Each route sends the account’s events, or those matching its query, to a SIEM: at least once, in order per instance, retried until the destination takes them.'),
      canManage ? h('button', {type: 'button', class: 'primary', on: {click: create}}, 'New route') : null),
    notice.element,
    h('table', {class: 'data routes-table'},
      h('thead', {}, h('tr', {}, head.map((title) => h('th', {scope: 'col'}, title)), canManage ? h('th', {scope: 'col'}, 'Actions') : null)),
      tbody)));
  load();
  const timer = window.setInterval(load, 5_000);
  return {unmount: () => window.clearInterval(timer)};
}

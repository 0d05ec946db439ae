// The alerts page (seed 002, step 4): alerts attached to views. Attach one (presence or absence, a threshold,
// a window, immediately and/or at the window's end, a time zone, a mute), with channels (email, webhook, Slack,
// PagerDuty); edit, delete, send a test, read the history of firings and deliveries.
//
// Channel secrets (a webhook's signing secret, a PagerDuty routing key) are never shown back: the API answers
// `********` in their place, and sending that back at the same position keeps the stored secret. The editor
// leaves such a field empty ("set; empty keeps it") and sends the placeholder only for a channel that has not
// moved, so that a secret can never slide onto another channel.

import {api} from './api.js';
import {h, replace, banner, describeError, parseTime, formatTime, toLocalInput, formatCount, TIME_ZONE} from './dom.js';
import {openDialog, field} from './dialog.js';

const WINDOWS = ['30s', '1m', '5m', '15m', '30m', '1h', '6h', '12h', '24h'];
const WINDOW_TEXT = {
  '30s': '30 seconds', '1m': '1 minute', '5m': '5 minutes', '15m': '15 minutes', '30m': '30 minutes',
  '1h': '1 hour', '6h': '6 hours', '12h': '12 hours', '24h': '24 hours',
};
const CHANNEL_TYPES = [['email', 'Email'], ['webhook', 'Webhook'], ['slack', 'Slack'], ['pagerduty', 'PagerDuty']];
const REDACTED = '********';
// Said wherever email is offered on a server without an SMTP relay (`email_relay: false` from the API).
const NO_RELAY = 'This server has no SMTP relay, so it cannot send email: the operator starts acta serve with --smtp-url, or choose a webhook, Slack or PagerDuty.';
const WRITERS = new Set(['writer', 'manager', 'admin']);
// How long the page follows a test notification before saying it is still being sent.
const TEST_FOLLOW_MS = 20_000;

const when = (text) => {
  const ms = parseTime(text);
  return Number.isFinite(ms) ? formatTime(ms, {millis: false}) : '';
};

/** `At least 2 events in 1 hour, immediately`. */
export function conditionText(alert) {
  const window = WINDOW_TEXT[alert.window] || alert.window;
  if (alert.kind === 'insight') return 'At each insight the view matches (docs/insights.md)';
  if (alert.kind === 'absence') return `Fewer than ${formatCount(alert.threshold)} events in ${window}`;
  const moments = [alert.immediate ? 'immediately' : null, alert.at_end ? 'at the end of the window' : null].filter(Boolean);
  return `At least ${formatCount(alert.threshold)} event${alert.threshold === 1 ? '' : 's'} in ${window}, ${moments.join(' and ')}`;
}

/** One channel in words, without its secret. */
export function channelText(channel) {
  switch (channel && channel.type) {
    case 'email': return `Email to ${(channel.to || []).join(', ')}`;
    case 'webhook': return `Webhook ${channel.method || 'POST'} ${channel.url}${channel.secret ? ' (signed)' : ''}`;
    case 'slack': return `Slack ${channel.url}`;
    case 'pagerduty': return `PagerDuty (${channel.severity || 'error'})${channel.url ? ` via ${channel.url}` : ''}`;
    default: return String((channel && channel.type) || 'channel');
  }
}

function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

// ----- the channel editor -----

/**
 * Editor of one channel; `original` is the channel as the API showed it (secrets redacted), at `index`.
 * Without an SMTP relay (`relay` false) email cannot be chosen, and a new channel starts as a webhook.
 */
function channelEditor(original, index, onRemove, relay) {
  const chosen = original ? original.type : (relay ? 'email' : 'webhook');
  const type = h('select', {'aria-label': 'Channel type'}, CHANNEL_TYPES.map(([value, label]) => {
    const unavailable = value === 'email' && !relay;
    return h('option', {value, selected: chosen === value, disabled: unavailable}, unavailable ? `${label} (no SMTP relay)` : label);
  }));
  const secretSet = (name) => Boolean(original && original[name] === REDACTED);
  const to = h('input', {type: 'text', autocomplete: 'off', placeholder: 'security@example.com, oncall@example.com',
    value: original && original.type === 'email' ? (original.to || []).join(', ') : ''});
  // A Slack incoming-webhook URL is a credential: the API shows it redacted, so the field stays empty and keeps it.
  const url = h('input', {type: 'url', autocomplete: 'off',
    placeholder: secretSet('url') ? 'set; leave empty to keep it' : 'https://',
    value: original && original.url && !secretSet('url') ? original.url : ''});
  const method = h('select', {}, ['POST', 'PUT', 'PATCH'].map((m) => h('option', {value: m, selected: original && original.method === m}, m)));
  const headers = h('textarea', {rows: 2, spellcheck: 'false', placeholder: 'Authorization: Bearer …'},
    original && original.headers ? Object.entries(original.headers).map(([name, value]) => `${name}: ${value}`).join('\n') : '');
  const body = h('textarea', {rows: 3, spellcheck: 'false', placeholder: '{"text": "{{summary}}"} (empty: every variable)'},
    original && original.body !== undefined && original.body !== null ? JSON.stringify(original.body, null, 2) : '');
  const secret = h('input', {type: 'password', autocomplete: 'new-password',
    placeholder: secretSet('secret') ? 'set; leave empty to keep it' : 'optional: signs the body (HMAC-SHA256)'});
  const routingKey = h('input', {type: 'password', autocomplete: 'new-password',
    placeholder: secretSet('routing_key') ? 'set; leave empty to keep it' : 'integration key'});
  const severity = h('select', {}, ['critical', 'error', 'warning', 'info'].map((s) => h('option', {value: s, selected: (original && original.severity || 'error') === s}, s)));

  // The URL input is shared by three types (a typed URL survives a change of type): it is labelled afresh each
  // time a type is shown, since an element can sit in one label only.
  const urlField = (label, hint) => {
    url.removeAttribute('aria-label');
    url.removeAttribute('aria-describedby');
    return field(label, url, hint);
  };
  const parts = {
    email: () => [relay ? null : h('p', {class: 'field-error', role: 'alert'}, NO_RELAY), field('To', to, 'addresses, separated by commas')],
    webhook: () => [urlField('URL'), field('Method', method), field('Headers', headers, 'one “Name: value” per line; a value shown as ******** is kept'),
      field('Body template (JSON)', body), field('Secret', secret)],
    slack: () => [urlField('Incoming webhook URL')],
    pagerduty: () => [field('Routing key', routingKey), field('Severity', severity), urlField('URL', 'empty: PagerDuty’s Events API v2')],
  };
  const details = h('div', {class: 'channel-fields'});
  const legend = h('legend', {});
  const remove = h('button', {type: 'button', class: 'small danger', on: {click: () => onRemove(editor)}}, 'Remove');
  const element = h('fieldset', {class: 'channel'}, legend, h('div', {class: 'channel-head'}, field('Type', type), remove), details);
  function show() {
    replace(details, parts[type.value]());
  }
  type.addEventListener('change', show);
  show();

  /** The channel to send, at position `position`; throws an Error naming the problem. */
  function value(position) {
    const label = `Channel ${position + 1}`;
    const keep = (name, input) => {
      if (input.value) return input.value;
      if (!secretSet(name) || original.type !== type.value) return null;
      // The API keeps a secret sent back as the placeholder only at the same position.
      const what = {secret: 'secret', routing_key: 'routing key', url: 'URL'}[name] || name;
      if (position !== index) throw new Error(`${label}: enter its ${what} again (a channel before it was removed)`);
      return REDACTED;
    };
    switch (type.value) {
      case 'email': {
        if (!relay) throw new Error(`${label}: ${NO_RELAY}`);
        const addresses = to.value.split(/[\s,;]+/).map((a) => a.trim()).filter(Boolean);
        if (!addresses.length) throw new Error(`${label}: give at least one email address`);
        return {type: 'email', to: addresses};
      }
      case 'webhook': {
        const out = {type: 'webhook', url: url.value.trim(), method: method.value, headers: {}};
        for (const line of headers.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
          const colon = line.indexOf(':');
          if (colon <= 0) throw new Error(`${label}: header “${line}” is not “Name: value”`);
          out.headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
        }
        if (body.value.trim()) {
          try {
            out.body = JSON.parse(body.value);
          } catch (error) {
            throw new Error(`${label}: the body template is not JSON (${error.message})`);
          }
        }
        const signing = keep('secret', secret);
        if (signing) out.secret = signing;
        return out;
      }
      case 'slack': {
        const hook = keep('url', {value: url.value.trim()});
        if (!hook) throw new Error(`${label}: give the incoming webhook URL`);
        return {type: 'slack', url: hook};
      }
      case 'pagerduty': {
        const out = {type: 'pagerduty', routing_key: keep('routing_key', routingKey) || '', severity: severity.value};
        if (url.value.trim()) out.url = url.value.trim();
        return out;
      }
      default: throw new Error(`${label}: choose a type`);
    }
  }
  const editor = {element, legend, value};
  return editor;
}

// ----- the page -----

export function mount(root, ctx) {
  const canWrite = WRITERS.has(ctx.me.key.role);
  const notice = banner();
  const tbody = h('tbody', {});
  const editorBox = h('section', {class: 'card alert-editor', hidden: true, 'aria-label': 'Alert editor'});
  const historyBox = h('section', {class: 'card alert-history', hidden: true, 'aria-label': 'Alert history'});
  const filterNote = h('p', {class: 'filter-note muted', hidden: true});
  let params = ctx.params;
  let alerts = [];
  let views = [];
  let emailRelay = true;
  let historyOf = null; // the alert whose history is open
  let disposed = false;
  const timers = new Set();

  const viewOf = (id) => views.find((view) => view.id === id);
  const sleep = (ms) => new Promise((resolve) => {
    const timer = setTimeout(() => { timers.delete(timer); resolve(); }, ms);
    timers.add(timer);
  });

  // ----- editor -----
  function openEditor(alert, viewId) {
    const editing = Boolean(alert);
    const view = h('select', {required: true, 'aria-label': 'View'},
      views.length ? null : h('option', {value: ''}, 'no views: save one from the search page first'),
      views.map((v) => h('option', {value: v.id, selected: (alert ? alert.view : viewId) === v.id}, `${v.name} — ${v.query}`)));
    const name = h('input', {maxlength: 200, autocomplete: 'off', value: alert ? alert.name : '', placeholder: 'the view’s name'});
    const presence = h('input', {type: 'radio', name: 'alert-kind', value: 'presence', checked: !alert || alert.kind === 'presence'});
    const absence = h('input', {type: 'radio', name: 'alert-kind', value: 'absence', checked: Boolean(alert && alert.kind === 'absence')});
    const insight = h('input', {type: 'radio', name: 'alert-kind', value: 'insight', checked: Boolean(alert && alert.kind === 'insight')});
    const threshold = h('input', {type: 'number', min: 1, max: 1000000, step: 1, required: true, value: alert ? alert.threshold : 1});
    const windowSelect = h('select', {}, WINDOWS.map((w) => h('option', {value: w, selected: (alert ? alert.window : '1h') === w}, WINDOW_TEXT[w])));
    const immediate = h('input', {type: 'checkbox', checked: alert ? alert.immediate : true});
    const atEnd = h('input', {type: 'checkbox', checked: alert ? alert.at_end : false});
    const zones = timeZones();
    const timezone = h('input', {list: 'alert-time-zones', autocomplete: 'off', required: true,
      value: alert ? alert.timezone : (zones.includes(TIME_ZONE) ? TIME_ZONE : 'UTC')});
    const mutedUntil = h('input', {type: 'datetime-local', value: alert && alert.muted_until ? toLocalInput(parseTime(alert.muted_until)) : ''});
    const thresholdLabel = h('span', {class: 'field-label'});
    const moments = h('fieldset', {class: 'moments'}, h('legend', {}, 'Fire'),
      h('label', {class: 'field check'}, immediate, ' Immediately, when the Nth event arrives'),
      h('label', {class: 'field check'}, atEnd, ' At the end of the window'));
    const thresholdField = h('label', {class: 'field'}, thresholdLabel, threshold);
    const windowField = field('Time frequency (window)', windowSelect);
    function kindChanged() {
      const isPresence = presence.checked;
      replace(thresholdLabel, isPresence ? 'At least N events (N)' : 'Fewer than N events (N)');
      moments.hidden = !isPresence;
      // An insight alert fires at each insight: it has no count or window of its own.
      thresholdField.hidden = insight.checked;
      windowField.hidden = insight.checked;
    }
    presence.addEventListener('change', kindChanged);
    absence.addEventListener('change', kindChanged);
    insight.addEventListener('change', kindChanged);
    kindChanged();

    const channelList = h('div', {class: 'channels'});
    const editors = [];
    function renumber() {
      editors.forEach((editor, i) => replace(editor.legend, `Channel ${i + 1}`));
      replace(channelList, editors.map((editor) => editor.element));
    }
    function removeChannel(editor) {
      editors.splice(editors.indexOf(editor), 1);
      renumber();
    }
    const originals = alert ? alert.channels || [] : [null];
    originals.forEach((channel, i) => editors.push(channelEditor(channel, alert ? i : -1, removeChannel, emailRelay)));
    renumber();
    const addChannel = h('button', {type: 'button', class: 'small', on: {click: () => {
      editors.push(channelEditor(null, -1, removeChannel, emailRelay));
      renumber();
      editors[editors.length - 1].element.querySelector('select').focus();
    }}}, 'Add channel');

    const error = h('p', {class: 'dialog-error', role: 'alert', hidden: true});
    const submit = h('button', {type: 'submit', class: 'primary'}, editing ? 'Save alert' : 'Attach alert');
    const cancel = h('button', {type: 'button', on: {click: closeEditor}}, 'Cancel');
    const form = h('form', {class: 'alert-form', 'aria-label': editing ? `Edit alert ${alert.name}` : 'Attach an alert', on: {submit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      let body;
      try {
        body = {
          view: view.value,
          kind: presence.checked ? 'presence' : absence.checked ? 'absence' : 'insight',
          threshold: Number(threshold.value),
          window: windowSelect.value,
          immediate: insight.checked || (presence.checked && immediate.checked),
          at_end: absence.checked || (presence.checked && atEnd.checked),
          timezone: timezone.value.trim(),
          channels: editors.map((editor, i) => editor.value(i)),
          muted_until: mutedUntil.value ? new Date(mutedUntil.value).toISOString() : '',
        };
        if (name.value.trim()) body.name = name.value.trim();
        if (!editing && !body.muted_until) delete body.muted_until;
      } catch (failure) {
        replace(error, failure.message);
        error.hidden = false;
        return;
      }
      submit.disabled = true;
      try {
        const saved = editing
          ? await api('PATCH', `/v1/alerts/${encodeURIComponent(alert.id)}`, {body})
          : await api('POST', '/v1/alerts', {body});
        closeEditor();
        await load();
        notice.say(`Alert “${saved.name}” ${editing ? 'saved' : `attached to view “${(viewOf(saved.view) || {}).name || saved.view}”`}.`);
      } catch (failure) {
        replace(error, describeError(failure));
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    }}},
    h('h2', {}, editing ? `Edit alert ${alert.name}` : 'Attach an alert to a view'),
    h('div', {class: 'form-grid'},
      field('View', view), field('Name', name, 'shown in notifications'),
      h('fieldset', {class: 'kind'}, h('legend', {}, 'Type'),
        h('label', {class: 'field check'}, presence, ' Presence: events arrived'),
        h('label', {class: 'field check'}, absence, ' Absence: too few arrived'),
        h('label', {class: 'field check'}, insight, ' Insight: Acta found unusual activity')),
      thresholdField,
      windowField,
      moments,
      field('Time zone', timezone, 'of the times in notifications'),
      field('Muted until', mutedUntil, 'empty: not muted; firings while muted are kept, nothing is sent')),
    h('datalist', {id: 'alert-time-zones'}, zones.map((zone) => h('option', {value: zone}))),
    h('h3', {}, 'Channels'),
    emailRelay ? null : h('p', {class: 'muted no-relay'}, NO_RELAY), channelList, h('div', {}, addChannel),
    error, h('div', {class: 'dialog-actions'}, cancel, submit));
    replace(editorBox, form);
    editorBox.hidden = false;
    (editing ? name : view).focus();
  }

  function closeEditor() {
    editorBox.hidden = true;
    replace(editorBox);
    if (params.get('attach')) ctx.navigate({view: params.get('view')}, {push: false});
  }

  // ----- list -----
  async function remove(alert) {
    let refusal = null;
    const confirmed = await openDialog({
      title: `Delete alert ${alert.name}?`,
      fields: [h('p', {}, 'Notifications not yet sent are cancelled; its history stays readable.')],
      submitLabel: 'Delete',
      danger: true,
      onSubmit: async () => {
        try {
          await api('DELETE', `/v1/alerts/${encodeURIComponent(alert.id)}`);
        } catch (error) {
          refusal = error;
        }
      },
    });
    if (confirmed || refusal) {
      if (historyOf && historyOf.id === alert.id) historyBox.hidden = true;
      await load();
    }
    if (refusal) notice.fail(`Deleting “${alert.name}”`, refusal);
    else if (confirmed) notice.say(`Alert “${alert.name}” deleted.`);
  }

  /** Sends a test notification and follows it until every channel has an outcome. */
  async function test(alert) {
    let firing;
    try {
      firing = (await api('POST', `/v1/alerts/${encodeURIComponent(alert.id)}/test`)).firing;
    } catch (error) {
      notice.fail(`Testing “${alert.name}”`, error);
      return;
    }
    notice.say(`Test of “${alert.name}”: sending…`);
    const deadline = Date.now() + TEST_FOLLOW_MS;
    let found = null;
    while (!disposed && Date.now() < deadline) {
      try {
        const history = await api('GET', `/v1/alerts/${encodeURIComponent(alert.id)}/history`, {params: {limit: 10}});
        found = (history.firings || []).find((f) => f.id === firing) || null;
      } catch (error) {
        notice.fail(`Reading the history of “${alert.name}”`, error);
        return;
      }
      if (found && found.deliveries.every((d) => d.state !== 'pending')) break;
      await sleep(500);
    }
    if (disposed) return;
    const outcomes = found ? found.deliveries.map((d) => `${channelText(d.channel)}: ${deliveryText(d)}`) : [];
    const failed = found && found.deliveries.some((d) => d.state === 'failed');
    notice.say(`Test of “${alert.name}”: ${outcomes.length ? outcomes.join(' · ') : 'still being sent; see its history'}`, failed ? 'error' : 'info');
    await showHistory(alert);
  }

  function row(alert) {
    const view = viewOf(alert.view);
    const muted = alert.muted_until && parseTime(alert.muted_until) > Date.now();
    return h('tr', {dataset: {alertId: alert.id}},
      h('th', {scope: 'row'}, alert.name),
      h('td', {}, view ? h('a', {href: ctx.link('views')}, view.name) : h('span', {class: 'muted'}, alert.view)),
      h('td', {}, conditionText(alert)),
      h('td', {class: 'channels-cell'}, (alert.channels || []).map((channel) => h('div', {}, channelText(channel)))),
      h('td', {}, alert.timezone),
      h('td', {}, muted ? h('span', {class: 'badge locked'}, `muted until ${when(alert.muted_until)}`) : h('span', {class: 'badge active'}, 'active')),
      h('td', {class: 'actions'},
        canWrite ? h('button', {type: 'button', class: 'small', 'aria-label': `Edit ${alert.name}`, on: {click: () => openEditor(alert)}}, 'Edit') : null,
        canWrite ? h('button', {type: 'button', class: 'small', 'aria-label': `Test ${alert.name}`, on: {click: () => test(alert)}}, 'Test') : null,
        h('button', {type: 'button', class: 'small', 'aria-label': `History of ${alert.name}`, on: {click: () => showHistory(alert)}}, 'History'),
        canWrite ? h('button', {type: 'button', class: 'small danger', 'aria-label': `Delete ${alert.name}`, on: {click: () => remove(alert)}}, 'Delete') : null));
  }

  function render() {
    const only = params.get('view');
    const shown = only ? alerts.filter((alert) => alert.view === only) : alerts;
    if (only) {
      replace(filterNote, `Alerts of view “${(viewOf(only) || {}).name || only}” · `, h('a', {href: ctx.link('alerts')}, 'all alerts'));
      filterNote.hidden = false;
    } else {
      filterNote.hidden = true;
    }
    replace(tbody, shown.length ? shown.map(row)
      : h('tr', {}, h('td', {colspan: 7, class: 'muted'}, canWrite ? 'No alerts. Attach one to a view.' : 'No alerts.')));
  }

  // ----- history -----
  function deliveryText(delivery) {
    if (delivery.state === 'delivered') return `delivered ${when(delivery.delivered_at)}${lastDetail(delivery) ? ` (${lastDetail(delivery)})` : ''}`;
    if (delivery.state === 'failed') return `failed after ${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}: ${delivery.last_error || ''}`;
    if (delivery.state === 'pending') return `pending, ${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}${delivery.last_error ? `, last: ${delivery.last_error}` : ''}`;
    return delivery.state;
  }

  function lastDetail(delivery) {
    const attempts = delivery.history || [];
    return attempts.length ? attempts[attempts.length - 1].detail : '';
  }

  function firingItem(firing) {
    const windowText = firing.window && firing.window.start ? `window ${when(firing.window.start)} – ${when(firing.window.end)}` : '';
    return h('li', {class: 'firing', dataset: {firingId: firing.id}},
      h('div', {class: 'firing-head'},
        h('span', {class: 'time'}, when(firing.fired_at)),
        h('span', {class: `badge reason-${firing.reason}`}, firing.reason),
        firing.muted ? h('span', {class: 'badge locked'}, 'muted') : null,
        h('span', {class: 'firing-summary'}, firing.summary),
        windowText ? h('span', {class: 'muted'}, windowText) : null),
      h('ul', {class: 'deliveries'}, (firing.deliveries || []).map((delivery) => h('li', {class: `delivery state-${delivery.state}`},
        h('span', {class: `badge delivery-${delivery.state}`}, delivery.state), ' ',
        h('span', {}, channelText(delivery.channel)), ' · ', h('span', {class: 'muted'}, deliveryText(delivery)),
        (delivery.history || []).length > 1
          ? h('details', {}, h('summary', {}, `${delivery.history.length} attempts`),
            h('ol', {}, delivery.history.map((attempt) => h('li', {}, `${when(attempt.at)} ${attempt.ok ? 'ok' : 'failed'}: ${attempt.detail}`))))
          : null))));
  }

  async function showHistory(alert) {
    historyOf = alert;
    let history;
    try {
      history = await api('GET', `/v1/alerts/${encodeURIComponent(alert.id)}/history`, {params: {limit: 50}});
    } catch (error) {
      notice.fail(`Reading the history of “${alert.name}”`, error);
      return;
    }
    const firings = history.firings || [];
    replace(historyBox,
      h('div', {class: 'history-head'}, h('h2', {}, `History of ${alert.name}`),
        h('button', {type: 'button', class: 'small', on: {click: () => showHistory(alert)}}, 'Refresh'),
        h('button', {type: 'button', class: 'small', on: {click: () => { historyBox.hidden = true; historyOf = null; }}}, 'Close')),
      firings.length
        ? h('ol', {class: 'firings'}, firings.map(firingItem))
        : h('p', {class: 'muted'}, 'It has not fired yet.'));
    historyBox.hidden = false;
  }

  // ----- loading -----
  async function load() {
    try {
      const [alertAnswer, viewAnswer] = await Promise.all([api('GET', '/v1/alerts'), api('GET', '/v1/views')]);
      alerts = alertAnswer.alerts || [];
      emailRelay = alertAnswer.email_relay !== false;
      views = viewAnswer.views || [];
    } catch (error) {
      notice.fail('Listing the alerts', error);
      return;
    }
    render();
  }

  function follow(next) {
    params = next;
    render();
    const attach = params.get('attach');
    if (attach && canWrite) openEditor(null, attach);
  }

  replace(root, h('section', {class: 'page alerts-page', 'aria-label': 'Alerts'},
    h('header', {class: 'page-head'}, h('h1', {}, 'Alerts'),
      h('p', {class: 'muted'}, 'An alert watches a view: it fires when enough events match (or too few), and notifies by email, webhook, Slack or PagerDuty.')),
    notice.element,
    canWrite ? h('div', {class: 'page-actions'}, h('button', {type: 'button', class: 'primary', on: {click: () => openEditor(null, params.get('view'))}}, 'Attach an alert')) : null,
    editorBox, filterNote,
    h('div', {class: 'table-box'}, h('table', {class: 'alerts'},
      h('thead', {}, h('tr', {}, ['Name', 'View', 'Condition', 'Channels', 'Time zone', 'State', 'Actions'].map((n) => h('th', {scope: 'col'}, n)))),
      tbody)),
    historyBox));
  load().then(() => follow(params));
  return {
    update: (next) => follow(next),
    unmount() {
      disposed = true;
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

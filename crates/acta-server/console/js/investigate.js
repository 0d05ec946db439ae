// The timelines (issue 22): a principal's (everything an initiator.id or initiator.name did, its actions
// grouped with failures first, first and last seen, addresses, agents, targets) and a resource's history
// (everything done to a target.id or target.name, oldest first). Opened from an event's initiator or target,
// or by typing an id here; `#/investigate?principal=<id>` or `?resource=<id>`, with an optional API range
// `from` (24h, 7d, 30d; the whole retention when absent). Each count links to the search of its query.

import {api} from './api.js';
import {h, replace, banner, parseTime, formatTime, formatCount, TIME_ZONE} from './dom.js';
import {breakable} from './eventview.js';

const RANGES = [
  {from: '', label: 'Whole retention'},
  {from: '24h', label: 'Last 24 hours'},
  {from: '7d', label: 'Last 7 days'},
  {from: '30d', label: 'Last 30 days'},
];
const PAGE = 100;

const time = (text) => {
  const ms = parseTime(text);
  return Number.isFinite(ms) ? formatTime(ms, {millis: false}) : '–';
};

export function mount(root, ctx) {
  const notice = banner();
  const kind = h('select', {'aria-label': 'Look up'},
    h('option', {value: 'principal'}, 'Principal (initiator)'), h('option', {value: 'resource'}, 'Resource (target)'));
  const id = h('input', {type: 'search', 'aria-label': 'Id or name', placeholder: 'an initiator or target id or name, exactly',
    required: true, autocomplete: 'off', spellcheck: 'false', class: 'investigate-id'});
  const range = h('select', {'aria-label': 'Range'}, RANGES.map((r) => h('option', {value: r.from}, r.label)));
  const form = h('form', {class: 'toolbar investigate-form', on: {submit: (e) => {
    e.preventDefault();
    const value = id.value.trim();
    if (!value) return;
    ctx.navigate({[kind.value]: value, from: range.value}, {push: true});
    show(stateOf(new URLSearchParams({[kind.value]: value, from: range.value})));
  }}}, kind, id, range, h('button', {type: 'submit', class: 'primary'}, 'Show'));
  const title = h('h1', {}, 'Investigate');
  const body = h('div', {class: 'investigate-body'});
  let turn = 0;

  /** The search page listing `query`'s events between two times of an answer (inclusive). */
  function searchLink(query, first, last, label) {
    const from = parseTime(first);
    const to = parseTime(last);
    if (!query || !Number.isFinite(from) || !Number.isFinite(to)) return label;
    // The search's `to` is exclusive, and its custom ranges are whole milliseconds.
    return h('a', {href: ctx.link('search', {q: query, range: 'custom', from, to: to + 1}), title: `Search: ${query}`}, label);
  }

  function stateOf(params) {
    const principal = params.get('principal');
    const resource = params.get('resource');
    const from = params.get('from') || '';
    if (principal) return {kind: 'principal', id: principal, from};
    if (resource) return {kind: 'resource', id: resource, from};
    return null;
  }

  async function show(state) {
    const mine = ++turn;
    notice.hide();
    replace(body);
    if (!state) {
      replace(title, 'Investigate');
      replace(body, h('p', {class: 'muted'}, 'Type a principal (initiator id or name) or a resource (target id or name), or open one from an event in the search.'));
      return;
    }
    kind.value = state.kind;
    id.value = state.id;
    range.value = RANGES.some((r) => r.from === state.from) ? state.from : '';
    replace(title, state.kind === 'principal' ? 'Principal ' : 'Resource ', h('span', {class: 'subject'}, breakable(state.id)));
    document.title = `${state.id} · Acta`;
    const params = {id: state.id, from: state.from || undefined};
    try {
      if (state.kind === 'principal') {
        const answer = await api('GET', '/v1/investigate/principal', {params});
        if (mine === turn) replace(body, principalView(answer));
      } else {
        await resourceView(params, mine);
      }
    } catch (error) {
      if (mine === turn) notice.fail(state.kind === 'principal' ? 'The timeline' : 'The history', error);
    }
  }

  /** A list of values and counts; a target opens its own history. */
  function values(label, list, resource = false) {
    const shown = (value) => (resource ? h('a', {href: ctx.link('investigate', {resource: value})}, breakable(value)) : breakable(value));
    return h('section', {class: 'investigate-values', 'aria-label': label}, h('h2', {}, label),
      list && list.length
        ? h('ul', {}, list.map((item) => h('li', {}, shown(item.value), h('span', {class: 'muted'}, ` ${formatCount(item.count)}`))))
        : h('p', {class: 'muted'}, 'none'));
  }

  function principalView(answer) {
    const summary = h('p', {class: 'investigate-summary'},
      searchLink(answer.query, answer.first_seen, answer.last_seen, `${formatCount(answer.total)} events`), ', ',
      answer.failures
        ? searchLink(answer.failures_query, answer.first_seen, answer.last_seen, h('span', {class: 'failures'}, `${formatCount(answer.failures)} failed`))
        : '0 failed',
      ` · first seen ${time(answer.first_seen)} · last seen ${time(answer.last_seen)} (${TIME_ZONE})`);
    if (!answer.total) return h('div', {}, summary, h('p', {class: 'muted'}, 'No events of this principal in the range.'));
    const rows = answer.actions.map((row) => h('tr', {class: row.failures ? 'has-failures' : ''},
      h('td', {class: 'service'}, row.service),
      h('td', {class: 'action'}, searchLink(row.query, row.first_seen, row.last_seen, row.action)),
      h('td', {class: 'count'}, formatCount(row.count)),
      h('td', {class: 'count'}, row.failures ? h('span', {class: 'badge outcome-failure'}, formatCount(row.failures)) : '0'),
      h('td', {}, time(row.first_seen)),
      h('td', {}, time(row.last_seen))));
    return h('div', {}, summary,
      h('div', {class: 'table-box'}, h('table', {class: 'actions', 'aria-label': 'Actions, failures first'},
        h('thead', {}, h('tr', {}, ['Service', 'Action', 'Events', 'Failed', `First seen (${TIME_ZONE})`, 'Last seen'].map((name) => h('th', {scope: 'col'}, name)))),
        h('tbody', {}, rows))),
      answer.other_actions ? h('p', {class: 'muted'}, `and ${formatCount(answer.other_actions)} events of other actions`) : null,
      h('div', {class: 'investigate-columns'},
        values('Source addresses', answer.addresses), values('Agents', answer.agents), values('Targets', answer.targets, true)));
  }

  async function resourceView(params, mine) {
    const tbody = h('tbody', {});
    const more = h('button', {type: 'button', class: 'more', hidden: true}, 'Load more');
    const summary = h('p', {class: 'investigate-summary'});
    let cursor = null;
    let first = null;
    async function page() {
      const answer = await api('GET', '/v1/investigate/resource', {params: {...params, limit: PAGE, cursor: cursor || undefined}});
      if (mine !== turn) return;
      if (!first) first = answer.events.length ? answer.events[0].eventTime : null;
      for (const row of answer.events) {
        const initiator = row.initiator || {};
        const who = typeof initiator.id === 'string' && initiator.id ? initiator.id : typeof initiator.name === 'string' ? initiator.name : '';
        const outcome = typeof row.outcome === 'string' ? row.outcome : '';
        const outcomeClass = ['success', 'failure', 'pending', 'unknown'].includes(outcome.toLowerCase()) ? outcome.toLowerCase() : 'other';
        tbody.append(h('tr', {},
          h('td', {class: 'time'}, time(row.eventTime)),
          h('td', {class: 'initiator'}, who
            ? h('a', {href: ctx.link('investigate', {principal: who}), class: 'principal-link'}, breakable(initiator.name || who))
            : ''),
          h('td', {class: 'action'}, row.action === null || row.action === undefined ? '' : String(row.action)),
          h('td', {class: 'outcome'}, h('span', {class: `badge outcome-${outcomeClass}`}, outcome)),
          h('td', {}, row.reasonCode === null || row.reasonCode === undefined ? '' : String(row.reasonCode))));
      }
      cursor = answer.next_cursor;
      more.hidden = !cursor;
      const shown = tbody.children.length;
      // Every event of the history is at or after the oldest one, and none is after now.
      replace(summary, searchLink(answer.query, first, new Date().toISOString(), `${formatCount(answer.total)} events`),
        shown < answer.total ? `, the first ${formatCount(shown)} shown, oldest first` : ', oldest first');
    }
    more.addEventListener('click', async () => {
      more.disabled = true;
      try {
        await page();
      } catch (error) {
        notice.fail('Loading more', error);
      } finally {
        more.disabled = false;
      }
    });
    await page();
    if (mine !== turn) return;
    replace(body, summary,
      h('div', {class: 'table-box'}, h('table', {class: 'events history', 'aria-label': 'History, oldest first'},
        h('thead', {}, h('tr', {}, [`Time (${TIME_ZONE})`, 'Initiator', 'Action', 'Outcome', 'Reason'].map((name) => h('th', {scope: 'col'}, name)))),
        tbody)),
      h('div', {class: 'list-end'}, more));
  }

  replace(root, h('section', {class: 'page investigate-page', 'aria-label': 'Investigate'},
    h('header', {class: 'page-head'}, title), form, notice.element, body));
  show(stateOf(ctx.params));
  return {update: (params) => show(stateOf(params))};
}

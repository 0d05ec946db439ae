// One event in the list: a summary row, and a detail row with every field (each value a filter button) and
// the full JSON. Everything from the event goes in as text (dom.js).

import {h, replace, parseTime, formatTime} from './dom.js';
import {filterClause} from './query.js';

const OUTCOMES = new Set(['success', 'failure', 'pending', 'unknown']);
export const COLUMNS = ['Time', 'Action', 'Outcome', 'Initiator', 'Target', 'Message'];

const str = (value) => (value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));

/**
 * Text that may wrap only after `@`, `/` or `:` (an e-mail address, a type URI, a CRN), never inside a word:
 * text nodes with <wbr> between them, so the text stays text.
 */
export function breakable(text) {
  const parts = String(text).split(/(?<=[@/:])/);
  return parts.flatMap((part, i) => (i ? [h('wbr', {}), part] : [part]));
}

/** Name, else id, of an initiator or target (either may be an object or, loosely, an id string). */
function who(value) {
  if (value && typeof value === 'object') return str(value.name || value.id || value.typeURI);
  return str(value);
}

/** The leaves of an event as [path, value] (array elements share their array's path, as queries see them). */
export function leaves(value, path = [], out = []) {
  if (Array.isArray(value)) {
    if (value.length === 0) out.push([path, value]);
    for (const item of value) leaves(item, path, out);
  } else if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) out.push([path, value]);
    for (const key of keys) leaves(value[key], [...path, key], out);
  } else {
    out.push([path, value]);
  }
  return out;
}

// The fields that name a principal or a resource, and the timeline page each opens.
const TIMELINES = {
  'initiator.id': ['principal', 'Timeline'], 'initiator.name': ['principal', 'Timeline'],
  'target.id': ['resource', 'History'], 'target.name': ['resource', 'History'],
};

/**
 * A link to the timeline of a principal (`kind` 'principal') or the history of a resource ('resource'), or
 * null without `link` or a value. The row under it must not open or close when the link is followed.
 */
function timelineLink(link, kind, value, label, className) {
  if (!link || typeof value !== 'string' || value === '') return null;
  const title = kind === 'principal' ? `Everything ${value} did` : `Everything done to ${value}`;
  return h('a', {href: link('investigate', {[kind]: value}), class: className, title,
    on: {click: (e) => e.stopPropagation(), keydown: (e) => e.stopPropagation()}}, label);
}

/** The small link of a row's initiator (`Timeline of <name>`) or target (`History of <name>`). */
function rowLink(link, kind, value, name) {
  const label = kind === 'principal' ? 'Timeline' : 'History';
  const anchor = timelineLink(link, kind, value, kind === 'principal' ? '⏱' : '☰', `row-link ${kind}-link`);
  if (anchor) anchor.setAttribute('aria-label', `${label} of ${name}`);
  return anchor;
}

function fieldRow(path, value, onFilter, link) {
  const shown = value !== null && typeof value === 'object' ? JSON.stringify(value) : value === null ? 'null' : String(value);
  const name = path.join('.');
  const include = filterClause(path, value, false);
  const exclude = filterClause(path, value, true);
  const scalar = value === null || typeof value !== 'object';
  const valueCell = include && scalar
    ? h('button', {type: 'button', class: 'value-filter', title: `Add ${include} to the query`,
      'aria-label': `Filter: ${include}`, on: {click: () => onFilter(include)}}, shown)
    : h('span', {class: 'value-text'}, shown);
  const excludeButton = include && exclude && scalar
    ? h('button', {type: 'button', class: 'value-exclude', title: `Add ${exclude} to the query`,
      'aria-label': `Exclude: ${include}`, on: {click: () => onFilter(exclude)}}, '≠')
    : null;
  const timeline = TIMELINES[name]
    ? timelineLink(link, TIMELINES[name][0], value, TIMELINES[name][1], 'small timeline-link') : null;
  return h('div', {class: 'field-row', role: 'row'},
    h('span', {class: 'field-name', role: 'rowheader'}, name),
    h('span', {class: 'field-value', role: 'cell'}, valueCell, excludeButton, timeline));
}

/**
 * For an event whose id names other events of the account too (keystonemiddleware's request and its outcome
 * share one id), a line linking to the search of them all; null otherwise.
 */
function sharedIdNote(event, link) {
  const acta = event._acta || {};
  const clause = acta.id_reused === true && typeof event.id === 'string' ? filterClause(['id'], event.id, false) : null;
  if (!clause || !link) return null;
  return h('p', {class: 'shared-id'}, 'Other events share this id (a request and its outcome): ',
    h('a', {href: link('search', {q: clause})}, 'show every event with this id'));
}

function details(event, onFilter, link) {
  const rows = leaves(event).map(([path, value]) => fieldRow(path, value, onFilter, link));
  const raw = h('pre', {class: 'raw-json'}, JSON.stringify(event, null, 2));
  const copy = h('button', {type: 'button', class: 'small', on: {click: async () => {
    try {
      await navigator.clipboard.writeText(JSON.stringify(event, null, 2));
      replace(copy, 'Copied');
    } catch {
      replace(copy, 'Copy failed: select the JSON');
    }
  }}}, 'Copy JSON');
  return h('div', {class: 'event-details'},
    sharedIdNote(event, link),
    h('div', {class: 'fields', role: 'table', 'aria-label': 'Fields (click a value to filter by it, ≠ to exclude it)'}, rows),
    h('div', {class: 'raw'}, h('div', {class: 'raw-head'}, h('span', {}, 'JSON'), copy), raw));
}

/** The id (else the name) of an initiator or target, as a timeline names it. */
function subjectOf(value) {
  if (!value || typeof value !== 'object') return '';
  for (const text of [value.id, value.name]) if (typeof text === 'string' && text !== '') return text;
  return '';
}

/**
 * The rows of one event. `onFilter(clause)` adds a clause to the query; `link(page, params)`, when given,
 * makes the initiator and target links to their timelines. The summary row expands on click, Enter or Space;
 * arrow keys move between rows.
 */
export function eventRows(event, {onFilter, fresh = false, link = null}) {
  const time = parseTime(event.eventTime);
  const outcome = str(event.outcome);
  const outcomeClass = OUTCOMES.has(outcome.toLowerCase()) ? outcome.toLowerCase() : 'other';
  const target = event.target && typeof event.target === 'object' ? event.target : {};
  const detailCell = h('td', {colspan: COLUMNS.length});
  const detail = h('tr', {class: 'detail', hidden: true}, detailCell);
  const row = h('tr', {
    class: fresh ? 'event fresh' : 'event', tabindex: 0, 'aria-expanded': 'false',
    dataset: {id: str(event._acta && event._acta.id)},
  },
  h('td', {class: 'time', title: `eventTime ${str(event.eventTime)}`}, Number.isFinite(time) ? formatTime(time) : str(event.eventTime)),
  h('td', {class: 'action'}, str(event.action)),
  h('td', {class: 'outcome'}, h('span', {class: `badge outcome-${outcomeClass}`}, outcome)),
  // The names stay text (a click on them opens the row, as anywhere in it); a small link beside each opens its
  // timeline.
  h('td', {class: 'initiator'}, breakable(who(event.initiator)),
    rowLink(link, 'principal', subjectOf(event.initiator), who(event.initiator))),
  h('td', {class: 'target'}, h('span', {}, breakable(who(event.target))),
    rowLink(link, 'resource', subjectOf(event.target), who(event.target)),
    target.typeURI ? h('span', {class: 'muted'}, ' ', breakable(str(target.typeURI))) : null),
  h('td', {class: 'message'}, str(event.message)));

  function toggle() {
    const open = row.getAttribute('aria-expanded') !== 'true';
    row.setAttribute('aria-expanded', String(open));
    if (open && !detailCell.firstChild) detailCell.append(details(event, onFilter, link));
    detail.hidden = !open;
  }
  row.addEventListener('click', (e) => {
    if (window.getSelection && String(window.getSelection()).length > 0) return; // selecting text, not opening
    e.preventDefault();
    toggle();
  });
  row.addEventListener('keydown', (e) => {
    if (e.target !== row) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      toggle();
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp' || e.key === 'j' || e.key === 'k') {
      e.preventDefault();
      const rows = [...row.closest('tbody').querySelectorAll('tr.event')];
      const next = rows[rows.indexOf(row) + (e.key === 'ArrowDown' || e.key === 'j' ? 1 : -1)];
      if (next) next.focus();
    }
  });
  return [row, detail];
}

// Field names for the search page: the ones every CADF event may carry (for autocomplete before any event is
// loaded), the ones of the events on the page (the field sidebar), and the field conditions written in a query
// (the zero-result hint), found by a small walk of the query text that follows the language's quoting
// (shared/QUERY.md). The walk only finds spans; the server's parser stays the one judge of what a query means.

import {leaves} from './eventview.js';
import {fieldName} from './query.js';

/** CADF fields as IBM Activity Tracker events fill them, then the fields Acta derives for every event. */
export const KNOWN_FIELDS = [
  'action', 'outcome', 'severity', 'message', 'eventTime', 'eventType', 'id', 'typeURI', 'logSourceCRN',
  'dataEvent', 'saveServiceCopy', 'correlationId',
  'initiator.id', 'initiator.name', 'initiator.typeURI', 'initiator.host.address', 'initiator.host.agent',
  'initiator.credential.type',
  'target.id', 'target.name', 'target.typeURI',
  'observer.id', 'observer.name', 'observer.typeURI',
  'reason.reasonCode', 'reason.reasonType', 'reason.reasonForFailure',
  'requestData', 'responseData',
];
export const DERIVED_FIELDS = ['_platform', 'level', '_account', '_instance', '_region', '_received'];

/** The query names of the fields of `events` with how many of them have each, most common first. */
export function fieldsOfEvents(events) {
  const counts = new Map();
  for (const event of events) {
    const names = new Set();
    for (const [path, value] of leaves(event)) {
      if (value === null || typeof value === 'object') continue;
      const name = fieldName(path);
      if (name !== null) names.add(name);
    }
    for (const name of names) counts.set(name, (counts.get(name) || 0) + 1);
  }
  return [...counts].sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).map(([name, count]) => ({name, count}));
}

/** The index just past the quoted string that starts at `i` (a backslash escapes the next character). */
function skipQuoted(q, i) {
  const quote = q[i];
  let j = i + 1;
  while (j < q.length && q[j] !== quote) j += q[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, q.length);
}

/** The index just past a condition's value starting at `k`: a group `(...)`, a list, a quoted phrase or a word. */
function valueEnd(q, k) {
  if (q[k] === '(') {
    let depth = 0;
    let j = k;
    while (j < q.length) {
      if (q[j] === '"' || q[j] === "'") {
        j = skipQuoted(q, j);
        continue;
      }
      if (q[j] === '(') depth += 1;
      if (q[j] === ')') {
        depth -= 1;
        if (depth === 0) return j + 1;
      }
      j += 1;
    }
    return j;
  }
  let j = k;
  while (j < q.length && !/\s/.test(q[j]) && q[j] !== ')' && q[j] !== '(') {
    j = q[j] === '"' || q[j] === "'" ? skipQuoted(q, j) : j + 1;
  }
  return j;
}

const BREAK = /[\s()]/;

/**
 * The field conditions of a query, in order: `{name, start, end}`, the span from a leading `-` or `!` to the end
 * of the value. `initiator.host.agent:"NotSet" (action user-apikey) -login` has one, `initiator.host.agent`.
 */
export function fieldConditions(q) {
  const found = [];
  let i = 0;
  while (i < q.length) {
    if (BREAK.test(q[i])) {
      i += 1;
      continue;
    }
    if (q[i] === '"' || q[i] === "'") {
      i = skipQuoted(q, i);
      continue;
    }
    const start = i;
    let j = i;
    while (j < q.length && (q[j] === '-' || q[j] === '!')) j += 1;
    const nameStart = j;
    while (j < q.length && !BREAK.test(q[j]) && q[j] !== ':' && q[j] !== '"' && q[j] !== "'") j += 1;
    if (q[j] === ':' && j > nameStart) {
      const end = valueEnd(q, j + 1);
      found.push({name: q.slice(nameStart, j), start, end});
      i = end;
    } else if (q[j] === '"' || q[j] === "'") {
      i = skipQuoted(q, j);
    } else {
      i = Math.max(j, i + 1);
    }
  }
  return found;
}

/** The query with the span of `condition` replaced by `clause`. */
export function replaceCondition(q, condition, clause) {
  return `${q.slice(0, condition.start)}${clause}${q.slice(condition.end)}`;
}

/** The query without any condition on field `name` (what the rest of the query asks), tidied of extra spaces. */
export function withoutField(q, name) {
  let out = q;
  for (const condition of fieldConditions(q).filter((c) => c.name === name).reverse()) {
    out = replaceCondition(out, condition, '');
  }
  return out.replace(/\s+/g, ' ').replace(/\(\s*\)/g, '').trim();
}

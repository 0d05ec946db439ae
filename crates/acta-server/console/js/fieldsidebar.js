// The search page's field sidebar, as in Kibana Discover: the fields of the events on the page, each opening to
// its top values over the whole search (query and range, from `GET /v1/events/terms`) with their counts; a
// value filters in (`field:==value`) or out (`-field:==value`). And the hint shown when a query with field
// conditions matches nothing: the values those fields do have, each replacing the condition when clicked.

import {h, replace, formatCount, describeError} from './dom.js';
import {filterClause, quoteValue} from './query.js';
import {fieldsOfEvents, fieldConditions, replaceCondition, withoutField} from './fields.js';

const TOP = 5;
const pathOf = (name) => name.split('.');
const events = (n) => `${formatCount(n)} ${n === 1 ? 'event' : 'events'}`;

/**
 * `terms(field, q, top)` asks the API for a field's top values over the page's range; `onFilter(clause)` adds a
 * clause to the query.
 */
export function fieldSidebar({terms, onFilter}) {
  const search = h('input', {type: 'search', class: 'field-search', placeholder: 'Search field names', autocomplete: 'off',
    'aria-label': 'Search field names', on: {input: () => render()}});
  const list = h('ul', {class: 'field-list'});
  const note = h('p', {class: 'muted field-note'});
  const element = h('aside', {class: 'field-sidebar', 'aria-label': 'Fields'}, h('h2', {}, 'Fields'), search, note, list);
  let fields = [];
  let shownEvents = 0;
  let query = '';
  let generation = 0;
  const open = new Set();

  function valueItem(name, value) {
    const include = filterClause(pathOf(name), value.value, false);
    const exclude = filterClause(pathOf(name), value.value, true);
    return h('li', {class: 'field-value-item'},
      h('span', {class: 'field-value-text', title: value.value}, value.value),
      h('span', {class: 'field-value-count'}, formatCount(value.count)),
      include ? h('button', {type: 'button', class: 'small icon', title: `Add ${include} to the query`,
        'aria-label': `Filter in ${name}: ${value.value}`, on: {click: () => onFilter(include)}}, '+') : null,
      exclude ? h('button', {type: 'button', class: 'small icon', title: `Add ${exclude} to the query`,
        'aria-label': `Filter out ${name}: ${value.value}`, on: {click: () => onFilter(exclude)}}, '−') : null);
  }

  async function loadValues(name, box) {
    const gen = generation;
    replace(box, h('p', {class: 'muted'}, 'Counting…'));
    try {
      const answer = await terms(name, query, TOP);
      if (gen !== generation) return;
      const values = answer.values || [];
      const counted = values.reduce((sum, v) => sum + v.count, 0) + (answer.other || 0);
      replace(box,
        values.length
          ? h('ul', {class: 'field-values', 'aria-label': `Top values of ${name}`}, values.map((value) => valueItem(name, value)))
          : h('p', {class: 'muted'}, 'No values in this search.'),
        h('p', {class: 'muted field-summary'},
          `Top ${values.length} of ${formatCount(answer.distinct ?? values.length)} values in ${events(counted)}`,
          answer.missing ? `; ${formatCount(answer.missing)} without it` : ''));
    } catch (error) {
      // A newer search aborted the question; its own answer follows.
      if (gen === generation && error.name !== 'AbortError') replace(box, h('p', {class: 'inline-error'}, describeError(error)));
    }
  }

  function fieldItem({name, count}) {
    const box = h('div', {class: 'field-detail', hidden: !open.has(name)});
    const toggle = h('button', {type: 'button', class: 'field-toggle', 'aria-expanded': String(open.has(name)),
      title: `${name}: in ${count} of the ${events(shownEvents)} on the page`, on: {click: () => {
        const opening = !open.has(name);
        if (opening) open.add(name);
        else open.delete(name);
        toggle.setAttribute('aria-expanded', String(opening));
        box.hidden = !opening;
        if (opening) loadValues(name, box);
      }}}, h('span', {class: 'field-toggle-name'}, name), h('span', {class: 'muted'}, formatCount(count)));
    if (open.has(name)) loadValues(name, box);
    return h('li', {class: 'field-item', dataset: {field: name}}, toggle, box);
  }

  function render() {
    const wanted = search.value.trim().toLowerCase();
    const shown = fields.filter((field) => field.name.toLowerCase().includes(wanted));
    replace(note, shownEvents ? `${fields.length} fields in the ${events(shownEvents)} on the page` : 'No events: no fields to show.');
    replace(list, shown.map(fieldItem));
  }

  return {
    element,
    /** Shows the fields of `loaded` (the events on the page) for the search `q`; open fields ask again. */
    show(loaded, q) {
      generation += 1;
      query = q;
      shownEvents = loaded.length;
      fields = fieldsOfEvents(loaded);
      render();
    },
    names: () => fields.map((field) => field.name),
  };
}

/**
 * The zero-result hint: for each field named in `q`, its top values where the rest of the query matches (or, when
 * that cannot be asked, in the whole range). `onReplace(query)` runs the query with one condition replaced.
 */
export async function zeroResultHint(q, {terms, onReplace, rangeLabel, isCurrent}) {
  const conditions = fieldConditions(q);
  const names = [...new Set(conditions.map((c) => c.name))];
  if (!names.length) return null;
  const parts = [];
  for (const name of names) {
    let rest = withoutField(q, name);
    let answer;
    try {
      answer = await terms(name, rest, TOP);
    } catch (error) {
      if (error.name === 'AbortError' || !isCurrent()) return null;
      // The rest alone may not parse (a dangling OR): ask about the whole range instead.
      rest = '';
      try {
        answer = await terms(name, '', TOP);
      } catch (failure) {
        if (!isCurrent()) return null;
        parts.push(h('p', {class: 'inline-error'}, `${name}: ${describeError(failure)}`));
        continue;
      }
    }
    if (!isCurrent()) return null;
    const first = conditions.find((c) => c.name === name);
    // The server's name of the field (`target.typeURI_str` is `target.typeURI`), which a clause can use.
    const path = pathOf(answer.field || name);
    const where = rest ? `in events matching ${rest}` : 'in any event';
    const values = answer.values || [];
    parts.push(h('p', {class: 'zero-hint-field', dataset: {field: name}},
      h('code', {}, name),
      values.length ? ' has: ' : ` has no value ${where} in ${rangeLabel}.`,
      values.map((value, i) => [i ? ', ' : '',
        h('button', {type: 'button', class: 'link-button', title: `Search ${name}:==${quoteValue(value.value)} instead`,
          on: {click: () => onReplace(replaceCondition(q, first, filterClause(path, value.value, false) || `${name}:==${quoteValue(value.value)}`))}},
        `${value.value} (${formatCount(value.count)})`)]),
      values.length ? h('span', {class: 'muted'}, ` — ${where}, ${rangeLabel}`) : null));
  }
  return h('div', {class: 'zero-hint', role: 'status'},
    h('p', {class: 'zero-hint-head'}, 'Nothing matches. The fields of your query have these values:'), parts);
}

// Categories group views and boards in their lists. A category is just a name on the object: typing a new one
// creates it, and it disappears with its last member.

import {h} from './dom.js';

let datalists = 0;

/** `[[category, items]]`: named categories in alphabetical order, then the items without one (category null). */
export function groupByCategory(items) {
  const groups = new Map();
  for (const item of items) {
    const name = item.category || null;
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(item);
  }
  const byName = (a, b) => a.name.localeCompare(b.name);
  return [...groups.entries()]
    .sort(([a], [b]) => (a === null) - (b === null) || String(a).localeCompare(String(b)))
    .map(([name, members]) => [name, members.sort(byName)]);
}

/** A text input offering the existing categories (a new name makes a new category). */
export function categoryInput(categories, value = '') {
  datalists += 1;
  const id = `categories-${datalists}`;
  const input = h('input', {value: value || '', maxlength: 200, autocomplete: 'off', list: id, placeholder: 'none'});
  const list = h('datalist', {id}, [...new Set(categories)].map((name) => h('option', {value: name})));
  return {input, list};
}

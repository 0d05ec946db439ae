// Autocomplete in the search bar (the WAI-ARIA combobox with a listbox): field names where a word is being typed,
// and after `field:` the values that field has in the page's range (from `GET /v1/events/terms`). Arrows move,
// Enter or Tab accepts, Escape closes; nothing is chosen until an arrow key chooses it, so Enter alone still
// searches.

import {h, replace, formatCount} from './dom.js';
import {quoteValue} from './query.js';
import {KNOWN_FIELDS, DERIVED_FIELDS} from './fields.js';

const MAX_OPTIONS = 10;
const VALUES_TOP = 50;
const OPERATOR = /^(===|==|=|>=|<=|>|<)?/;
let listboxes = 0;

/** The word the caret is in: its start, and the text from there to the caret (after any `-` or `!`). */
export function wordAt(text, caret) {
  let start = 0;
  let quoted = false;
  // Spaces inside quotes belong to the word (`agent:"IBM Cl`).
  for (let i = 0; i < caret; i += 1) {
    if (text[i] === '\\' && quoted) i += 1;
    else if (text[i] === '"') quoted = !quoted;
    else if (!quoted && /[\s()]/.test(text[i])) start = i + 1;
  }
  while (start < caret && (text[start] === '-' || text[start] === '!')) start += 1;
  return {start, word: text.slice(start, caret)};
}

/**
 * Attaches autocomplete to the search input. `fieldNames()` gives the fields of the events on the page;
 * `values(field)` resolves to the field's terms answer; `onAccept()` runs after an option went in.
 */
export function attachAutocomplete(input, {fieldNames, values}) {
  listboxes += 1;
  const id = `query-suggestions-${listboxes}`;
  const listbox = h('ul', {id, class: 'suggestions', role: 'listbox', 'aria-label': 'Suggestions', hidden: true});
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', id);
  let options = []; // {label, detail, insert: {start, end, text}, then}
  let active = -1;
  let asked = 0;
  const cache = new Map(); // field -> Promise of its terms answer, until the range changes

  function close() {
    asked += 1; // a suggestion still being fetched must not open the list again
    listbox.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    options = [];
    active = -1;
  }

  function render() {
    if (!options.length) {
      close();
      return;
    }
    replace(listbox, options.map((option, i) => h('li', {
      id: `${id}-${i}`, role: 'option', class: 'suggestion', 'aria-selected': String(i === active),
      on: {
        // mousedown, not click: the input keeps its focus, so the list is still there when the choice lands.
        mousedown: (event) => {
          event.preventDefault();
          accept(i);
        },
      },
    }, h('span', {class: 'suggestion-label'}, option.label), option.detail ? h('span', {class: 'muted'}, option.detail) : null)));
    listbox.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    if (active >= 0) input.setAttribute('aria-activedescendant', `${id}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function accept(i) {
    const option = options[i];
    if (!option) return;
    const {start, end, text} = option.insert;
    input.value = `${input.value.slice(0, start)}${text}${input.value.slice(end)}`;
    const caret = start + text.length;
    input.setSelectionRange(caret, caret);
    close();
    // After a field name, its values.
    if (option.then) suggest();
  }

  async function suggest() {
    const caret = input.selectionStart ?? input.value.length;
    if (input.selectionEnd !== caret) {
      close();
      return;
    }
    const {start, word} = wordAt(input.value, caret);
    const turn = ++asked;
    const colon = word.indexOf(':');
    if (colon < 0) {
      if (!word || word.startsWith('"')) {
        close();
        return;
      }
      const lower = word.toLowerCase();
      const names = [...new Set([...fieldNames(), ...KNOWN_FIELDS, ...DERIVED_FIELDS])];
      options = names.filter((name) => name.toLowerCase().startsWith(lower) && name !== word)
        .sort((a, b) => a.localeCompare(b)).slice(0, MAX_OPTIONS)
        .map((name) => ({label: `${name}:`, detail: 'field', insert: {start, end: caret, text: `${name}:`}, then: true}));
      active = -1;
      render();
      return;
    }
    const field = word.slice(0, colon);
    const rest = word.slice(colon + 1);
    const operator = OPERATOR.exec(rest)[0];
    const typed = rest.slice(operator.length).replace(/^"/, '').replace(/"$/, '').toLowerCase();
    // Numeric comparisons and lists are not completed with values.
    if (!field || /^[<>]/.test(operator) || rest.slice(operator.length).startsWith('[') || rest.slice(operator.length).startsWith('(')) {
      close();
      return;
    }
    if (!cache.has(field)) cache.set(field, values(field).catch(() => null));
    const answer = await cache.get(field);
    if (turn !== asked) return;
    const valueStart = start + colon + 1 + operator.length;
    options = ((answer && answer.values) || [])
      // A value typed in full needs no suggestion (and a list left open would cover the page).
      .filter((value) => value.value.toLowerCase().includes(typed) && value.value.toLowerCase() !== typed)
      .slice(0, MAX_OPTIONS)
      .map((value) => ({label: value.value, detail: formatCount(value.count),
        insert: {start: valueStart, end: caret, text: quoteValue(value.value)}}));
    active = -1;
    render();
  }

  input.addEventListener('input', () => suggest());
  input.addEventListener('blur', () => close());
  input.addEventListener('keydown', (event) => {
    if (listbox.hidden) {
      if (event.key === 'ArrowDown' && event.altKey) suggest();
      return;
    }
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      active = (active + step + options.length + 1) % (options.length + 1);
      if (active === options.length) active = -1;
      render();
    } else if (event.key === 'Enter' && active >= 0) {
      event.preventDefault();
      accept(active);
    } else if (event.key === 'Tab' && !event.shiftKey) {
      event.preventDefault();
      accept(Math.max(active, 0));
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });

  return {
    element: listbox,
    close,
    /** Forgets the values asked for: the range changed. */
    reset: () => cache.clear(),
  };
}

// Building the page. Event fields are attacker-controlled text (anyone who can send an event chooses them), so
// this module is the only place that creates elements, and it only ever puts data in as text nodes or as
// attribute values. There is no innerHTML anywhere in the console, and `h` refuses `on...` attributes and
// `innerHTML` so that no caller can slip one in by accident.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(element, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [type, handler] of Object.entries(value)) element.addEventListener(type, handler);
    } else if (name === 'text') {
      element.textContent = String(value);
    } else if (name === 'dataset') {
      for (const [key, data] of Object.entries(value)) element.dataset[key] = String(data);
    } else if (/^on/i.test(name) || name === 'innerHTML' || name === 'outerHTML' || name === 'srcdoc') {
      throw new Error(`refusing to set ${name}: handlers go through 'on', content through text`);
    } else if (name === 'value' && 'value' in element) {
      // An input's default value too, so that form.reset() returns to it.
      if (element instanceof HTMLInputElement) element.defaultValue = String(value);
      element.value = String(value);
    } else if (name === 'checked' || name === 'selected') {
      element[name] = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element: `h('td', {class: 'x'}, 'text', otherNode)`. Strings become text nodes, never markup. */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, with the same rules. */
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

/** Replaces an element's children. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** The browser's time zone, shown next to every time. */
export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';

/**
 * Milliseconds since the epoch of an RFC 3339 time as CADF events write it (`Z`, `+00:00` or `+0000`, 0-9
 * fraction digits), or NaN. Date.parse alone is not relied on: engines disagree on `+0000` and nanoseconds.
 */
export function parseTime(text) {
  if (typeof text !== 'string') return NaN;
  const match = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!match) return NaN;
  const [, date, clock, fraction = '', zone = 'Z'] = match;
  const millis = (fraction + '000').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const seconds = clock.length === 5 ? `${clock}:00` : clock;
  return Date.parse(`${date}T${seconds}.${millis}${offset}`);
}

/** `2026-11-21 10:03:12.123` in the browser's time zone. */
export function formatTime(ms, {millis = true} = {}) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** The value for an `<input type="datetime-local">`. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `1,234`. */
export function formatCount(n) {
  return Number(n).toLocaleString('en-US');
}

/** Whether a key event comes from typing in a field (where single-letter shortcuts must not fire). */
export function isTyping(event) {
  const target = event.target;
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

/** An error as a person should read it: the API's own words with the status (`409 Conflict: ...`). */
export function describeError(error) {
  if (error && typeof error.describe === 'function') return error.describe();
  return String((error && error.message) || error);
}

/**
 * A page's message line: `say(content)` for news, `fail(what, error)` for a refusal, worded by the server
 * (an error is announced at once, news politely).
 */
export function banner() {
  const element = h('div', {class: 'banner', role: 'status', hidden: true});
  function say(content, kind = 'info') {
    element.className = `banner ${kind}`;
    element.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    replace(element, content);
    element.hidden = false;
  }
  return {
    element,
    say,
    fail: (what, error) => say(`${what} failed: ${describeError(error)}`, 'error'),
    hide: () => { element.hidden = true; },
  };
}

import {parseTime, formatTime} from './dom.js';

// The time picker's ranges. Presets are sent as the API's relative forms (`24h`, `live`), so the server's
// clock decides what "the last 24 hours" is (a browser whose clock is off would otherwise hide new events);
// custom ranges, and zooms into a histogram bar, are absolute instants.

export const PRESETS = [
  {id: 'live', label: 'Live', title: 'The last 60 minutes, with new events as they arrive', ms: 3600e3},
  {id: '1h', label: '1h', title: 'The last hour', ms: 3600e3},
  {id: '24h', label: '24h', title: 'The last 24 hours', ms: 24 * 3600e3},
  {id: '7d', label: '7d', title: 'The last 7 days', ms: 7 * 24 * 3600e3},
];

/**
 * The API parameters and the span in milliseconds of a range: `{range: '24h'}` or
 * `{range: 'custom', from: ms, to: ms}`.
 */
export function resolveRange(state, now = Date.now()) {
  const preset = PRESETS.find((p) => p.id === state.range);
  if (preset) {
    return {params: {from: preset.id}, fromMs: now - preset.ms, toMs: now, label: preset.title.toLowerCase()};
  }
  const fromMs = Number(state.from);
  const toMs = Number(state.to);
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) {
    return resolveRange({range: '24h'}, now);
  }
  return {
    params: {from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString()},
    fromMs,
    toMs,
    label: 'the chosen range',
  };
}

// Saved searches (views), board graphs and drill-downs write ranges as the API does: a relative `from` (`24h`,
// `live`, `30d`, `now-2h`) or RFC 3339 instants. These turn one into the search page's state and back.

const DURATION = /^(?:now-)?(\d+)([smhdw])$/;
const UNIT_MS = {s: 1e3, m: 60e3, h: 3600e3, d: 24 * 3600e3, w: 7 * 24 * 3600e3};

function instantMs(text, now) {
  const spec = String(text || '').trim();
  if (spec === '' || spec === 'now') return now;
  if (spec === 'live') return now - 3600e3;
  const relative = DURATION.exec(spec);
  if (relative) return now - Number(relative[1]) * UNIT_MS[relative[2]];
  return parseTime(spec);
}

/**
 * The search page's parameters for an API range: a preset stays relative (`{range: '24h'}`); anything else
 * becomes the absolute range it means now (`{range: 'custom', from: ms, to: ms}`).
 */
export function searchRangeOf(from, to, now = Date.now()) {
  const spec = String(from || '').trim();
  if (!to && PRESETS.some((preset) => preset.id === spec)) return {range: spec};
  if (!spec && !to) return {range: '24h'};
  const fromMs = instantMs(spec, now);
  const toMs = to ? instantMs(to, now) : now;
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) return {range: '24h'};
  return {range: 'custom', from: fromMs, to: toMs};
}

/** The API's `from`/`to` of the search page's state: presets stay relative, a custom range is two instants. */
export function apiRangeOf(state) {
  if (PRESETS.some((preset) => preset.id === state.range)) return {from: state.range, to: ''};
  const {params} = resolveRange(state);
  return {from: params.from, to: params.to || ''};
}

/** `last 24 hours`, `2026-11-21 10:00 – 11:00`: an API range for people. */
export function rangeText(from, to) {
  const spec = String(from || '').trim();
  const preset = PRESETS.find((p) => p.id === spec);
  if (!to && preset) return preset.title.replace(/^The l/, 'L');
  const relative = DURATION.exec(spec);
  if (!to && relative) return `Last ${relative[1]}${relative[2]}`;
  if (!spec && !to) return 'No range saved (searches the last 24 hours)';
  const show = (text) => {
    const ms = parseTime(text);
    return Number.isFinite(ms) ? formatTime(ms, {millis: false}).slice(0, 16) : text;
  };
  return `${spec ? show(spec) : '…'} – ${to ? show(to) : 'now'}`;
}

// A relative range reopened later is the same range over a later span; allow for the seconds a page takes.
const SAME_SPAN_MS = 60e3;

/**
 * Whether the search page's range is still the saved range `from`/`to` (a view's): a preset must be the same
 * preset; a relative range (`30d`) the same length; two instants the same instants (to the second).
 */
export function sameRange(from, to, state, now = Date.now()) {
  const saved = searchRangeOf(from, to, now);
  if (saved.range !== 'custom') return state.range === saved.range;
  if (state.range !== 'custom') return false;
  const relative = [from, to].some((spec) => spec && (DURATION.test(String(spec).trim()) || /^(now|live)$/.test(String(spec).trim())));
  if (relative || !to) return Math.abs((state.to - state.from) - (saved.to - saved.from)) < SAME_SPAN_MS;
  return Math.abs(state.from - saved.from) < 1000 && Math.abs(state.to - saved.to) < 1000;
}

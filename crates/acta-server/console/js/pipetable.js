// The answer of a query with pipes (`| stats count by action`): a table, and for `timechart` a chart above it.
// Whether a query has pipes is the server's to say (GET /v1/events/query answers `columns` for one, events for a
// plain query), so this module never reads query text.

import {h, replace, formatTime, formatCount, parseTime} from './dom.js';
import {drawHistogram} from './histogram.js';

/** Whether an answer of GET /v1/events/query is a table (the query had pipes) rather than events. */
export function isTable(answer) {
  return Boolean(answer) && Array.isArray(answer.columns) && Array.isArray(answer.rows);
}

function cellText(value, type) {
  if (value === null || value === undefined) return null;
  if (type === 'time') return formatTime(parseTime(value), {millis: false});
  if (typeof value === 'number') return Number.isInteger(value) ? formatCount(value) : value.toLocaleString('en-US', {maximumFractionDigits: 6});
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'object' && item !== null ? JSON.stringify(item) : String(item))).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The table: one header per column, numbers right-aligned, a missing value as a muted dash. */
export function pipeTable(answer) {
  const columns = answer.columns;
  return h('table', {class: 'pipe-table'},
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', {scope: 'col', class: column.type}, column.name)))),
    h('tbody', {}, answer.rows.map((row) => h('tr', {}, columns.map((column, i) => {
      const text = cellText(row[i], column.type);
      return h('td', {class: column.type}, text === null ? h('span', {class: 'muted', title: 'no value'}, '—') : text);
    })))));
}

/**
 * The buckets of a `timechart` answer for `drawHistogram`, or null when the answer is not one. Its columns are
 * `_time`, then the `by` field when there is one, then `count`; a bucket without events has no row.
 */
export function timechartBuckets(answer) {
  const columns = answer.columns.map((column) => column.name);
  if (columns[0] !== '_time' || columns[columns.length - 1] !== 'count') return null;
  const split = columns.length === 3;
  const buckets = new Map();
  for (const row of answer.rows) {
    const start = parseTime(row[0]);
    if (!Number.isFinite(start)) continue;
    const count = Number(row[row.length - 1]) || 0;
    const bucket = buckets.get(start) || {start, count: 0, by: split ? {} : undefined};
    bucket.count += count;
    // Events without the field count in the bar but in no value: drawn uncoloured, as the histogram does.
    if (split && row[1] !== null) bucket.by[cellText(row[1], 'string')] = count;
    buckets.set(start, bucket);
  }
  const sorted = [...buckets.values()].sort((a, b) => a.start - b.start);
  return sorted;
}

/** The bucket width: the answer's `span` when the server gives it, else the closest two buckets' distance. */
function spanOf(answer, buckets, fallback) {
  if (Number.isFinite(answer.span_seconds) && answer.span_seconds > 0) return answer.span_seconds * 1000;
  let step = Infinity;
  for (let i = 1; i < buckets.length; i += 1) step = Math.min(step, buckets[i].start - buckets[i - 1].start);
  return Number.isFinite(step) ? step : fallback;
}

/** Draws a pipe answer into `container`: the chart of a timechart, the table, and whether rows were cut. */
export function drawPipeAnswer(container, answer, {fromMs, toMs, onSelect}) {
  const parts = [];
  const buckets = timechartBuckets(answer);
  if (buckets && buckets.length) {
    const chart = h('div', {class: 'histogram pipe-chart', 'aria-label': 'The timechart'});
    parts.push(h('div', {class: 'chart-box'}, chart));
    const interval = spanOf(answer, buckets, Math.max(toMs - fromMs, 1));
    const first = buckets[0].start;
    const last = buckets[buckets.length - 1].start + interval;
    // Drawn once laid out, so the chart takes the width it is given.
    requestAnimationFrame(() => drawHistogram(chart, {buckets, interval, fromMs: Math.min(fromMs, first), toMs: Math.max(toMs, last), onSelect, label: 'events'}));
  }
  if (answer.truncated) {
    parts.push(h('p', {class: 'banner warning', role: 'status'}, `Showing the first ${formatCount(answer.rows.length)} rows: the answer was cut at its row limit.`));
  }
  parts.push(answer.rows.length
    ? h('div', {class: 'table-box'}, pipeTable(answer))
    : h('p', {class: 'end-note muted'}, 'No rows: nothing matched in this range.'));
  replace(container, ...parts);
}

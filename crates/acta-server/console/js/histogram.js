// Counts over time as an SVG bar chart, drawn here (no chart library, no build step). Bars can be stacked by
// the values of a field (`by`), with one colour per value and a legend, so boards can use the same chart.
// Every bar with events is a button: click or Enter selects its time span.

import {s, h, replace, formatTime, formatCount} from './dom.js';

const PALETTE = ['#2f6db5', '#d9822b', '#3f9c5a', '#c0392b', '#8e5bb5', '#2a9d9f', '#b5892f', '#d35d9c', '#6b7b8c', '#5a8f29'];
const OTHER_COLOUR = '#a7b1bc';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NICE_INTERVALS = [SECOND, 5 * SECOND, 10 * SECOND, 30 * SECOND, MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE,
  30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY];

/** The smallest round interval that splits a span into at most `maxBuckets` buckets. */
export function niceInterval(spanMs, maxBuckets = 72) {
  return NICE_INTERVALS.find((interval) => spanMs / interval <= maxBuckets) || Math.ceil(spanMs / maxBuckets);
}

/** Milliseconds of an interval the API may write as `5m`, `1h`, `30s`, `1d` or a number of seconds. */
export function intervalMs(interval) {
  if (typeof interval === 'number' && interval > 0) return interval * SECOND;
  const match = /^(\d+)\s*(ms|s|m|h|d|w)$/.exec(String(interval || '').trim());
  if (!match) return null;
  const unit = {ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY}[match[2]];
  return Number(match[1]) * unit;
}

/** Buckets counted from events in hand (used when the server has no histogram endpoint). */
export function bucketsFromEvents(times, fromMs, toMs) {
  const interval = niceInterval(Math.max(toMs - fromMs, SECOND));
  const first = Math.floor(fromMs / interval) * interval;
  const buckets = [];
  for (let start = first; start < toMs; start += interval) buckets.push({start, count: 0});
  for (const time of times) {
    const index = Math.floor((time - first) / interval);
    if (index >= 0 && index < buckets.length) buckets[index].count += 1;
  }
  return {interval, buckets};
}

/** Tick labels precise enough that ticks `stepMs` apart differ: seconds for a drill-down into one minute. */
export function tickFormat(spanMs, stepMs = spanMs) {
  if (stepMs < MINUTE) return (ms) => formatTime(ms, {millis: false}).slice(11, 19);
  if (spanMs <= 12 * HOUR) return (ms) => formatTime(ms, {millis: false}).slice(11, 16);
  return (ms) => formatTime(ms, {millis: false}).slice(5, 16);
}

/**
 * Draws into `container`.
 * - buckets: [{start (ms), count, by?: {value: count}}], interval: ms per bucket
 * - fromMs, toMs: the range shown; the axis widens to whole buckets, and a bucket the range cuts is drawn whole,
 *   lighter, with a dashed line where the range ends
 * - onSelect(startMs, endMs, bucket): called when a bar is chosen
 * - label: what the bars count, for screen readers
 * - otherKey: the breakdown's key for the values beyond its top ones (the API's `other_key`), drawn grey
 * Returns `{colourOf(value)}`: a value's colour in this chart (null when it has none).
 */
export function drawHistogram(container, {buckets, interval, fromMs: rangeFrom, toMs: rangeTo, onSelect, label = 'events', otherKey = 'other'}) {
  const width = Math.max(container.clientWidth || 600, 240);
  const height = 120;
  const margin = {left: 44, right: 8, top: 8, bottom: 22};
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  // The axis covers whole buckets: a bucket the range cuts (the last one, still filling up to now) is drawn at its
  // true width and marked, not squeezed into a sliver that reads as "almost nothing happened".
  const inRange = buckets.filter((bucket) => bucket.start < rangeTo && bucket.start + interval > rangeFrom);
  const fromMs = Math.min(rangeFrom, ...inRange.map((bucket) => bucket.start));
  const toMs = Math.max(rangeTo, ...inRange.map((bucket) => bucket.start + interval));
  const span = Math.max(toMs - fromMs, 1);
  const x = (ms) => margin.left + ((ms - fromMs) / span) * plotWidth;
  const max = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const y = (count) => (count / max) * plotHeight;

  // The values of the breakdown, biggest first, each with its colour.
  const totals = new Map();
  for (const bucket of buckets) {
    for (const [value, count] of Object.entries(bucket.by || {})) totals.set(value, (totals.get(value) || 0) + count);
  }
  // A value with no events in the range (the API lists "other" even when nothing is beyond the top) gets no
  // legend entry; the rest keep their colour in every bar.
  const values = [...totals.keys()].filter((value) => totals.get(value) > 0)
    .sort((a, b) => (a === otherKey) - (b === otherKey) || totals.get(b) - totals.get(a));
  const colourOf = (value) => (value === otherKey ? OTHER_COLOUR : PALETTE[values.indexOf(value) % PALETTE.length]);

  const svg = s('svg', {
    class: 'histogram-svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group',
    'aria-label': `Histogram of ${label} over time`,
  });
  // Axis: the maximum and zero on the left, times along the bottom.
  svg.append(
    s('line', {x1: margin.left, x2: width - margin.right, y1: margin.top + plotHeight, y2: margin.top + plotHeight, class: 'axis'}),
    s('text', {x: margin.left - 6, y: margin.top + 9, class: 'tick', 'text-anchor': 'end'}, formatCount(max)),
    s('text', {x: margin.left - 6, y: margin.top + plotHeight, class: 'tick', 'text-anchor': 'end'}, '0'),
  );
  const ticks = Math.max(2, Math.min(8, Math.floor(plotWidth / 110)));
  const format = tickFormat(span, span / ticks);
  let previous = null;
  for (let i = 0; i <= ticks; i += 1) {
    const ms = fromMs + (span * i) / ticks;
    const text = format(ms);
    // A label equal to the one before says nothing new.
    if (text === previous) continue;
    previous = text;
    const anchor = i === 0 ? 'start' : i === ticks ? 'end' : 'middle';
    svg.append(s('text', {x: x(ms), y: height - 6, class: 'tick', 'text-anchor': anchor}, text));
  }
  if (toMs > rangeTo) {
    // Where the range ends (now, for a relative range): the bucket past it is still partial.
    svg.append(s('line', {x1: x(rangeTo), x2: x(rangeTo), y1: margin.top, y2: margin.top + plotHeight, class: 'range-end'},
      s('title', {}, `End of the range: ${formatTime(rangeTo, {millis: false})}`)));
  }

  for (const bucket of buckets) {
    if (!bucket.count) continue;
    const end = bucket.start + interval;
    if (end <= rangeFrom || bucket.start >= rangeTo) continue;
    const partial = bucket.start < rangeFrom || end > rangeTo;
    const left = x(bucket.start);
    const barWidth = Math.max(1.5, x(end) - left - 1);
    const shownFrom = Math.max(bucket.start, rangeFrom);
    const shownTo = Math.min(end, rangeTo);
    const title = `${formatCount(bucket.count)} ${label} · ${formatTime(shownFrom, {millis: false})} – ${formatTime(shownTo, {millis: false})}${partial ? ' (part of the bucket: the range cuts it)' : ''}`;
    const bar = s('g', {
      class: partial ? 'bar partial' : 'bar', tabindex: 0, role: 'button', 'aria-label': title,
      on: {
        click: () => onSelect && onSelect(bucket.start, bucket.start + interval, bucket),
        keydown: (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            if (onSelect) onSelect(bucket.start, bucket.start + interval, bucket);
          }
        },
      },
    }, s('title', {}, title));
    // A transparent full-height target, so thin bars are easy to hit.
    bar.append(s('rect', {x: left, y: margin.top, width: barWidth, height: plotHeight, class: 'hit'}));
    let parts = bucket.by && Object.keys(bucket.by).length
      ? values.filter((value) => bucket.by[value]).map((value) => [value, bucket.by[value]])
      : [[null, bucket.count]];
    // Events without the breakdown field are in the count but in no value: the rest of the bar, uncoloured.
    const rest = bucket.count - parts.reduce((sum, [, count]) => sum + count, 0);
    if (parts.length === 0) parts = [[null, bucket.count]];
    else if (rest > 0) parts.push([null, rest]);
    let base = margin.top + plotHeight;
    for (const [value, count] of parts) {
      const barHeight = Math.max(1, y(count));
      base -= barHeight;
      const props = {x: left, y: base, width: barWidth, height: barHeight, class: 'fill'};
      if (value !== null) props.fill = colourOf(value);
      bar.append(s('rect', props));
    }
    svg.append(bar);
  }

  const legend = values.length
    ? h('ul', {class: 'legend'}, values.map((value) => h('li', {}, swatch(colourOf(value)), ` ${value} (${formatCount(totals.get(value))})`)))
    : null;
  replace(container, svg, legend);
  // The caller can show a value elsewhere (a bar's details) in the colour it has here.
  return {colourOf: (value) => (values.includes(value) ? colourOf(value) : null)};
}

/** A small square of a value's colour, for a legend or a list of values. */
export function swatch(colour) {
  return s('svg', {width: 10, height: 10, 'aria-hidden': 'true', class: 'swatch'}, s('rect', {width: 10, height: 10, fill: colour}));
}

// The search page: query bar, time picker, histogram, event list with details, live tail, infinite scroll,
// export. Its state (query and range) lives in the URL's hash, so a search can be bookmarked and Back works.

import {api, apiUrl, ApiError} from './api.js';
import {h, replace, formatCount, TIME_ZONE, parseTime, toLocalInput, isTyping, describeError} from './dom.js';
import {eventRows, COLUMNS} from './eventview.js';
import {addClause} from './query.js';
import {PRESETS, resolveRange, apiRangeOf, rangeText, sameRange} from './timerange.js';
import {openDialog, field} from './dialog.js';
import {categoryInput} from './categories.js';
import {drawHistogram, bucketsFromEvents, intervalMs} from './histogram.js';
import {fieldSidebar, zeroResultHint} from './fieldsidebar.js';
import {attachAutocomplete} from './autocomplete.js';
import {isTable, drawPipeAnswer} from './pipetable.js';

const PAGE_SIZE = 100;
// Past this many rows the live tail drops the oldest, so a busy stream cannot exhaust the tab's memory.
const MAX_ROWS = 5000;

// Whether this server answers GET /v1/events/histogram (null: not asked yet). The endpoint is being built;
// until it lands the histogram is counted from the events on the page, and says so.
let histogramSupported = null;

function stateFrom(params) {
  const range = params.get('range') || '24h';
  return {
    q: params.get('q') || '',
    range,
    from: Number(params.get('from')),
    to: Number(params.get('to')),
    // Live follows new events unless the user turned the tail off (tail=0).
    tail: params.get('tail') === '1' || (range === 'live' && params.get('tail') !== '0'),
    // The saved view this search was opened from (its id), kept while the query or range is changed.
    view: params.get('view') || '',
  };
}

function paramsOf(state) {
  const params = {q: state.q, range: state.range};
  if (state.range === 'custom') Object.assign(params, {from: state.from, to: state.to});
  if (state.tail) params.tail = '1';
  else if (state.range === 'live') params.tail = '0';
  if (state.view) params.view = state.view;
  return params;
}

export function mount(root, ctx) {
  let state = stateFrom(ctx.params);
  let generation = 0;
  let controller = null;
  let cursor = null;
  let loading = false;
  let source = null;
  let current = resolveRange(state);
  let histogram = null; // {buckets, interval, fromEvents}
  let failed = false; // the current search was refused: no chart of it
  const loadedTimes = [];
  const shown = new Set();

  // ----- the query bar and time picker -----
  const input = h('input', {
    id: 'query', class: 'query', type: 'text', value: state.q, spellcheck: 'false', autocomplete: 'off',
    'aria-label': 'Search query', 'aria-describedby': 'query-error',
    placeholder: 'target.typeURI_str:kms/secrets   ·   (action user-apikey) -login failure',
  });
  input.addEventListener('input', () => renderViewBar());
  const queryError = h('div', {id: 'query-error', class: 'query-error', role: 'alert', hidden: true});
  const rangeButtons = PRESETS.map((preset) => h('button', {
    type: 'button', class: 'range-button', title: preset.title, 'aria-pressed': 'false', dataset: {range: preset.id},
    on: {click: () => choosePreset(preset.id)},
  }, preset.label));
  const customButton = h('button', {
    type: 'button', class: 'range-button', 'aria-pressed': 'false', 'aria-expanded': 'false', dataset: {range: 'custom'},
    title: 'A range of your choice', on: {click: () => toggleCustom()},
  }, 'Custom');
  const fromInput = h('input', {type: 'datetime-local', 'aria-label': 'From (local time)'});
  const toInput = h('input', {type: 'datetime-local', 'aria-label': 'To (local time)'});
  const customError = h('span', {class: 'inline-error', role: 'alert'});
  const customForm = h('form', {class: 'custom-range', hidden: true, on: {submit: (e) => { e.preventDefault(); applyCustom(); }}},
    h('label', {}, 'From ', fromInput), h('label', {}, 'To ', toInput),
    h('button', {type: 'submit'}, 'Apply'), h('span', {class: 'muted'}, TIME_ZONE), customError);
  // Values for autocomplete come from the whole range, not the query: the user is changing the query.
  const suggestions = attachAutocomplete(input, {
    fieldNames: () => sidebar.names(),
    values: (field) => api('GET', '/v1/events/terms', {params: {field, top: 50, ...current.params}}),
  });
  // The search language's page (docs/query.md), in a new tab so that the query typed so far stays.
  const help = h('a', {class: 'button query-help', href: '/console/help/query', target: '_blank', rel: 'noopener',
    title: 'The search language: fields, operators, Kibana and LogDNA forms, errors', 'aria-label': 'Search language help'}, '?');
  const form = h('form', {class: 'querybar', role: 'search', on: {submit: (e) => { e.preventDefault(); search({push: true}); }}},
    h('div', {class: 'query-wrap'}, input, suggestions.element, queryError), help,
    h('div', {class: 'range', role: 'group', 'aria-label': 'Time range'}, rangeButtons, customButton),
    h('button', {type: 'submit', class: 'primary'}, 'Search'));

  // ----- toolbar: summary, tail, export -----
  const summary = h('p', {class: 'summary', 'aria-live': 'polite'});
  const tailToggle = h('input', {type: 'checkbox', role: 'switch', id: 'tail-toggle', on: {change: () => setTail(tailToggle.checked)}});
  const tailStatus = h('span', {class: 'tail-status', 'aria-live': 'polite'});
  const exportNdjson = h('a', {class: 'button', download: 'acta-events.ndjson', href: '#'}, 'Export NDJSON');
  const exportCsv = h('a', {class: 'button', download: 'acta-events.csv', href: '#'}, 'Export CSV');
  // Seed 002 step 3: "Save as new view". Readers cannot save views (the server would refuse).
  const canSave = ['writer', 'manager', 'admin'].includes(ctx.me.key.role);
  const saveView = canSave ? h('button', {type: 'button', on: {click: () => saveAsView()}}, 'Save as view') : null;
  const saved = h('p', {class: 'saved-note', role: 'status', hidden: true});
  // Which view is open, whether the search still is that view, and saving a change to it (IBM's "Unsaved view").
  const viewBar = h('div', {class: 'view-bar', role: 'region', 'aria-label': 'Open view', hidden: true});
  let openView = null; // the view as the API last answered it
  const toolbar = h('div', {class: 'toolbar'}, summary, h('span', {class: 'spacer'}),
    h('label', {class: 'tail', for: 'tail-toggle'}, tailToggle, ' Live tail'), tailStatus, saveView, exportNdjson, exportCsv);

  // ----- histogram, list -----
  const chart = h('div', {class: 'histogram', 'aria-label': 'Matches over time'});
  const chartNote = h('p', {class: 'chart-note muted'});
  const chartBox = h('div', {class: 'chart-box'}, chart, chartNote);
  const banner = h('div', {class: 'banner error', role: 'alert', hidden: true});
  const tbody = h('tbody', {});
  const table = h('table', {class: 'events'},
    h('thead', {}, h('tr', {}, COLUMNS.map((name) => h('th', {scope: 'col', class: name.toLowerCase()},
      name === 'Time' ? `Time (${TIME_ZONE})` : name)))),
    tbody);
  const more = h('button', {type: 'button', class: 'more', hidden: true, on: {click: () => loadMore()}}, 'Load more');
  const zeroHint = h('div', {class: 'zero-hint-box'});
  const terms = (field, q, top) => api('GET', '/v1/events/terms', {params: {field, q, top, ...current.params}, signal: controller && controller.signal});
  const sidebar = fieldSidebar({terms, onFilter: (clause) => addFilter(clause)});
  const endNote = h('p', {class: 'end-note muted'});
  const end = h('div', {class: 'list-end'}, more, endNote, zeroHint);
  // A query with pipes answers a table (and a chart for timechart) here, in place of the events.
  const pipeBox = h('div', {class: 'pipe-answer', role: 'region', 'aria-label': 'Query results table', hidden: true});
  const eventsBox = h('div', {class: 'results-main'}, chartBox, h('div', {class: 'table-box'}, table), end);
  const results = h('div', {class: 'results'}, sidebar.element, eventsBox);

  replace(root, h('section', {class: 'page search-page', 'aria-label': 'Search'},
    form, viewBar, customForm, toolbar, saved, banner, pipeBox, results));

  // ----- behaviour -----
  function showBanner(error) {
    replace(banner, error instanceof ApiError ? error.describe() : String(error.message || error));
    banner.hidden = false;
  }

  function clearQueryError() {
    queryError.hidden = true;
    replace(queryError);
    input.removeAttribute('aria-invalid');
  }

  /** Shows the parser's message under the query, with the character at its column marked, and puts the caret there. */
  function showQueryError(error) {
    const chars = Array.from(state.q);
    const column = Math.min(Math.max(error.column || 1, 1), chars.length + 1);
    const before = chars.slice(0, column - 1).join('');
    replace(queryError,
      h('code', {class: 'query-echo', 'aria-hidden': 'true'}, before, h('mark', {}, chars[column - 1] || ' '), chars.slice(column).join('')),
      h('span', {class: 'query-error-message'}, `Column ${column}: ${error.message}`));
    queryError.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    input.setSelectionRange(before.length, before.length);
  }

  function renderRangeButtons() {
    for (const button of [...rangeButtons, customButton]) {
      button.setAttribute('aria-pressed', String(button.dataset.range === state.range));
    }
  }

  function choosePreset(id) {
    state.range = id;
    if (id === 'live') state.tail = true;
    customForm.hidden = true;
    customButton.setAttribute('aria-expanded', 'false');
    search({push: true});
  }

  function toggleCustom() {
    const open = customForm.hidden;
    customForm.hidden = !open;
    customButton.setAttribute('aria-expanded', String(open));
    if (open) {
      fromInput.value = toLocalInput(current.fromMs);
      toInput.value = toLocalInput(current.toMs);
      fromInput.focus();
    }
  }

  function applyCustom() {
    const from = new Date(fromInput.value).getTime();
    const to = new Date(toInput.value).getTime();
    if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
      replace(customError, 'Choose a start before the end.');
      return;
    }
    replace(customError);
    Object.assign(state, {range: 'custom', from, to, tail: false});
    search({push: true});
  }

  function zoom(startMs, endMs) {
    Object.assign(state, {range: 'custom', from: startMs, to: endMs, tail: false});
    customForm.hidden = true;
    search({push: true});
  }

  function addFilter(clause) {
    state.q = addClause(input.value, clause);
    input.value = state.q;
    search({push: true});
  }

  function drawChart() {
    if (!histogram) {
      replace(chart);
      chartBox.hidden = !chartNote.textContent;
      return;
    }
    chartBox.hidden = false;
    drawHistogram(chart, {...histogram, fromMs: current.fromMs, toMs: current.toMs, onSelect: zoom, label: 'events'});
  }

  function chartFromLoadedEvents() {
    if (failed) return;
    const counted = bucketsFromEvents(loadedTimes, current.fromMs, current.toMs);
    histogram = {...counted, fromEvents: true};
    replace(chartNote, `Counted from the ${formatCount(loadedTimes.length)} events loaded below: this server has no histogram endpoint yet.`);
    drawChart();
  }

  async function loadHistogram(gen, signal) {
    if (histogramSupported === false) {
      chartFromLoadedEvents();
      return;
    }
    try {
      const answer = await api('GET', '/v1/events/histogram', {params: {q: state.q, ...current.params}, signal});
      if (gen !== generation || failed) return;
      histogramSupported = true;
      const buckets = (answer.buckets || []).map((bucket) => ({
        start: typeof bucket.start === 'number' ? bucket.start : parseTime(bucket.start),
        count: Number(bucket.count) || 0,
        by: bucket.by,
      })).filter((bucket) => Number.isFinite(bucket.start));
      const step = buckets.length > 1 ? buckets[1].start - buckets[0].start : null;
      histogram = {buckets, interval: intervalMs(answer.interval) || step || 60e3, fromEvents: false};
      replace(chartNote);
      drawChart();
    } catch (error) {
      if (gen !== generation || (error && error.name === 'AbortError')) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        histogramSupported = false;
        chartFromLoadedEvents();
      } else if (!(error instanceof ApiError && error.code === 'query_syntax')) {
        histogram = null;
        replace(chartNote, `Histogram not available: ${error.message}`);
        drawChart();
      }
    }
  }

  async function loadCount(gen, signal) {
    try {
      const answer = await api('GET', '/v1/events/count', {params: {q: state.q, ...current.params}, signal});
      if (gen !== generation) return;
      replace(summary, h('strong', {}, formatCount(answer.count)), ` ${answer.count === 1 ? 'event' : 'events'} in ${current.label}`);
    } catch {
      // The list's own request reports what went wrong.
    }
  }

  function appendEvents(events, {prepend = false} = {}) {
    const fragment = document.createDocumentFragment();
    for (const event of events) {
      // An event is its place in its instance's log: an id may name two events (a request and its outcome).
      const acta = event._acta || {};
      const id = acta.instance !== undefined && acta.seq !== undefined ? `${acta.instance}/${acta.seq}` : null;
      if (id && shown.has(id)) continue;
      if (id) shown.add(id);
      loadedTimes.push(parseTime(event.eventTime));
      fragment.append(...eventRows(event, {onFilter: addFilter, fresh: prepend, link: ctx.link}));
    }
    if (prepend) tbody.prepend(fragment);
    else tbody.append(fragment);
    while (tbody.rows.length > MAX_ROWS * 2) tbody.lastElementChild.remove();
  }

  function renderEnd() {
    more.hidden = !cursor;
    if (cursor) replace(endNote);
    else if (tbody.rows.length === 0) replace(endNote, `No events match in ${current.label}.`);
    else replace(endNote, 'End of the results.');
  }

  /** Shows the results as events (the list, chart and sidebar) or as a pipe query's table. */
  function showAs(mode) {
    const tableMode = mode === 'table';
    pipeBox.hidden = !tableMode;
    results.hidden = tableMode;
    for (const control of [exportNdjson, exportCsv, tailToggle.closest('label')]) control.hidden = tableMode;
    if (!tableMode) replace(pipeBox);
  }

  /** Loads a page of events; the first page asks GET /v1/events/query, which answers a table for a pipe query. */
  async function loadPage(gen, signal) {
    loading = true;
    const first = !cursor;
    try {
      const answer = await api('GET', first ? '/v1/events/query' : '/v1/events', {
        params: {q: state.q, ...current.params, limit: PAGE_SIZE, cursor: cursor || undefined}, signal,
      });
      if (gen !== generation) return;
      if (isTable(answer)) {
        showAs('table');
        const rows = answer.rows.length;
        replace(summary, h('strong', {}, formatCount(rows)), ` ${rows === 1 ? 'row' : 'rows'} in ${current.label}`);
        drawPipeAnswer(pipeBox, answer, {fromMs: current.fromMs, toMs: current.toMs, onSelect: zoom});
        return 'table';
      }
      if (first) showAs('events');
      cursor = answer.next_cursor || null;
      appendEvents(answer.events || []);
      renderEnd();
      if (first) {
        // The sidebar shows the fields of the first page, like Discover's sample; values count the whole search.
        sidebar.show(answer.events || [], state.q);
        if (!(answer.events || []).length) showZeroHint(gen);
      }
      if (histogram && histogram.fromEvents) chartFromLoadedEvents();
      return true;
    } catch (error) {
      if (gen !== generation || (error && error.name === 'AbortError')) return false;
      cursor = null;
      failed = true;
      showAs('events');
      sidebar.show([], state.q);
      histogram = null;
      replace(chartNote);
      drawChart();
      renderEnd();
      replace(endNote);
      if (error instanceof ApiError && error.code === 'query_syntax') showQueryError(error);
      else showBanner(error);
      replace(summary, 'The search failed.');
      return false;
    } finally {
      if (gen === generation) loading = false;
    }
  }

  /** Under "No events match": the values the query's fields do have, each replacing its condition. */
  async function showZeroHint(gen) {
    const q = state.q;
    let hint = null;
    try {
      hint = await zeroResultHint(q, {terms, rangeLabel: current.label, isCurrent: () => gen === generation,
        onReplace: (next) => {
          input.value = next;
          search({push: true});
        }});
    } catch {
      // A hint that cannot be had leaves the plain "No events match".
    }
    if (gen === generation && hint) replace(zeroHint, hint);
  }

  function loadMore() {
    if (!cursor || loading) return;
    loadPage(generation, controller && controller.signal);
  }

  async function search({push = false} = {}) {
    state.q = input.value;
    generation += 1;
    const gen = generation;
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    current = resolveRange(state);
    cursor = null;
    histogram = null;
    failed = false;
    loadedTimes.length = 0;
    shown.clear();
    tbody.replaceChildren();
    replace(zeroHint);
    suggestions.close();
    suggestions.reset();
    banner.hidden = true;
    saved.hidden = true;
    clearQueryError();
    renderRangeButtons();
    tailToggle.checked = state.tail;
    replace(summary, 'Searching…');
    replace(endNote);
    replace(chartNote);
    more.hidden = true;
    ctx.navigate(paramsOf(state), {push});
    loadView();
    const exportParams = {q: state.q, ...current.params};
    exportNdjson.href = apiUrl('/v1/events/export', {...exportParams, format: 'ndjson'});
    exportCsv.href = apiUrl('/v1/events/export', {...exportParams, format: 'csv'});
    stopTail();
    // The first page says whether the query is a pipe query: only then are its count and histogram asked for.
    const listed = await loadPage(gen, signal);
    if (gen !== generation || listed !== true) return;
    loadCount(gen, signal);
    await loadHistogram(gen, signal);
    if (gen === generation && state.tail) startTail();
  }

  // ----- the open view -----
  function viewChanged() {
    return Boolean(openView) && (input.value.trim() !== (openView.query || '').trim() || !sameRange(openView.from, openView.to, state));
  }

  function renderViewBar() {
    viewBar.hidden = !state.view;
    // With a view open, its bar offers "Save as new view" when the search has changed.
    if (saveView) saveView.hidden = Boolean(state.view);
    if (!state.view) return;
    if (!openView) {
      replace(viewBar, h('span', {class: 'muted'}, 'Opening the view…'));
      return;
    }
    const changed = viewChanged();
    replace(viewBar,
      h('span', {class: 'view-name'}, 'View: ', h('strong', {}, openView.name)),
      changed ? h('span', {class: 'badge changed'}, 'changed') : null,
      changed ? h('span', {class: 'muted view-saved'}, 'saved as ', h('code', {}, openView.query || '(everything)'), ` · ${rangeText(openView.from, openView.to)}`) : null,
      changed ? null : h('span', {class: 'spacer'}),
      changed && canSave ? h('button', {type: 'button', class: 'small primary', on: {click: () => saveViewChanges()}}, 'Save changes to view') : null,
      changed && canSave ? h('button', {type: 'button', class: 'small', on: {click: () => saveAsView()}}, 'Save as new view') : null,
      h('button', {type: 'button', class: 'small', 'aria-label': `Close view ${openView.name}`, on: {click: () => closeView()}}, 'Close view'));
  }

  async function loadView() {
    if (!state.view || (openView && openView.id === state.view)) {
      if (!state.view) openView = null;
      renderViewBar();
      return;
    }
    const id = state.view;
    openView = null;
    renderViewBar();
    try {
      const view = await api('GET', `/v1/views/${encodeURIComponent(id)}`);
      if (state.view !== id) return;
      openView = view;
      renderViewBar();
    } catch (error) {
      if (state.view !== id) return;
      replace(viewBar, h('span', {class: 'inline-error'}, `The view could not be opened: ${describeError(error)}`),
        h('span', {class: 'spacer'}), h('button', {type: 'button', class: 'small', on: {click: () => closeView()}}, 'Close view'));
    }
  }

  function closeView() {
    state.view = '';
    openView = null;
    renderViewBar();
    ctx.navigate(paramsOf(state), {push: true});
  }

  /** PATCHes the open view with the page's query, and its range when that changed (a relative one stays). */
  async function saveViewChanges() {
    const view = openView;
    const body = {query: input.value.trim()};
    if (!sameRange(view.from, view.to, state)) Object.assign(body, apiRangeOf(state));
    try {
      openView = await api('PATCH', `/v1/views/${encodeURIComponent(view.id)}`, {body});
    } catch (error) {
      replace(saved, `Saving view “${view.name}” failed: ${describeError(error)}`);
      saved.className = 'saved-note error';
      saved.hidden = false;
      return;
    }
    if (input.value !== state.q) await search({push: true});
    renderViewBar();
    saved.className = 'saved-note';
    replace(saved, `View “${openView.name}” saved: `, h('code', {}, openView.query || '(everything)'), ` · ${rangeText(openView.from, openView.to)}.`);
    saved.hidden = false;
  }

  // ----- save as view -----
  async function saveAsView() {
    state.q = input.value;
    const range = apiRangeOf(state);
    let categories = [];
    try {
      categories = ((await api('GET', '/v1/views/categories')).categories || []).map((c) => c.name).filter(Boolean);
    } catch {
      // A new category can still be typed.
    }
    const name = h('input', {required: true, maxlength: 200, autocomplete: 'off'});
    const category = categoryInput(categories);
    const body = {query: state.q, from: range.from, to: range.to};
    let view = null;
    const done = await openDialog({
      title: 'Save as view',
      fields: [
        h('p', {class: 'dialog-summary'}, h('code', {}, state.q || '(everything)'), ` · ${rangeText(range.from, range.to)}`),
        field('Name', name), field('Category', category.input, 'an existing one, a new name, or empty'), category.list,
      ],
      submitLabel: 'Save view',
      onSubmit: async () => {
        view = await api('POST', '/v1/views', {body: {...body, name: name.value.trim(), category: category.input.value.trim()}});
      },
    });
    if (done && view) {
      // The new view is the open one from now on.
      state.view = view.id;
      openView = view;
      renderViewBar();
      ctx.navigate(paramsOf(state), {push: false});
      saved.className = 'saved-note';
      replace(saved, `View “${view.name}” saved${view.category ? ` in “${view.category}”` : ''}. `,
        h('a', {href: ctx.link('views')}, 'See your views'), ' · ',
        h('a', {href: ctx.link('alerts', {attach: view.id})}, 'Attach an alert'));
      saved.hidden = false;
    }
  }

  // ----- live tail (EventSource sends the session cookie; it cannot send headers) -----
  function stopTail() {
    if (source) source.close();
    source = null;
    replace(tailStatus);
  }

  function setTail(on) {
    state.tail = on;
    if (on && state.range === 'custom') {
      // New events are never inside a range that ended in the past: follow them over the last hour.
      state.range = 'live';
      search({push: true});
      return;
    }
    ctx.navigate(paramsOf(state), {push: false});
    if (on) startTail();
    else stopTail();
  }

  function startTail() {
    stopTail();
    let arrived = 0;
    source = new EventSource(apiUrl('/v1/events/tail', {q: state.q}));
    replace(tailStatus, 'connecting…');
    source.addEventListener('open', () => replace(tailStatus, arrived ? `live · ${arrived} new` : 'live · waiting for events'));
    source.addEventListener('event', (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      arrived += 1;
      appendEvents([event], {prepend: true});
      replace(tailStatus, `live · ${arrived} new`);
      if (histogram) {
        const time = parseTime(event.eventTime);
        current = resolveRange(state);
        const bucket = histogram.buckets.find((b) => time >= b.start && time < b.start + histogram.interval);
        if (bucket && !histogram.fromEvents) bucket.count += 1;
        if (histogram.fromEvents) chartFromLoadedEvents();
        else drawChart();
      }
      renderEnd();
    });
    source.addEventListener('lagged', (message) => replace(tailStatus, `live · some events skipped (${message.data})`));
    source.addEventListener('error', () => {
      if (source && source.readyState === EventSource.CLOSED) {
        replace(tailStatus, 'live tail stopped: the server refused it (signed out?)');
        source = null;
        tailToggle.checked = false;
        state.tail = false;
      } else {
        replace(tailStatus, 'reconnecting…');
      }
    });
  }

  // ----- infinite scroll and keys -----
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  }, {rootMargin: '400px'});
  observer.observe(end);

  const resize = new ResizeObserver(() => drawChart());
  resize.observe(chart);

  function onKey(event) {
    if (event.key === '/' && !isTyping(event)) {
      event.preventDefault();
      input.focus();
      // The caret at the end, so typing narrows the search rather than replacing it.
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }
  document.addEventListener('keydown', onKey);

  search({push: false});

  return {
    update(params) {
      state = stateFrom(params);
      input.value = state.q;
      search({push: false});
    },
    unmount() {
      generation += 1;
      if (controller) controller.abort();
      stopTail();
      observer.disconnect();
      resize.disconnect();
      document.removeEventListener('keydown', onKey);
    },
  };
}

// The boards page (seed 000's predefined dashboard, seed 002 step 5): boards by category; a board's graphs
// drawn by histogram.js, one colour per value of the breakdown with a legend; "live" graphs refresh every few
// seconds. New board, add a graph (field, query, range, breakdown), edit one, move it up or down, remove it,
// rename, change the category and filter, delete. Clicking a bar shows its count (and per value) and links to its events on the search
// page, through the graph's drill-down.

import {api} from './api.js';
import {h, replace, banner, describeError, parseTime, formatTime, formatCount, toLocalInput, TIME_ZONE} from './dom.js';
import {openDialog, field} from './dialog.js';
import {groupByCategory, categoryInput} from './categories.js';
import {drawHistogram, intervalMs, swatch} from './histogram.js';

const WRITERS = new Set(['writer', 'manager', 'admin']);
const RANGES = [['live', 'Live (last 60 minutes, moving)'], ['1h', 'Last hour'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'], ['custom', 'Custom…']];
// How often a live graph asks again.
const LIVE_REFRESH_MS = 5000;
// Fields people graph most (any field the query language names works).
// Derived fields in the product's words: `_platform` is the service part of the action (`kms`, `iam-identity`).
const FIELD_LABELS = {_platform: 'service'};
const fieldLabel = (name) => FIELD_LABELS[name] || name;
const COMMON_FIELDS = ['action', '_platform', 'outcome', 'severity', 'initiator.name', 'initiator.id', 'initiator.host.agent',
  'initiator.host.address', 'target.typeURI', 'target.name', 'reason.reasonCode', '_instance', '_region'];

const timeOf = (text) => (typeof text === 'number' ? text : parseTime(text));

/** `Live`, `Last 24 hours`, `2026-11-20 10:00 – 2026-11-21 10:00`. */
function rangeLabel(range) {
  if (range && typeof range === 'object') {
    const show = (t) => (Number.isFinite(timeOf(t)) ? formatTime(timeOf(t), {millis: false}).slice(0, 16) : String(t));
    return `${show(range.from)} – ${show(range.to)}`;
  }
  const known = RANGES.find(([id]) => id === range);
  return known ? known[1].replace(/ \(.*\)$/, '') : String(range);
}

/** The title of a graph: its own, else what it counts. */
function graphTitle(graph) {
  if (graph.title) return graph.title;
  const what = graph.field ? graph.field : 'events';
  return graph.query ? `${what} · ${graph.query}` : what;
}

function fieldList(id) {
  return h('datalist', {id}, COMMON_FIELDS.map((name) => h('option', {value: name})));
}

export function mount(root, ctx) {
  const canWrite = WRITERS.has(ctx.me.key.role);
  const notice = banner();
  const body = h('div', {class: 'boards-body'});
  let categories = [];
  let teardown = () => {};

  replace(root, h('section', {class: 'page boards-page', 'aria-label': 'Boards'}, notice.element, body));

  // ----- the list -----
  async function showList() {
    let answer;
    try {
      answer = await api('GET', '/v1/boards');
    } catch (error) {
      replace(body, h('header', {class: 'page-head'}, h('h1', {}, 'Boards')));
      notice.fail('Listing the boards', error);
      return;
    }
    const boards = answer.boards || [];
    categories = (answer.categories || []).map((c) => (typeof c === 'string' ? c : c.name)).filter(Boolean);
    const groups = groupByCategory(boards).map(([category, members]) => h('section', {class: 'group', 'aria-label': category || 'No category'},
      h('h2', {}, category || 'No category', h('span', {class: 'muted'}, ` · ${members.length}`)),
      h('div', {class: 'table-box'}, h('table', {class: 'boards'},
        h('thead', {}, h('tr', {}, ['Name', 'Graphs', 'Filter', 'Updated'].map((n) => h('th', {scope: 'col'}, n)))),
        h('tbody', {}, members.map((board) => h('tr', {dataset: {boardId: board.id}},
          h('th', {scope: 'row'}, h('a', {href: ctx.link('boards', {board: board.id})}, board.name),
            board.predefined ? h('span', {class: 'badge predefined'}, 'predefined') : null),
          h('td', {}, formatCount((board.graphs || []).length)),
          h('td', {class: 'mono'}, board.filter || ''),
          h('td', {class: 'time'}, Number.isFinite(parseTime(board.updated)) ? formatTime(parseTime(board.updated), {millis: false}) : ''))))))));
    replace(body,
      h('header', {class: 'page-head'}, h('h1', {}, 'Boards'),
        h('p', {class: 'muted'}, 'Dashboards of graphs: counts of matching events over time, broken down by a field. Click a bar for its events.')),
      canWrite ? h('div', {class: 'page-actions'}, h('button', {type: 'button', class: 'primary', on: {click: newBoard}}, 'New board')) : null,
      groups.length ? h('div', {class: 'groups'}, groups) : h('p', {class: 'muted'}, 'No boards.'));
  }

  async function newBoard() {
    const name = h('input', {required: true, maxlength: 200, autocomplete: 'off'});
    const category = categoryInput(categories);
    let board = null;
    const done = await openDialog({
      title: 'New board',
      fields: [field('Name', name), field('Category', category.input, 'an existing one, a new name, or empty'), category.list],
      submitLabel: 'Create board',
      onSubmit: async () => {
        board = await api('POST', '/v1/boards', {body: {name: name.value.trim(), category: category.input.value.trim() || undefined, graphs: []}});
      },
    });
    if (done && board) open({board: board.id}, `Board “${board.name}” created. Add a graph to it.`);
  }

  // ----- one board -----
  async function showBoard(id) {
    let board;
    try {
      board = await api('GET', `/v1/boards/${encodeURIComponent(id)}`);
    } catch (error) {
      replace(body, h('p', {}, h('a', {href: ctx.link('boards')}, '← All boards')));
      notice.fail('Opening the board', error);
      return;
    }
    try {
      categories = ((await api('GET', '/v1/boards')).categories || []).map((c) => (typeof c === 'string' ? c : c.name)).filter(Boolean);
    } catch {
      // Only the category suggestions are missing.
    }
    const cards = [];
    const resize = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const card = cards.find((c) => c.chart === entry.target);
        if (card) card.draw();
      }
    });
    const timer = setInterval(() => {
      for (const card of cards) if (card.live) card.load();
    }, LIVE_REFRESH_MS);
    let gone = false;
    teardown = () => {
      gone = true;
      clearInterval(timer);
      resize.disconnect();
    };

    async function patch(change, what) {
      try {
        board = await api('PATCH', `/v1/boards/${encodeURIComponent(board.id)}`, {body: change});
        return true;
      } catch (error) {
        notice.fail(what, error);
        return false;
      }
    }

    async function edit() {
      const name = h('input', {value: board.name, required: true, maxlength: 200, autocomplete: 'off'});
      const category = categoryInput(categories, board.category);
      const filter = h('input', {value: board.filter || '', autocomplete: 'off', spellcheck: 'false', class: 'mono',
        placeholder: 'a query every graph also matches'});
      const saved = await openDialog({
        title: `Edit board ${board.name}`,
        fields: [field('Name', name), field('Category', category.input, 'an existing one, a new name, or empty'), category.list,
          field('Filter', filter, 'ANDed to every graph’s query')],
        onSubmit: async () => {
          board = await api('PATCH', `/v1/boards/${encodeURIComponent(board.id)}`,
            {body: {name: name.value.trim(), category: category.input.value.trim(), filter: filter.value.trim()}});
        },
      });
      if (saved) {
        notice.say(`Board “${board.name}” saved${board.category ? ` in “${board.category}”` : ''}.`);
        render();
      }
    }

    async function remove() {
      let refusal = null;
      const confirmed = await openDialog({
        title: `Delete board ${board.name}?`,
        fields: [h('p', {}, 'Its graphs go with it; the events stay.')],
        submitLabel: 'Delete',
        danger: true,
        onSubmit: async () => {
          try {
            await api('DELETE', `/v1/boards/${encodeURIComponent(board.id)}`);
          } catch (error) {
            refusal = error;
          }
        },
      });
      if (refusal) notice.fail(`Deleting “${board.name}”`, refusal);
      else if (confirmed) open({}, `Board “${board.name}” deleted.`);
    }

    /**
     * The graph editor, for a new graph (`graph` undefined) or one already on the board. Resolves to the board's
     * new graph list once the server took it, or null when cancelled.
     */
    async function graphDialog(graph, index) {
      const old = graph || {range: '24h'};
      const customRange = old.range && typeof old.range === 'object';
      const title = h('input', {maxlength: 200, autocomplete: 'off', placeholder: 'optional', value: old.title || ''});
      const graphField = h('input', {list: 'graph-fields', autocomplete: 'off', spellcheck: 'false', placeholder: 'action', value: old.field || ''});
      const query = h('input', {autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'iam-identity.user-apikey.', value: old.query || ''});
      const rangeId = customRange ? 'custom' : old.range;
      const range = h('select', {}, RANGES.map(([id, label]) => h('option', {value: id, selected: id === rangeId}, label)));
      // A range the console does not offer (the API takes others, such as `12h`) stays as it is.
      if (!customRange && !RANGES.some(([id]) => id === old.range)) range.prepend(h('option', {value: old.range, selected: true}, rangeLabel(old.range)));
      const fromMs = customRange ? timeOf(old.range.from) : Date.now() - 24 * 3600e3;
      const toMs = customRange ? timeOf(old.range.to) : Date.now();
      const from = h('input', {type: 'datetime-local', value: toLocalInput(Number.isFinite(fromMs) ? fromMs : Date.now() - 24 * 3600e3)});
      const to = h('input', {type: 'datetime-local', value: toLocalInput(Number.isFinite(toMs) ? toMs : Date.now())});
      const custom = h('div', {class: 'custom-range', hidden: !customRange}, field('From', from), field('To', to));
      range.addEventListener('change', () => { custom.hidden = range.value !== 'custom'; });
      const breakdown = h('input', {list: 'graph-fields', autocomplete: 'off', spellcheck: 'false', placeholder: 'none',
        value: (old.breakdown && old.breakdown.field) || ''});
      const top = h('input', {type: 'number', min: 1, max: 100, step: 1, placeholder: '5', value: (old.breakdown && old.breakdown.top) || ''});
      let graphs = null;
      const done = await openDialog({
        title: graph ? `Edit graph ${graphTitle(graph)}` : 'Add graph',
        fields: [fieldList('graph-fields'),
          field('Field', graphField, 'what to graph: counts of events that have it'),
          field('Query', query, 'which events (the search language); empty: all'),
          field('Range', range), custom,
          field('Breakdown by', breakdown, 'one colour per value of this field'),
          field('Top values', top, 'values shown before “other” (default 5)'),
          field('Title', title)],
        submitLabel: graph ? 'Save graph' : 'Add graph',
        onSubmit: async () => {
          // The editor shows every member of a graph (title, query, field, range, breakdown), so it rebuilds it.
          const next = {query: query.value.trim()};
          if (title.value.trim()) next.title = title.value.trim();
          if (graphField.value.trim()) next.field = graphField.value.trim();
          if (range.value === 'custom') {
            const fromMs = new Date(from.value).getTime();
            const toMs = new Date(to.value).getTime();
            if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) throw new Error('Choose a start before the end.');
            next.range = {from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString()};
          } else {
            next.range = range.value;
          }
          if (breakdown.value.trim()) {
            next.breakdown = {field: breakdown.value.trim()};
            if (top.value) next.breakdown.top = Number(top.value);
          }
          const list = [...(board.graphs || [])];
          if (graph) list[index] = next;
          else list.push(next);
          board = await api('PATCH', `/v1/boards/${encodeURIComponent(board.id)}`, {body: {graphs: list}});
          graphs = board.graphs || [];
        },
      });
      return done ? graphs : null;
    }

    async function addGraph() {
      const graphs = await graphDialog();
      if (graphs) {
        notice.say(`Graph “${graphTitle(graphs[graphs.length - 1])}” added.`);
        render();
      }
    }

    async function editGraph(index) {
      const graphs = await graphDialog(board.graphs[index], index);
      if (graphs) {
        notice.say(`Graph “${graphTitle(graphs[index])}” saved.`);
        render();
      }
    }

    /** Moves a graph one place up (-1) or down (+1). */
    async function moveGraph(index, step) {
      const graphs = [...board.graphs];
      const target = index + step;
      if (target < 0 || target >= graphs.length) return;
      [graphs[index], graphs[target]] = [graphs[target], graphs[index]];
      const moved = graphTitle(graphs[target]);
      if (await patch({graphs}, `Moving graph “${moved}”`)) {
        notice.say(`Graph “${moved}” moved ${step < 0 ? 'up' : 'down'}.`);
        render();
        // The keyboard stays on the graph it moved.
        const card = `section.graph[data-graph="${target}"]`;
        const button = body.querySelector(`${card} button[data-move="${step < 0 ? 'up' : 'down'}"]:not([disabled])`)
          || body.querySelector(`${card} button[data-move]:not([disabled])`);
        if (button) button.focus();
      }
    }

    function graphCard(graph, index) {
      const chart = h('div', {class: 'histogram', 'aria-label': `${graphTitle(graph)}: events over time`});
      const note = h('p', {class: 'chart-note muted'});
      const detail = h('div', {class: 'bar-detail', hidden: true, 'aria-live': 'polite'});
      const summary = h('span', {class: 'graph-count muted'});
      const live = graph.range === 'live';
      const card = {chart, live, data: null};
      const data = () => card.data || {};
      const base = `/v1/boards/${encodeURIComponent(board.id)}/graphs/${index}`;

      card.draw = () => {
        const data = card.data;
        if (!data) return;
        const buckets = (data.buckets || []).map((bucket) => ({...bucket, start: timeOf(bucket.start), raw: bucket}))
          .filter((bucket) => Number.isFinite(bucket.start));
        const step = buckets.length > 1 ? buckets[1].start - buckets[0].start : null;
        card.colours = drawHistogram(chart, {
          buckets,
          interval: intervalMs(data.interval) || step || 60e3,
          fromMs: timeOf(data.from),
          toMs: timeOf(data.to),
          otherKey: data.other_key || 'other',
          label: 'events',
          onSelect: (startMs, endMs, bucket) => select(bucket.raw),
        });
      };

      card.load = async () => {
        // A slow answer is not asked for again while it is still coming.
        if (card.loading) return;
        card.loading = true;
        const params = TIME_ZONE.includes('/') || TIME_ZONE === 'UTC' ? {tz: TIME_ZONE} : {};
        try {
          const data = await api('GET', `${base}/data`, {params});
          if (gone) return;
          card.data = data;
          replace(summary, `${formatCount(data.count || 0)} events${data.interval ? ` · per ${data.interval}` : ''}`);
          replace(note);
          card.draw();
        } catch (error) {
          if (gone) return;
          replace(note, `This graph cannot be drawn: ${describeError(error)}`);
        } finally {
          card.loading = false;
        }
      };

      const searchLink = (drill) => ctx.link('search', {q: drill.query, range: 'custom', from: timeOf(drill.from), to: timeOf(drill.to)});

      async function select(bucket) {
        const from = timeOf(bucket.from || bucket.start);
        const to = timeOf(bucket.to);
        const span = `${formatTime(from, {millis: false})} – ${Number.isFinite(to) ? formatTime(to, {millis: false}).slice(11) : ''}`;
        const values = Object.entries(bucket.by || {}).filter(([, count]) => count > 0).sort((a, b) => b[1] - a[1]);
        // Each value of the breakdown (the other values under the answer's `other_key`), and the events
        // without the field, with a link to exactly those events.
        const entries = values.map(([value, count]) => ({label: value, count, params: {value}}));
        const breakdownField = fieldLabel((graph.breakdown && graph.breakdown.field) || data().field || 'the field');
        if (bucket.missing) entries.push({label: `(without ${breakdownField})`, count: bucket.missing, params: {missing: 'true'}});
        const valueItems = entries.map(({label, count, params}) => {
          const link = h('span', {class: 'muted'}, '');
          const colour = params.value !== undefined && card.colours ? card.colours.colourOf(params.value) : null;
          const item = h('li', {}, colour ? [swatch(colour), ' '] : null, h('span', {class: 'value'}, label), `: ${formatCount(count)} `, link);
          return {label, params, item, link};
        });
        const eventsLink = h('span', {class: 'muted'}, 'finding its events…');
        replace(detail,
          h('div', {class: 'bar-detail-head'},
            h('strong', {class: 'bar-count'}, `${formatCount(bucket.count)} ${bucket.count === 1 ? 'event' : 'events'}`),
            h('span', {class: 'muted'}, ` · ${span} (${TIME_ZONE})`), ' ', eventsLink,
            h('button', {type: 'button', class: 'small', 'aria-label': 'Close the bar’s details', on: {click: () => { detail.hidden = true; }}}, 'Close')),
          valueItems.length ? h('ul', {class: 'bar-values'}, valueItems.map((v) => v.item)) : null);
        detail.hidden = false;
        const drill = (extra) => api('GET', `${base}/drilldown`, {params: {bucket: bucket.start, ...extra}});
        try {
          const all = await drill({});
          replace(eventsLink, h('a', {class: 'button small', href: searchLink(all)}, 'Show events'));
        } catch (error) {
          replace(eventsLink, `No drill-down: ${describeError(error)}`);
        }
        await Promise.all(valueItems.map(async ({label, params, link}) => {
          try {
            const one = await drill(params);
            replace(link, h('a', {href: searchLink(one), 'aria-label': `Show events of ${label}`}, 'show events'));
          } catch {
            replace(link);
          }
        }));
      }

      const breakdownText = graph.breakdown && graph.breakdown.field ? ` · by ${fieldLabel(graph.breakdown.field)}` : '';
      card.element = h('section', {class: 'card graph', 'aria-label': graphTitle(graph), dataset: {graph: index}},
        h('div', {class: 'graph-head'},
          h('h2', {}, graphTitle(graph)),
          h('span', {class: 'muted'}, `${rangeLabel(graph.range)}${breakdownText}`),
          live ? h('span', {class: 'badge live'}, 'live') : null,
          h('span', {class: 'spacer'}), summary,
          canWrite ? [
            h('button', {type: 'button', class: 'small', 'aria-label': `Move graph ${graphTitle(graph)} up`, dataset: {move: 'up'},
              disabled: index === 0, on: {click: () => moveGraph(index, -1)}}, '↑'),
            h('button', {type: 'button', class: 'small', 'aria-label': `Move graph ${graphTitle(graph)} down`, dataset: {move: 'down'},
              disabled: index === board.graphs.length - 1, on: {click: () => moveGraph(index, 1)}}, '↓'),
            h('button', {type: 'button', class: 'small', 'aria-label': `Edit graph ${graphTitle(graph)}`,
              on: {click: () => editGraph(index)}}, 'Edit'),
            h('button', {type: 'button', class: 'small danger', 'aria-label': `Remove graph ${graphTitle(graph)}`,
              on: {click: () => removeGraph(index)}}, 'Remove'),
          ] : null),
        graph.query ? h('p', {class: 'graph-query mono muted'}, graph.query) : null,
        chart, note, detail);
      cards.push(card);
      resize.observe(chart);
      return card;
    }

    function render() {
      cards.length = 0;
      resize.disconnect();
      const graphs = (board.graphs || []).map(graphCard);
      replace(body,
        h('p', {class: 'crumbs'}, h('a', {href: ctx.link('boards')}, '← All boards')),
        h('header', {class: 'page-head board-head'},
          h('h1', {}, board.name),
          board.category ? h('span', {class: 'badge category'}, board.category) : null,
          board.predefined && board.category !== 'Predefined' ? h('span', {class: 'badge predefined'}, 'predefined') : null,
          h('span', {class: 'spacer'}),
          canWrite ? [
            h('button', {type: 'button', class: 'primary', on: {click: addGraph}}, 'Add graph'),
            h('button', {type: 'button', on: {click: edit}}, 'Edit'),
            h('button', {type: 'button', class: 'danger', on: {click: remove}}, 'Delete board'),
          ] : null),
        board.filter ? h('p', {class: 'muted'}, 'Filter: ', h('code', {}, board.filter)) : null,
        graphs.length
          ? h('div', {class: 'graphs'}, graphs.map((card) => card.element))
          : h('p', {class: 'muted empty'}, canWrite ? 'No graphs yet: “Add graph”.' : 'No graphs.'));
      document.title = `${board.name} · Boards · Acta`;
      for (const card of graphs) card.load();
    }
    render();
  }

  /** Goes to the list or a board, saying `message` there (a hash change would clear it). */
  function open(params, message) {
    ctx.navigate(params, {push: true});
    show(new URLSearchParams(params));
    notice.say(message);
  }

  function show(params) {
    teardown();
    teardown = () => {};
    const id = params.get('board');
    if (id) showBoard(id);
    else showList();
  }

  show(ctx.params);
  return {
    update(params) {
      notice.hide();
      show(params);
    },
    unmount: () => teardown(),
  };
}

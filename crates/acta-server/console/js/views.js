// The views page (seed 002, step 3): saved searches grouped by category. Open one (the search page with its
// query and range), rename it, move it to another category, attach an alert, delete it. Views are saved from
// the search page ("Save as view"). A view with alerts cannot be deleted (409), and the page says so.

import {api} from './api.js';
import {h, replace, banner} from './dom.js';
import {openDialog, field} from './dialog.js';
import {groupByCategory, categoryInput} from './categories.js';
import {rangeText, searchRangeOf} from './timerange.js';

const WRITERS = new Set(['writer', 'manager', 'admin']);

export function mount(root, ctx) {
  const canWrite = WRITERS.has(ctx.me.key.role);
  const alertsUsable = !ctx.me.key.instance;
  const notice = banner();
  const list = h('div', {class: 'groups'});
  let views = [];
  let categories = [];
  let alertCounts = new Map();

  const searchLink = (view) => ctx.link('search', {q: view.query, ...searchRangeOf(view.from, view.to), view: view.id});

  async function rename(view) {
    const name = h('input', {value: view.name, required: true, maxlength: 200, autocomplete: 'off'});
    const saved = await openDialog({
      title: `Rename view ${view.name}`,
      fields: [field('Name', name)],
      onSubmit: () => api('PATCH', `/v1/views/${encodeURIComponent(view.id)}`, {body: {name: name.value.trim()}}),
    });
    if (saved) {
      await load();
      notice.say(`View “${view.name}” renamed to “${name.value.trim()}”.`);
    }
  }

  async function move(view) {
    const {input, list: options} = categoryInput(categories, view.category);
    const saved = await openDialog({
      title: `Category of view ${view.name}`,
      fields: [field('Category', input, 'an existing one, a new name, or empty for none'), options],
      onSubmit: () => api('PATCH', `/v1/views/${encodeURIComponent(view.id)}`, {body: {category: input.value.trim()}}),
    });
    if (saved) {
      await load();
      notice.say(input.value.trim() ? `View “${view.name}” moved to “${input.value.trim()}”.` : `View “${view.name}” has no category now.`);
    }
  }

  async function remove(view) {
    let refusal = null;
    const confirmed = await openDialog({
      title: `Delete view ${view.name}?`,
      fields: [h('p', {}, 'The saved search goes; the events stay. A view with alerts keeps until its alerts are deleted.')],
      submitLabel: 'Delete',
      danger: true,
      onSubmit: async () => {
        try {
          await api('DELETE', `/v1/views/${encodeURIComponent(view.id)}`);
        } catch (error) {
          // Said on the page, next to the list, as the server words it (409 while alerts are attached).
          refusal = error;
        }
      },
    });
    if (refusal || confirmed) await load();
    if (refusal) notice.fail(`Deleting “${view.name}”`, refusal);
    else if (confirmed) notice.say(`View “${view.name}” deleted.`);
  }

  function row(view) {
    const alerts = alertCounts.get(view.id) || 0;
    return h('tr', {dataset: {viewId: view.id}},
      h('th', {scope: 'row'}, h('a', {href: searchLink(view), title: 'Open in search'}, view.name)),
      h('td', {class: 'mono query-cell'}, view.query || h('span', {class: 'muted'}, '(everything)')),
      h('td', {}, rangeText(view.from, view.to)),
      h('td', {}, alertsUsable
        ? h('a', {href: ctx.link('alerts', {view: view.id})}, alerts ? `${alerts} alert${alerts === 1 ? '' : 's'}` : 'none')
        : ''),
      h('td', {class: 'actions'},
        h('a', {class: 'button small', href: searchLink(view), 'aria-label': `Open ${view.name}`}, 'Open'),
        canWrite ? [
          h('button', {type: 'button', class: 'small', 'aria-label': `Rename ${view.name}`, on: {click: () => rename(view)}}, 'Rename'),
          h('button', {type: 'button', class: 'small', 'aria-label': `Change the category of ${view.name}`, on: {click: () => move(view)}}, 'Category'),
          alertsUsable
            ? h('a', {class: 'button small', href: ctx.link('alerts', {attach: view.id}), 'aria-label': `Attach an alert to ${view.name}`}, 'Attach alert')
            : null,
          h('button', {type: 'button', class: 'small danger', 'aria-label': `Delete ${view.name}`, on: {click: () => remove(view)}}, 'Delete'),
        ] : null));
  }

  function render() {
    if (views.length === 0) {
      replace(list, h('p', {class: 'empty muted'}, 'No views yet. Search for something, then choose “Save as view”.'));
      return;
    }
    replace(list, groupByCategory(views).map(([category, members]) => h('section', {class: 'group', 'aria-label': category || 'No category'},
      h('h2', {}, category || 'No category', h('span', {class: 'muted'}, ` · ${members.length}`)),
      h('div', {class: 'table-box'}, h('table', {class: 'views'},
        h('thead', {}, h('tr', {}, ['Name', 'Query', 'Range', 'Alerts', 'Actions'].map((name) => h('th', {scope: 'col'}, name)))),
        h('tbody', {}, members.map(row)))))));
  }

  async function load() {
    try {
      const answer = await api('GET', '/v1/views');
      views = answer.views || [];
      categories = (answer.categories || []).map((category) => category.name).filter(Boolean);
    } catch (error) {
      notice.fail('Listing the views', error);
      return;
    }
    alertCounts = new Map();
    if (alertsUsable) {
      try {
        for (const alert of (await api('GET', '/v1/alerts')).alerts || []) alertCounts.set(alert.view, (alertCounts.get(alert.view) || 0) + 1);
      } catch {
        // The counts are a convenience; the alerts page says what went wrong.
      }
    }
    render();
  }

  replace(root, h('section', {class: 'page views-page', 'aria-label': 'Views'},
    h('header', {class: 'page-head'}, h('h1', {}, 'Views'),
      h('p', {class: 'muted'}, 'Saved searches, by category. Save one from the ',
        h('a', {href: ctx.link('search')}, 'search page'), ' with “Save as view”; attach alerts to be told when it matches.')),
    notice.element, list));
  load();
  return {};
}

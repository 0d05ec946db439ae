// The insights page: the account's unusual hours found by Acta (docs/insights.md), newest first. Each says
// what was unusual and draws the hour's count beside the same hour of the 7 days before, so a reader sees at a
// glance how far it is from the usual; "Events" opens the search on the events it counted.

import {api} from './api.js';
import {h, s, replace, banner, formatTime, formatCount} from './dom.js';

const DIMENSIONS = {action: 'Action', action_failures: 'Failures of an action', principal: 'Principal'};
const CHART = {width: 240, height: 64, gap: 4, label: 14};

/** Bars of the 7 baseline hours (oldest first) and the hour itself, highlighted, scaled to the largest. */
function chart(insight) {
  const baseline = insight.baseline || [];
  const bars = [...baseline.map((day) => ({count: day.count, hour: day.hour, now: false})),
    {count: insight.count, hour: insight.hour, now: true}];
  const most = Math.max(1, ...bars.map((bar) => bar.count));
  const width = (CHART.width - CHART.gap * (bars.length - 1)) / bars.length;
  const plot = CHART.height - CHART.label;
  const label = `Baseline ${baseline.map((day) => day.count).join(', ')}; this hour ${insight.count}`;
  return s('svg', {class: 'insight-chart', viewBox: `0 0 ${CHART.width} ${CHART.height}`, width: CHART.width,
    height: CHART.height, role: 'img', 'aria-label': label},
  bars.map((bar, i) => {
    const height = Math.max(1, (bar.count / most) * (plot - 2));
    const x = i * (width + CHART.gap);
    return s('g', {},
      s('rect', {x, y: plot - height, width, height, class: bar.now ? 'bar now' : 'bar'},
        s('title', {}, `${formatTime(Date.parse(bar.hour), {millis: false})}: ${formatCount(bar.count)}`)),
      s('text', {x: x + width / 2, y: CHART.height - 2, 'text-anchor': 'middle', class: 'tick'},
        bar.now ? 'now' : `-${baseline.length - i}d`));
  }));
}

export function mount(root, ctx) {
  const notice = banner();
  const list = h('div', {class: 'insights-list'});

  function card(insight) {
    const events = ctx.link('search', {q: insight.query, range: 'custom', from: Date.parse(insight.hour), to: Date.parse(insight.hour_end)});
    return h('article', {class: 'insight', dataset: {insightId: insight.id}},
      h('header', {},
        h('h2', {}, insight.message),
        h('p', {class: 'muted'},
          `${DIMENSIONS[insight.dimension] || insight.dimension} · hour from ${formatTime(Date.parse(insight.hour), {millis: false})}`,
          ` · found ${formatTime(Date.parse(insight.detected_at), {millis: false})}`)),
      h('div', {class: 'insight-body'},
        chart(insight),
        h('dl', {class: 'insight-figures'},
          h('dt', {}, 'This hour'), h('dd', {}, formatCount(insight.count)),
          h('dt', {}, 'Usual (median)'), h('dd', {}, String(insight.median)),
          h('dt', {}, 'Ratio'), h('dd', {}, `${insight.ratio >= 10 ? Math.round(insight.ratio) : insight.ratio.toFixed(1)}x`)),
        h('a', {class: 'button small', href: events, 'aria-label': `Events of ${insight.key} in that hour`}, 'Events')));
  }

  async function load() {
    let insights;
    try {
      insights = (await api('GET', '/v1/insights')).insights || [];
    } catch (error) {
      notice.fail('Listing the insights', error);
      return;
    }
    if (insights.length === 0) {
      replace(list, h('p', {class: 'empty muted'},
        'No unusual activity found. Acta compares each hour of every action, failed action and principal with the same hour of the 7 days before.'));
      return;
    }
    replace(list, insights.map(card));
  }

  replace(root, h('section', {class: 'page insights-page', 'aria-label': 'Insights'},
    h('header', {class: 'page-head'}, h('h1', {}, 'Insights'),
      h('p', {class: 'muted'}, 'Hours whose activity is far from the account’s own usual, found without a threshold. ',
        'Attach an alert of kind “insight” to a view of ', h('code', {}, 'action:acta.insight'), ' to be told of them.')),
    notice.element, list));
  load();
  const timer = window.setInterval(load, 30_000);
  return {unmount: () => window.clearInterval(timer)};
}

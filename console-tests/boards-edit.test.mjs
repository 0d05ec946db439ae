// Boards in a real browser, beyond building one (views-alerts-boards.test.mjs): a graph is edited (title, query,
// range, breakdown) and moved up and down, and a bar's drill-down links for the "other" values and for the
// events without the breakdown field list exactly those events on the search page.
// Runs the real `acta serve` binary and Debian's Chromium at 1280x800.

import {after, before, describe, it} from 'node:test';
import assert from 'node:assert/strict';

import {assertCleanPage, client, createAccount, launchBrowser, openPage, screenshotPath, signIn, startWithAdmin, tearDown} from './helpers.mjs';

const ACCOUNT = 'umbrella';
// Events of one half hour, by user agent: with the top 1 value shown, `cli` has its colour, `ui` and `sdk` are
// "other", and two events have no agent at all.
const AGENTS = ['cli', 'cli', 'cli', 'ui', 'ui', 'sdk', null, null];

function widgetEvent(agent, i) {
  const host = agent ? {address: '192.0.2.10', agent} : undefined;
  return {
    eventTime: new Date(Date.now() - 30 * 60_000).toISOString(),
    action: 'umbrella.widget.read',
    outcome: 'success',
    message: `widget ${i} read`,
    initiator: {id: `user-${agent || 'none'}`, name: `user-${agent || 'none'}`, typeURI: 'service/security/account/user', ...(host ? {host} : {})},
    target: {id: `widget-${i}`, name: `widget-${i}`, typeURI: 'umbrella/widget'},
  };
}

describe('editing boards and their drill-downs', () => {
  let server;
  let browser;
  let page;
  let writer;
  let board;
  const pageErrors = [];

  before(async () => {
    let admin;
    ({server, admin} = await startWithAdmin());
    const key = (await createAccount(admin, {id: ACCOUNT, name: 'Umbrella',
      key: {name: 'builder', role: 'writer', principal: 'builder@umbrella.example'}})).secret;
    writer = client(server.url, key);
    await writer.send(AGENTS.map(widgetEvent));
    await writer.searchable('action:umbrella.widget', AGENTS.length);
    board = await writer.ok('POST', '/v1/boards', {name: 'Widgets', graphs: [
      {query: 'action:umbrella.widget', range: '7d'},
      {title: 'Everything', query: '', range: '24h'},
    ]});

    browser = await launchBrowser();
    ({page} = await openPage(browser, pageErrors, {watched: true}));
    await signIn(page, server.url, key, 'builder@umbrella.example');
    await openBoard();
  });

  async function openBoard() {
    await page.getByRole('link', {name: 'Boards', exact: true}).click();
    await page.getByRole('link', {name: 'Widgets', exact: true}).click();
    await page.getByRole('heading', {name: 'Widgets', level: 1}).waitFor();
  }

  after(() => tearDown(browser, server));

  const headings = () => page.locator('section.graph h2').allTextContents();
  const stored = async () => (await writer.ok('GET', `/v1/boards/${board.id}`)).graphs;

  it('edits a graph’s title, query, range and breakdown', async () => {
    await page.getByRole('button', {name: 'Edit graph events · action:umbrella.widget'}).click();
    const dialog = page.getByRole('dialog', {name: 'Edit graph events · action:umbrella.widget'});
    assert.equal(await dialog.getByLabel(/^Query/).inputValue(), 'action:umbrella.widget');
    assert.equal(await dialog.getByLabel('Range').inputValue(), '7d');
    await dialog.getByLabel('Title').fill('Widget reads by agent');
    await dialog.getByLabel(/^Query/).fill('umbrella.widget.read');
    await dialog.getByLabel('Range').selectOption('24h');
    await dialog.getByLabel(/^Breakdown by/).fill('initiator.host.agent');
    await dialog.getByLabel(/^Top values/).fill('1');
    await dialog.getByRole('button', {name: 'Save graph'}).click();
    await page.getByText('Graph “Widget reads by agent” saved.').waitFor();
    assert.deepEqual(await headings(), ['Widget reads by agent', 'Everything']);
    assert.match(await page.locator('section.graph').first().textContent(), /Last 24 hours · by initiator\.host\.agent/);
    assert.deepEqual((await stored())[0],
      {title: 'Widget reads by agent', query: 'umbrella.widget.read', field: null, range: '24h', breakdown: {field: 'initiator.host.agent', top: 1}});
  });

  it('moves a graph up and down', async () => {
    await page.getByRole('button', {name: 'Move graph Everything up'}).click();
    await page.getByText('Graph “Everything” moved up.').waitFor();
    assert.deepEqual(await headings(), ['Everything', 'Widget reads by agent']);
    assert.deepEqual((await stored()).map((graph) => graph.title), ['Everything', 'Widget reads by agent']);
    assert.equal(await page.getByRole('button', {name: 'Move graph Everything up'}).isDisabled(), true, 'the first graph cannot go up');
    await page.getByRole('button', {name: 'Move graph Everything down'}).click();
    await page.getByText('Graph “Everything” moved down.').waitFor();
    assert.deepEqual(await headings(), ['Widget reads by agent', 'Everything']);
    assert.deepEqual((await stored()).map((graph) => graph.title), ['Widget reads by agent', 'Everything']);
  });

  /** Clicks the bar holding the widget events and resolves to its detail panel. */
  async function openBar() {
    await openBoard();
    const graph = page.locator('section.graph', {has: page.locator('h2', {hasText: 'Widget reads by agent'})});
    const bars = graph.locator('.histogram-svg g.bar');
    await bars.first().waitFor();
    const labels = await bars.evaluateAll((all) => all.map((bar) => bar.getAttribute('aria-label')));
    const counts = labels.map((label) => Number(label.replace(/,/g, '').split(' ')[0]));
    assert.equal(Math.max(...counts), AGENTS.length, `one bar holds the ${AGENTS.length} events: ${labels}`);
    await graph.locator(`.histogram-svg g.bar[aria-label="${labels[counts.indexOf(AGENTS.length)]}"]`).click();
    const detail = graph.locator('.bar-detail');
    await detail.waitFor();
    return detail;
  }

  async function searchRows() {
    await page.waitForFunction(() => !/Searching/.test(document.querySelector('.summary')?.textContent || 'Searching'));
    return page.locator('tbody tr.event').allTextContents();
  }

  it('lists the events of the “other” values from a bar', async () => {
    const detail = await openBar();
    assert.deepEqual(await detail.locator('.bar-values li .value').allTextContents(), ['cli', 'other', '(without initiator.host.agent)']);
    await detail.getByRole('link', {name: 'Show events of other'}).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 3);
    const rows = await searchRows();
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((text) => /user-(cli|ui|sdk|none)/.exec(text)[1]).sort(), ['sdk', 'ui', 'ui']);
  });

  it('lists the events without the breakdown field from a bar', async () => {
    const detail = await openBar();
    const withoutAgent = detail.getByRole('link', {name: 'Show events of (without initiator.host.agent)'});
    await withoutAgent.waitFor();
    await detail.getByRole('link', {name: 'Show events of other'}).waitFor();
    await page.screenshot({path: screenshotPath('board-drilldown.png')});
    await withoutAgent.click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 2);
    const rows = await searchRows();
    assert.equal(rows.length, 2);
    for (const text of rows) assert.match(text, /user-none/);
  });

  it('raised no error in the page and broke no CSP rule', async () => {
    await assertCleanPage(page, pageErrors);
  });
});

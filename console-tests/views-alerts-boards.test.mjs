// Seed 002 in the console, steps 3 to 5: save the tutorial's views from the search page, attach an email alert
// to the key-deletion view and receive its email at a real SMTP receiver after two keys are deleted in the
// console, build the tutorial's board (graph `action`, query `iam-identity.user-apikey.`, Live, breakdown by
// action) and click a bar for its count and its events. Also: a view with alerts cannot be deleted, alert
// secrets are never shown back, the test button and the history.
// Runs the real `acta serve` binary and Debian's Chromium; writes screenshots at 1280x800 to docs/screenshots/.

import {after, before, describe, it} from 'node:test';
import assert from 'node:assert/strict';

import {assertCleanPage, client, createAccount, launchBrowser, openPage, screenshotPath, signIn, startWithAdmin, tearDown} from './helpers.mjs';
import {startSmtp} from './smtp.mjs';

const ACCOUNT = 'globex';
// Seed 002, step 3, table 1: the tutorial's search conditions, each saved as a view.
const VIEWS = [
  {name: 'User API key events', query: '(action user-apikey) -login', category: 'User API keys'},
  {name: 'Failed user API key events', query: '(action user-apikey) -login failure', category: 'User API keys'},
  {name: 'User API key deletions', query: '(action user-apikey.delete) -login', category: 'User API keys'},
  {name: 'User API key updates', query: '(action user-apikey.update) -login', category: 'User API keys'},
  {name: 'API key actions in the UI', query: 'initiator.host.agent:"NotSet" (action user-apikey) -login', category: 'Where actions come from'},
  {name: 'API key actions in the CLI', query: 'initiator.host.agent:"IBM Cloud CLI" (action user-apikey) -login', category: 'Where actions come from'},
];
const DELETIONS = VIEWS[2];
const ALERT_NAME = 'Two API keys deleted';
const SECRET = 'whsec-do-not-show-0123456789';
const ROUTING_KEY = 'pd-routing-key-do-not-show-42';

/** A seed-002 style IAM event: `verb` on user API key `name`, from the UI (NotSet) or the CLI. */
function apikeyEvent(verb, name, {agent = 'NotSet', outcome = 'success', minutesAgo = 5} = {}) {
  return {
    eventTime: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    action: `iam-identity.user-apikey.${verb}`,
    outcome,
    message: `IAM Identity Service: ${verb} user-apikey ${name}${outcome === 'failure' ? ' -failure' : ''}`,
    logSourceCRN: `crn:v1:bluemix:public:iam-identity::a/${ACCOUNT}::apikey:${name}`,
    initiator: {id: 'IBMid-550006', name: 'auditor@globex.example', typeURI: 'service/security/account/user',
      host: {address: '198.51.100.4', agent}, credential: {type: 'token'}},
    target: {id: `ApiKey-${name}`, name, typeURI: 'iam-identity/user-apikey'},
    observer: {name: 'ActivityTracker'},
    reason: {reasonCode: outcome === 'failure' ? 409 : 200},
  };
}

describe('views, alerts and boards in the console (seed 002)', () => {
  let server;
  let smtp;
  let browser;
  let context;
  let page;
  let writer;
  let writerKey;
  let manager;
  const pageErrors = [];

  before(async () => {
    smtp = await startSmtp();
    let admin;
    ({server, admin} = await startWithAdmin({smtpUrl: smtp.url}));
    writerKey = (await createAccount(admin, {id: ACCOUNT, name: 'Globex',
      key: {name: 'officer', role: 'manager', principal: 'auditor@globex.example', description: 'security officer'}})).secret;
    writer = client(server.url, writerKey);
    manager = writer;
    // The tutorial's step 2: key actions from the UI and the CLI, one of them refused (the key was locked).
    await writer.send([
      apikeyEvent('create', 'demo-key', {minutesAgo: 40}), apikeyEvent('update', 'demo-key', {minutesAgo: 39}),
      apikeyEvent('delete', 'demo-key', {minutesAgo: 38}),
      apikeyEvent('create', 'demo-key-cli', {agent: 'IBM Cloud CLI', minutesAgo: 30}),
      apikeyEvent('update', 'demo-key-cli', {agent: 'IBM Cloud CLI', minutesAgo: 29}),
      apikeyEvent('delete', 'demo-key-cli', {agent: 'IBM Cloud CLI', outcome: 'failure', minutesAgo: 28}),
      apikeyEvent('delete', 'demo-key-cli', {agent: 'IBM Cloud CLI', minutesAgo: 27}),
    ]);
    await writer.searchable('(action user-apikey) -login', 7);

    browser = await launchBrowser();
    ({context, page} = await openPage(browser, pageErrors, {watched: true}));
    await signIn(page, server.url, writerKey, 'auditor@globex.example');
  });

  after(() => tearDown(browser, server, smtp));

  const settled = () => page.waitForFunction(() => !/Searching/.test(document.querySelector('.summary')?.textContent || 'Searching'));

  async function search(q, range = '24h') {
    await page.getByRole('link', {name: 'Search', exact: true}).click();
    // The link opens a fresh search: wait until the page has taken it (its query emptied) and its own first
    // search has ended, or either could put the empty query back over the typed one.
    const input = await page.getByLabel('Search query').elementHandle();
    await page.waitForFunction((element) => element.value === '', input);
    await settled();
    await page.getByLabel('Search query').fill(q);
    await page.locator(`.range-button[data-range="${range}"]`).click();
    await settled();
    assert.equal(await page.getByLabel('Search query').inputValue(), q);
  }

  async function goTo(name) {
    await page.getByRole('link', {name, exact: true}).click();
    await page.getByRole('heading', {name, exact: true, level: 1}).waitFor();
  }

  const viewRow = (name) => page.locator('table.views tr', {has: page.locator('th', {hasText: new RegExp(`^${name}$`)})});
  const alertRow = (name) => page.locator('table.alerts tr', {has: page.locator('th', {hasText: new RegExp(`^${name}$`)})});

  it('saves the tutorial views from the search page, listed by category', async () => {
    for (const view of VIEWS) {
      await search(view.query, '24h');
      await page.getByRole('button', {name: 'Save as view'}).click();
      const dialog = page.getByRole('dialog', {name: 'Save as view'});
      assert.match(await dialog.textContent(), new RegExp(view.query.replace(/[()".]/g, '\\$&')));
      await dialog.getByLabel('Name', {exact: true}).fill(view.name);
      await dialog.getByLabel('Category').fill(view.category);
      await dialog.getByRole('button', {name: 'Save view'}).click();
      await page.locator('.saved-note', {hasText: `View “${view.name}” saved in “${view.category}”`}).waitFor();
    }
    await goTo('Views');
    const groups = page.locator('.views-page section.group');
    await groups.nth(1).waitFor();
    assert.deepEqual(await groups.locator('h2').allTextContents(), ['User API keys · 4', 'Where actions come from · 2']);
    assert.equal(await groups.nth(0).locator('tbody tr').count(), 4);
    assert.equal(await viewRow(DELETIONS.name).locator('td').first().textContent(), DELETIONS.query);
    assert.match(await viewRow(DELETIONS.name).textContent(), /Last 24 hours/);
    const saved = (await writer.ok('GET', '/v1/views')).views;
    assert.equal(saved.length, VIEWS.length);
    assert.deepEqual(saved.find((v) => v.name === DELETIONS.name), {...saved.find((v) => v.name === DELETIONS.name),
      query: DELETIONS.query, category: DELETIONS.category, from: '24h'});
    await page.screenshot({path: screenshotPath('views.png')});
  });

  it('opens a view on the search page with its query and range', async () => {
    await viewRow('API key actions in the CLI').getByRole('link', {name: 'Open API key actions in the CLI'}).click();
    await page.waitForFunction(() => !/Searching/.test(document.querySelector('.summary')?.textContent || 'Searching'));
    assert.equal(await page.getByLabel('Search query').inputValue(), VIEWS[5].query);
    assert.equal(await page.locator('.range-button[data-range="24h"]').getAttribute('aria-pressed'), 'true');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
    for (const text of await page.locator('tbody tr.event').allTextContents()) assert.match(text, /demo-key-cli/);
  });

  it('says which view is open, marks it changed when the query or range differs, and saves the change to it', async () => {
    const CLI = VIEWS[5];
    const bar = page.getByRole('region', {name: 'Open view'});
    await bar.getByText(`View: ${CLI.name}`).waitFor();
    assert.equal(await bar.locator('.badge.changed').count(), 0, 'just opened: not changed');
    await page.getByLabel('Search query').fill(`${CLI.query} failure`);
    await page.getByLabel('Search query').press('Enter');
    await settled();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 1);
    await bar.locator('.badge.changed', {hasText: 'changed'}).waitFor();
    assert.match(await bar.textContent(), new RegExp(`saved as ${CLI.query.replace(/[()".]/g, '\\$&')} · Last 24 hours`));
    await page.locator('.range-button[data-range="7d"]').click();
    await settled();
    await bar.getByRole('button', {name: 'Save as new view'}).waitFor();
    await page.screenshot({path: screenshotPath('search-view-changed.png')});
    await bar.getByRole('button', {name: 'Save changes to view'}).click();
    await page.locator('.saved-note', {hasText: `View “${CLI.name}” saved: ${CLI.query} failure · Last 7 days.`}).waitFor();
    assert.equal(await bar.locator('.badge.changed').count(), 0, 'saved: the search is the view again');
    assert.match(await bar.textContent(), new RegExp(`^View: ${CLI.name}`));
    const view = (await writer.ok('GET', '/v1/views')).views.find((v) => v.name === CLI.name);
    assert.deepEqual([view.query, view.from, view.to ?? null], [`${CLI.query} failure`, '7d', null]);
    // Closing the view leaves the search as it is, no longer tied to the view.
    await bar.getByRole('button', {name: `Close view ${CLI.name}`}).click();
    assert.equal(await bar.isHidden(), true);
    assert.equal(new URLSearchParams(page.url().split('?')[1]).get('view'), null);
  });

  it('renames a view and moves it to another category', async () => {
    await goTo('Views');
    await viewRow('API key actions in the UI').getByRole('button', {name: 'Rename API key actions in the UI'}).click();
    await page.getByRole('dialog').getByLabel('Name', {exact: true}).fill('API key actions in the web UI');
    await page.getByRole('dialog').getByRole('button', {name: 'Save'}).click();
    await viewRow('API key actions in the web UI').waitFor();
    await viewRow('API key actions in the web UI').getByRole('button', {name: 'Change the category of API key actions in the web UI'}).click();
    await page.getByRole('dialog').getByLabel('Category').fill('User API keys');
    await page.getByRole('dialog').getByRole('button', {name: 'Save'}).click();
    await page.getByText('View “API key actions in the web UI” moved to “User API keys”.').waitFor();
    assert.deepEqual(await page.locator('.views-page section.group h2').allTextContents(), ['User API keys · 5', 'Where actions come from · 1']);
  });

  it('attaches an email alert to the key-deletion view: presence, 2 events, immediately', async () => {
    await viewRow(DELETIONS.name).getByRole('link', {name: `Attach an alert to ${DELETIONS.name}`}).click();
    const form = page.getByRole('form', {name: 'Attach an alert'});
    await form.waitFor();
    assert.match(await form.getByLabel('View').locator('option:checked').textContent(), new RegExp(`^${DELETIONS.name}`));
    await form.getByLabel(/^Name/).fill(ALERT_NAME);
    await form.getByLabel('Presence: events arrived').check();
    await form.getByLabel('At least N events (N)').fill('2');
    await form.getByLabel('Time frequency (window)').selectOption('1h');
    await form.getByLabel('Immediately, when the Nth event arrives').check();
    await form.getByLabel(/^Time zone/).fill('Europe/Paris');
    await form.getByLabel('Channel type').selectOption('email');
    await form.getByLabel(/^To\b/).fill('security@globex.example');
    await form.getByRole('button', {name: 'Attach alert'}).click();
    await page.getByText(`Alert “${ALERT_NAME}” attached to view “${DELETIONS.name}”.`).waitFor();
    const row = alertRow(ALERT_NAME);
    assert.match(await row.textContent(), /At least 2 events in 1 hour, immediately/);
    assert.match(await row.textContent(), /Email to security@globex\.example/);
    const [alert] = (await writer.ok('GET', '/v1/alerts')).alerts;
    assert.equal(alert.kind, 'presence');
    assert.equal(alert.threshold, 2);
    assert.equal(alert.immediate, true);
    assert.equal(alert.timezone, 'Europe/Paris');
  });

  it('sends a test notification and shows its delivery', async () => {
    await alertRow(ALERT_NAME).getByRole('button', {name: `Test ${ALERT_NAME}`}).click();
    const email = await smtp.waitFor((m) => m.subject.includes('test notification'));
    assert.equal(email.subject, `[Acta] ${ALERT_NAME}: test notification for view "${DELETIONS.name}"`);
    assert.deepEqual(email.to, ['security@globex.example']);
    await page.locator('.banner', {hasText: `Test of “${ALERT_NAME}”: Email to security@globex.example: delivered`}).waitFor();
    const history = page.getByRole('region', {name: 'Alert history'});
    await history.locator('.firing', {hasText: 'test notification'}).locator('.badge.delivery-delivered').waitFor();
  });

  it('emails the alert when two keys are deleted in the console', async () => {
    for (const name of ['old-ci-key', 'old-laptop-key']) await manager.ok('POST', '/v1/keys', {name, role: 'reader'});
    await goTo('API keys');
    for (const name of ['old-ci-key', 'old-laptop-key']) {
      await page.getByRole('button', {name: `Delete ${name}`}).click();
      await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
      await page.getByText(`Key “${name}” deleted.`).waitFor();
    }
    const email = await smtp.waitFor((m) => m.subject.includes('events matched'));
    assert.equal(email.subject, `[Acta] ${ALERT_NAME}: 2 events matched view "${DELETIONS.name}" in 1h`);
    assert.match(email.body, new RegExp(`Alert: ${ALERT_NAME}`));
    assert.match(email.body, /delete user-apikey old-ci-key/);
    assert.match(email.body, /delete user-apikey old-laptop-key/);
    // The firing and its delivery are in the alert's history.
    await goTo('Alerts');
    await alertRow(ALERT_NAME).getByRole('button', {name: `History of ${ALERT_NAME}`}).click();
    const firing = page.getByRole('region', {name: 'Alert history'}).locator('.firing', {hasText: '2 events matched'});
    await firing.locator('.badge.reason-immediate').waitFor();
    await firing.locator('.badge.delivery-delivered').waitFor();
    await page.screenshot({path: screenshotPath('alerts.png'), fullPage: false});
  });

  it('refuses to delete a view that has alerts, and says why', async () => {
    await goTo('Views');
    await viewRow(DELETIONS.name).getByRole('button', {name: `Delete ${DELETIONS.name}`}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    const refusal = page.locator('.banner.error');
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /Deleting “User API key deletions” failed: 409 Conflict: 1 alert\(s\) are attached to this view; delete them first/);
    assert.equal(await viewRow(DELETIONS.name).count(), 1);
    assert.match(await viewRow(DELETIONS.name).textContent(), /1 alert/);
  });

  it('edits an alert without showing its channel secrets, and keeps them', async () => {
    const view = (await writer.ok('GET', '/v1/views')).views.find((v) => v.name === VIEWS[1].name);
    await writer.ok('POST', '/v1/alerts', {view: view.id, name: 'Failures to PagerDuty', kind: 'presence', threshold: 1, window: '5m',
      channels: [{type: 'webhook', url: 'https://hooks.globex.example/acta', secret: SECRET},
        {type: 'pagerduty', routing_key: ROUTING_KEY, severity: 'critical'}]});
    await goTo('Alerts');
    const row = alertRow('Failures to PagerDuty');
    assert.match(await row.textContent(), /Webhook POST https:\/\/hooks\.globex\.example\/acta \(signed\)/);
    await row.getByRole('button', {name: 'Edit Failures to PagerDuty'}).click();
    const form = page.getByRole('form', {name: 'Edit alert Failures to PagerDuty'});
    await form.waitFor();
    assert.equal(await form.getByLabel('Secret').inputValue(), '');
    assert.equal(await form.getByLabel('Secret').getAttribute('placeholder'), 'set; leave empty to keep it');
    assert.equal(await form.getByLabel('Routing key').inputValue(), '');
    const everything = await page.content();
    assert.ok(!everything.includes(SECRET) && !everything.includes(ROUTING_KEY), 'no secret anywhere in the page');
    await form.getByLabel('At least N events (N)').fill('3');
    await form.getByRole('button', {name: 'Save alert'}).click();
    await page.getByText('Alert “Failures to PagerDuty” saved.').waitFor();
    assert.match(await row.textContent(), /At least 3 events in 5 minutes/);
    const saved = (await writer.ok('GET', '/v1/alerts')).alerts.find((a) => a.name === 'Failures to PagerDuty');
    assert.equal(saved.channels[0].secret, '********', 'the webhook secret is still set');
    assert.equal(saved.channels[1].routing_key, '********', 'the routing key is still set');
  });

  it('deletes an alert, then its view', async () => {
    await alertRow('Failures to PagerDuty').getByRole('button', {name: 'Delete Failures to PagerDuty'}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    await page.getByText('Alert “Failures to PagerDuty” deleted.').waitFor();
    assert.equal(await alertRow('Failures to PagerDuty').count(), 0);
    await goTo('Views');
    await viewRow(VIEWS[1].name).getByRole('button', {name: `Delete ${VIEWS[1].name}`}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    await page.getByText(`View “${VIEWS[1].name}” deleted.`).waitFor();
    assert.equal(await viewRow(VIEWS[1].name).count(), 0);
  });

  it('builds the tutorial board: graph action, query iam-identity.user-apikey., Live, by action', async () => {
    await goTo('Boards');
    await page.getByRole('button', {name: 'New board'}).click();
    await page.getByRole('dialog').getByLabel('Name', {exact: true}).fill('API keys live');
    await page.getByRole('dialog').getByRole('button', {name: 'Create board'}).click();
    await page.getByRole('heading', {name: 'API keys live', level: 1}).waitFor();
    await page.getByRole('button', {name: 'Add graph'}).click();
    const dialog = page.getByRole('dialog', {name: 'Add graph'});
    await dialog.getByLabel(/^Field/).fill('action');
    await dialog.getByLabel(/^Query/).fill('iam-identity.user-apikey.');
    await dialog.getByLabel('Range').selectOption('live');
    await dialog.getByLabel(/^Breakdown by/).fill('action');
    await dialog.getByRole('button', {name: 'Add graph'}).click();
    const graph = page.locator('section.graph').first();
    await graph.locator('.histogram-svg g.bar').first().waitFor();
    // One legend entry per action of the last hour: the seed's create, update, delete, and the console's login.
    const answer = await writer.ok('GET', `/v1/events/terms?${new URLSearchParams({q: 'iam-identity.user-apikey.', from: 'live', field: 'action'})}`);
    const actions = answer.values.map((v) => v.value);
    assert.ok(actions.length >= 3, `actions in the last hour: ${actions}`);
    const legend = await graph.locator('.legend li').allTextContents();
    assert.equal(legend.length, Math.min(actions.length, 5) + (actions.length > 5 ? 1 : 0), legend.join(' | '));
    for (const action of actions.slice(0, 5)) assert.ok(legend.some((entry) => entry.startsWith(` ${action} (`)), `${action} in ${legend}`);
    assert.match(await graph.textContent(), /Live · by action/);
    const board = (await writer.ok('GET', '/v1/boards')).boards.find((b) => b.name === 'API keys live');
    assert.deepEqual(board.graphs, [{title: null, query: 'iam-identity.user-apikey.', field: 'action', range: 'live', breakdown: {field: 'action', top: 5}}]);
  });

  it('draws new events on a live graph without a reload', async () => {
    const graph = page.locator('section.graph').first();
    const entry = graph.locator('.legend li', {hasText: 'iam-identity.user-apikey.update ('});
    const before = Number(/\((\d+)\)/.exec(await entry.textContent())[1]);
    await writer.send([apikeyEvent('update', 'demo-key-live', {minutesAgo: 0})]);
    await graph.locator('.legend li', {hasText: `iam-identity.user-apikey.update (${before + 1})`}).waitFor();
  });

  it('shows a bar’s count, per action, and opens its events', async () => {
    const graph = page.locator('section.graph').first();
    const bars = graph.locator('.histogram-svg g.bar');
    const labels = await bars.evaluateAll((all) => all.map((bar) => bar.getAttribute('aria-label')));
    // The tallest bar: the seed's first three events fall into one bucket or more; any bar with events works.
    const counts = labels.map((label) => Number(label.replace(/,/g, '').split(' ')[0]));
    const index = counts.indexOf(Math.max(...counts));
    // By its label (its count and time span): a live graph is redrawn every few seconds and its bars shift.
    await graph.locator(`.histogram-svg g.bar[aria-label="${labels[index]}"]`).click();
    const detail = graph.locator('.bar-detail');
    await detail.waitFor();
    assert.equal(await detail.locator('.bar-count').textContent(), `${counts[index]} ${counts[index] === 1 ? 'event' : 'events'}`);
    const perValue = await detail.locator('.bar-values li').allTextContents();
    assert.ok(perValue.length >= 1);
    const sum = perValue.reduce((total, text) => total + Number(/: ([\d,]+)/.exec(text)[1].replace(/,/g, '')), 0);
    assert.ok(sum <= counts[index] && sum >= 1, `${perValue} against ${counts[index]}`);
    await page.screenshot({path: screenshotPath('board.png')});
    await detail.getByRole('link', {name: 'Show events', exact: true}).click();
    await page.waitForFunction(() => !/Searching/.test(document.querySelector('.summary')?.textContent || 'Searching'));
    assert.equal(await page.locator('.range-button[data-range="custom"]').getAttribute('aria-pressed'), 'true');
    await page.waitForFunction((n) => document.querySelectorAll('tbody tr.event').length === n, counts[index]);
    for (const text of await page.locator('tbody tr.event').allTextContents()) assert.match(text, /iam-identity\.user-apikey\./);
  });

  it('names the board and saves it in a category', async () => {
    await goTo('Boards');
    await page.getByRole('link', {name: 'API keys live'}).click();
    await page.getByRole('button', {name: 'Edit', exact: true}).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', {exact: true}).fill('User API keys, live');
    await dialog.getByLabel('Category').fill('Security');
    await dialog.getByRole('button', {name: 'Save'}).click();
    await page.getByRole('heading', {name: 'User API keys, live', level: 1}).waitFor();
    await page.getByRole('link', {name: '← All boards'}).click();
    const security = page.locator('section.group', {has: page.locator('h2', {hasText: /^Security/})});
    await security.getByRole('link', {name: 'User API keys, live'}).waitFor();
    await page.locator('section.group', {has: page.locator('h2', {hasText: /^Predefined/})}).waitFor();
    await page.screenshot({path: screenshotPath('boards.png')});
  });

  it('deletes a board', async () => {
    await page.getByRole('link', {name: 'User API keys, live'}).click();
    await page.getByRole('button', {name: 'Delete board'}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    await page.getByText('Board “User API keys, live” deleted.').waitFor();
    assert.equal(await page.getByRole('link', {name: 'User API keys, live'}).count(), 0);
  });

  it('shows readers the views, alerts and boards without the changes they cannot make', async () => {
    const reader = await manager.ok('POST', '/v1/keys', {name: 'auditor-read-only', role: 'reader'});
    const {context: readerContext, page: readerPage} = await openPage(browser, pageErrors);
    try {
      await signIn(readerPage, server.url, reader.secret);
      await readerPage.locator('.summary', {hasText: 'in the last 24 hours'}).waitFor();
      assert.equal(await readerPage.getByRole('button', {name: 'Save as view'}).count(), 0);
      await readerPage.getByRole('link', {name: 'Views', exact: true}).click();
      await readerPage.locator('table.views tr', {hasText: DELETIONS.name}).waitFor();
      assert.equal(await readerPage.getByRole('link', {name: `Open ${DELETIONS.name}`}).count(), 1);
      assert.equal(await readerPage.locator('.views-page button').count(), 0, 'no Rename, Category or Delete');
      await readerPage.getByRole('link', {name: 'Alerts', exact: true}).click();
      await readerPage.locator('table.alerts tr', {hasText: ALERT_NAME}).waitFor();
      assert.deepEqual(await readerPage.locator('table.alerts tbody button').allTextContents(), ['History']);
      await readerPage.getByRole('link', {name: 'Boards', exact: true}).click();
      await readerPage.getByRole('link', {name: 'Account activity'}).click();
      await readerPage.locator('section.graph .histogram-svg').first().waitFor();
      assert.equal(await readerPage.locator('.boards-page button:not(.bar-detail button)').count(), 0, 'no Add graph, Edit, Delete or Remove');
    } finally {
      await readerContext.close();
    }
  });

  it('works in a narrow window', async () => {
    await page.setViewportSize({width: 420, height: 800});
    try {
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      await goTo('Views');
      await viewRow(DELETIONS.name).waitFor();
      assert.ok(await overflow() <= 1, `views: the page scrolls sideways by ${await overflow()}px`);
      await goTo('Alerts');
      await page.getByRole('button', {name: 'Attach an alert'}).click();
      await page.getByRole('form', {name: 'Attach an alert'}).waitFor();
      assert.ok(await overflow() <= 1, `alert editor: the page scrolls sideways by ${await overflow()}px`);
      await page.getByRole('button', {name: 'Cancel'}).click();
      await goTo('Boards');
      await page.locator('section.group', {has: page.locator('h2', {hasText: /^Predefined/})}).getByRole('link').first().click();
      await page.locator('section.graph').first().waitFor();
      assert.ok(await overflow() <= 1, `board: the page scrolls sideways by ${await overflow()}px`);
    } finally {
      await page.setViewportSize({width: 1280, height: 800});
    }
  });

  it('raised no error in the page and broke no CSP rule', async () => {
    await assertCleanPage(page, pageErrors);
  });
});

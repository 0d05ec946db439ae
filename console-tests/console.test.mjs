// The web console in a real browser: seed 000 (search, the predefined board) and seed 002's keys, a query
// syntax error, live tail, and hostile event fields and object names rendered as text with nothing executed.
// Seed 002's views, alert and board are walked in views-alerts-boards.test.mjs.
// Runs the real `acta serve` binary and Debian's Chromium; writes screenshots at 1280x800 to docs/screenshots/.

import {after, before, describe, it} from 'node:test';
import assert from 'node:assert/strict';

import {ADMIN_KEY, assertCleanPage, client, createAccount, kmsEvent, launchBrowser, openPage, screenshotPath, signIn, startWithAdmin, tearDown} from './helpers.mjs';

const XSS_MARKER = 'xss-probe';
const BULK = 130;
const HOSTILE = {
  script: '<script>window.__xssRan = "script"</script>',
  img: '<img src=x onerror="window.__xssRan = \'img\'; alert(1)">',
};

describe('the Acta web console', () => {
  let server;
  let browser;
  let context;
  let page;
  let admin;
  let manager;
  let managerKey;
  const pageErrors = [];

  before(async () => {
    ({server, admin} = await startWithAdmin());
    managerKey = (await createAccount(admin, {id: 'acme', name: 'Acme',
      instances: [{name: 'us-south', region: 'us-south', retention_days: 30}],
      key: {name: 'officer', role: 'manager', principal: 'officer@acme.example', description: 'security officer'}})).secret;
    manager = client(server.url, managerKey);
    // Seed 000: four Key Protect events in the last 24 hours, one three days ago (outside 24 h, inside 7 d).
    await manager.send([kmsEvent('create', 0, 300), kmsEvent('read', 1, 260), kmsEvent('delete', 2, 220), kmsEvent('create', 3, 180),
      kmsEvent('create', 4, 3 * 24 * 60)]);
    // Attacker-controlled text in every field the list shows, and in a field only the details show.
    await manager.send([{
      eventTime: new Date(Date.now() - 60_000).toISOString(),
      action: `acme.${XSS_MARKER}.create`,
      outcome: 'failure',
      message: `${HOSTILE.img} ${HOSTILE.script}`,
      initiator: {id: 'evil', name: HOSTILE.script, typeURI: 'service/security/account/user'},
      target: {id: 't-evil', name: HOSTILE.img, typeURI: '<svg onload=alert(2)>'},
      requestData: {note: '<iframe src="javascript:alert(3)"></iframe>'},
    }]);
    // More events than a page holds, an hour ago, for infinite scroll and export.
    const bulk = Array.from({length: BULK}, (_, i) => ({
      eventTime: new Date(Date.now() - 3600_000 + i * 1000).toISOString(),
      action: 'acme.bulk.read', outcome: i % 10 === 0 ? 'failure' : 'success', message: `bulk event ${i}`,
      initiator: {id: 'svc-1', name: 'batch-service', typeURI: 'service/security/account/serviceid'},
      target: {id: `obj-${i}`, name: `object-${i}`, typeURI: 'cloud-object-storage/object'},
    }));
    await manager.send(bulk);
    await manager.searchable('action:acme.bulk', BULK);
    await manager.searchable('target.typeURI_str:kms/secrets', 5);
    await manager.searchable(XSS_MARKER, 1);

    browser = await launchBrowser();
    ({context, page} = await openPage(browser, pageErrors, {watched: true, async prepare(context) {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: server.url});
      // Anything that executes from an event's text would call one of these or set the flag.
      await context.addInitScript(() => {
        window.__xssRan = null;
        window.__dialogs = [];
        for (const name of ['alert', 'confirm', 'prompt']) {
          window[name] = (...args) => { window.__dialogs.push([name, ...args]); return null; };
        }
      });
    }}));
  });

  after(() => tearDown(browser, server));

  async function search(q, range = '24h') {
    await page.getByLabel('Search query').fill(q);
    await page.locator(`.range-button[data-range="${range}"]`).click();
    await page.waitForFunction(() => !/Searching/.test(document.querySelector('.summary')?.textContent || 'Searching'));
  }

  const rows = () => page.locator('tbody tr.event');
  const rowTexts = () => rows().allTextContents();

  it('serves the page with a strict Content-Security-Policy', async () => {
    const response = await page.goto(server.url + '/');
    const headers = response.headers();
    assert.match(headers['content-security-policy'], /default-src 'self'; script-src 'self'; style-src 'self'/);
    assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.ok(headers['referrer-policy']);
  });

  it('signs in with an API key, and refuses a wrong one', async () => {
    await page.getByLabel('API key').waitFor();
    await page.screenshot({path: screenshotPath('sign-in.png')});
    await page.getByLabel('API key').fill('acta_0000000000000000_00000000000000000000000000000000_00000000');
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByText('the API key is not valid').waitFor();
    await page.getByLabel('API key').fill(managerKey);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.locator('.who').getByText('officer@acme.example').waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === 'acta_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    // The key itself is nowhere the page's scripts could read it.
    const stored = await page.evaluate(() => JSON.stringify({...window.localStorage}) + JSON.stringify({...window.sessionStorage}) + document.cookie);
    assert.ok(!stored.includes(managerKey));
  });

  it('makes no request that fails, before sign-in or on any page after it', async () => {
    const {context: fresh, page: visitor} = await openPage(browser, pageErrors);
    const failures = [];
    visitor.on('console', (message) => { if (message.type() === 'error') failures.push(message.text()); });
    visitor.on('response', (response) => { if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`); });
    await visitor.goto(server.url + '/');
    await visitor.getByLabel('API key').waitFor();
    await signIn(visitor, server.url, managerKey, 'officer@acme.example');
    for (const [link, heading] of [['Views', 'Views'], ['Alerts', 'Alerts'], ['Boards', 'Boards'], ['API keys', 'API keys'], ['Instances', 'Instances']]) {
      await visitor.getByRole('link', {name: link, exact: true}).click();
      await visitor.getByRole('heading', {name: heading, level: 1}).waitFor();
    }
    await visitor.locator('table.instances tbody tr').first().waitFor();
    await visitor.getByRole('link', {name: 'Search', exact: true}).click();
    await visitor.locator('tbody tr.event').first().waitFor();
    assert.deepEqual(failures, []);
    await fresh.close();
  });

  it('searches target.typeURI_str:kms/secrets over 24 hours (seed 000)', async () => {
    await search('target.typeURI_str:kms/secrets', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
    const texts = await rowTexts();
    assert.equal(texts.length, 4);
    for (const text of texts) assert.match(text, /kms\.secrets\.(create|read|delete)/);
    assert.match(await page.locator('.summary').textContent(), /4 events in the last 24 hours/);
    assert.match(await page.locator('thead th.time').textContent(), /Europe\/Paris/);
    // Seven days include the older event.
    await search('target.typeURI_str:kms/secrets', '7d');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 5);
    await search('target.typeURI_str:kms/secrets', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
    // The histogram: bars drawn (from the server's histogram when it has one, else from the page's events).
    const bars = page.locator('.histogram-svg g.bar');
    await bars.first().waitFor();
    assert.ok((await bars.count()) >= 1);
    // A row opens to every field and the full JSON.
    await rows().filter({hasText: 'kms.secrets.delete'}).click();
    await page.locator('.event-details').waitFor();
    assert.match(await page.locator('.raw-json').textContent(), /"typeURI": "kms\/secrets"/);
    await page.screenshot({path: screenshotPath('search.png')});
  });

  it('adds field:==value, or its negation, when a field value is clicked', async () => {
    await page.getByRole('button', {name: 'Filter: action:==kms.secrets.delete'}).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 1);
    assert.equal(await page.getByLabel('Search query').inputValue(), 'target.typeURI_str:kms/secrets action:==kms.secrets.delete');
    await rows().first().click();
    await page.getByRole('button', {name: 'Exclude: action:==kms.secrets.delete'}).click();
    // No rows is also the moment a search starts: wait for its end (the note under the list).
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 0
      && document.querySelector('.end-note').textContent !== '');
    assert.match(await page.locator('.end-note').textContent(), /No events match/);
    await search('target.typeURI_str:kms/secrets -action:==kms.secrets.delete', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 3);
  });

  it('zooms to a histogram bar when it is clicked', async () => {
    await search('target.typeURI_str:kms/secrets', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
    await page.locator('.histogram-svg g.bar').first().click();
    await page.waitForFunction(() => document.querySelector('.range-button[data-range="custom"]').getAttribute('aria-pressed') === 'true');
    // The count and the rows load separately: wait for the rows (or the note that there are none).
    await page.waitForFunction(() => !/Searching/.test(document.querySelector('.summary').textContent)
      && (document.querySelectorAll('tbody tr.event').length > 0 || document.querySelector('.end-note').textContent !== ''));
    const count = await rows().count();
    assert.ok(count >= 1 && count <= 4, `${count} rows in the zoomed range`);
    assert.match(page.url(), /range=custom/);
    // A bar of 24 hours is minutes wide: the zoomed axis says which minute and second each tick is, once.
    const ticks = (await page.locator('.histogram-svg text.tick').allTextContents()).filter((t) => t.includes(':'));
    assert.ok(ticks.length >= 2, ticks.join(' '));
    assert.equal(new Set(ticks).size, ticks.length, `repeated tick labels: ${ticks.join(' ')}`);
    // A live graph's bar is one minute: its drill-down's ticks are seconds apart, and say so.
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
    await page.goto(`${server.url}/#/search?q=&range=custom&from=${minute}&to=${minute + 60_000}`);
    await page.waitForFunction(() => !/Searching/.test(document.querySelector('.summary')?.textContent || 'Searching'));
    await page.locator('.histogram-svg text.tick').first().waitFor();
    const seconds = (await page.locator('.histogram-svg text.tick').allTextContents()).filter((t) => t.includes(':'));
    assert.ok(seconds.length >= 3 && seconds.every((t) => /^\d\d:\d\d:\d\d$/.test(t)), seconds.join(' '));
    assert.equal(new Set(seconds).size, seconds.length, `repeated tick labels: ${seconds.join(' ')}`);
  });

  it('answers a query with pipes with a table of its groups, and a plain query with events again', async () => {
    await search('target.typeURI_str:kms/secrets | stats count by action', '24h');
    const table = page.locator('table.pipe-table');
    await table.waitFor();
    assert.deepEqual(await table.locator('thead th').allTextContents(), ['action', 'count']);
    const cells = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    assert.deepEqual(cells, [['kms.secrets.create', '2'], ['kms.secrets.delete', '1'], ['kms.secrets.read', '1']]);
    assert.match(await page.locator('.summary').textContent(), /3 rows in/);
    assert.equal(await page.locator('.results').isHidden(), true);
    await search('target.typeURI_str:kms/secrets', '24h');
    await rows().first().waitFor();
    assert.equal(await page.locator('.pipe-answer').isHidden(), true);
    assert.equal(await rows().count(), 4);
    await assertCleanPage(page, pageErrors);
  });

  it('draws a timechart of a pipe query as bars split by its field, with its table', async () => {
    await search('action:acme.bulk | timechart span=1h count by outcome', '24h');
    await page.locator('.pipe-chart .histogram-svg g.bar').first().waitFor();
    const legend = await page.locator('.pipe-answer .legend li').allTextContents();
    assert.deepEqual(legend.map((text) => text.trim()), ['success (117)', 'failure (13)']);
    assert.deepEqual(await page.locator('table.pipe-table thead th').allTextContents(), ['_time', 'outcome', 'count']);
    const counts = await page.locator('table.pipe-table tbody tr td:last-child').allTextContents();
    assert.equal(counts.reduce((sum, text) => sum + Number(text), 0), BULK);
    await assertCleanPage(page, pageErrors);
  });

  it('loads more events as the list scrolls, and exports the search', async () => {
    await search('action:acme.bulk', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 100);
    await page.locator('.list-end').scrollIntoViewIfNeeded();
    await page.waitForFunction((n) => document.querySelectorAll('tbody tr.event').length === n, BULK);
    await page.getByText('End of the results.').waitFor();
    const ids = await page.locator('tbody tr.event').evaluateAll((rows) => rows.map((row) => row.dataset.id));
    assert.equal(new Set(ids).size, BULK, 'no event twice');
    // The export links carry the current search; the session cookie authenticates the download.
    const href = await page.getByRole('link', {name: 'Export NDJSON'}).getAttribute('href');
    assert.match(href, /^\/v1\/events\/export\?/);
    const exported = await page.request.get(server.url + href);
    assert.equal(exported.status(), 200);
    assert.equal((await exported.text()).trim().split('\n').length, BULK);
    const csv = await page.request.get(server.url + await page.getByRole('link', {name: 'Export CSV'}).getAttribute('href'));
    assert.equal((await csv.text()).trim().split('\n').length, BULK + 1);
  });

  it('shows a query syntax error at its column', async () => {
    const q = 'action:kms (outcome:failure';
    const expected = await manager.get(`/v1/events?q=${encodeURIComponent(q)}`);
    assert.equal(expected.status, 400);
    const column = expected.body.error.column;
    await search(q, '24h');
    const error = page.locator('#query-error');
    await error.waitFor();
    assert.match(await error.textContent(), new RegExp(`Column ${column}: `));
    assert.equal(await page.getByLabel('Search query').getAttribute('aria-invalid'), 'true');
    const caret = await page.getByLabel('Search query').evaluate((input) => input.selectionStart);
    assert.equal(caret, column - 1);
    await page.screenshot({path: screenshotPath('search-syntax-error.png')});
  });

  it('opens the search language page from the "?" beside the search bar', async () => {
    const [help] = await Promise.all([
      context.waitForEvent('page'),
      page.getByRole('link', {name: 'Search language help'}).click(),
    ]);
    await help.waitForLoadState();
    assert.equal(new URL(help.url()).pathname, '/console/help/query');
    await help.getByRole('heading', {name: 'Coming from Kibana, Lucene or LogDNA', level: 2}).waitFor();
    const exists = help.getByRole('row', {name: /^_exists_:reason/});
    assert.deepEqual(await exists.locator('td').allTextContents(),
      ['_exists_:reason (Lucene), reason:* (KQL)', 'reason:*', 'reason:*', 'yes']);
    assert.deepEqual(await help.evaluate(() => window.__cspViolations), []);
    await help.close();
    // The search page stays as it was, in its own tab.
    assert.equal(await page.getByLabel('Search query').inputValue(), 'action:kms (outcome:failure');
  });

  it('shows, when field conditions match nothing, the values those fields have, and a click replaces the condition', async () => {
    // Seed 002's IBM query for the web UI (agent NotSet), over Key Protect events all sent by IBM's CLI.
    await search('initiator.host.agent:"NotSet" target.typeURI_str:kms/secrets', '24h');
    await page.locator('.end-note', {hasText: 'No events match in the last 24 hours.'}).waitFor();
    const agent = page.locator('.zero-hint-field[data-field="initiator.host.agent"]');
    await agent.waitFor();
    assert.equal(await agent.textContent(),
      'initiator.host.agent has: IBM Cloud CLI (4) — in events matching target.typeURI_str:kms/secrets, the last 24 hours');
    assert.equal(await page.locator('.zero-hint-field[data-field="target.typeURI_str"]').textContent(),
      'target.typeURI_str has no value in events matching initiator.host.agent:"NotSet" in the last 24 hours.');
    await page.screenshot({path: screenshotPath('search-zero-hint.png')});
    await agent.getByRole('button', {name: 'IBM Cloud CLI (4)'}).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
    assert.equal(await page.getByLabel('Search query').inputValue(), 'initiator.host.agent:=="IBM Cloud CLI" target.typeURI_str:kms/secrets');
    assert.equal(await page.locator('.zero-hint').count(), 0, 'the hint goes with the results');
  });

  it('lists the fields of the results in a sidebar, with top values that filter in or out', async () => {
    await search('target.typeURI_str:kms/secrets', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
    const sidebar = page.getByRole('complementary', {name: 'Fields'});
    const action = sidebar.locator('.field-item[data-field="action"]');
    await action.locator('.field-toggle').click();
    const values = action.getByRole('list', {name: 'Top values of action'});
    await values.waitFor();
    assert.deepEqual(await values.locator('li').allTextContents(),
      ['kms.secrets.create2+−', 'kms.secrets.delete1+−', 'kms.secrets.read1+−']);
    assert.match(await action.locator('.field-summary').textContent(), /^Top 3 of 3 values in 4 events$/);
    await sidebar.getByLabel('Search field names').fill('host');
    assert.deepEqual(await sidebar.locator('.field-toggle-name').allTextContents(), ['initiator.host.address', 'initiator.host.agent']);
    await sidebar.getByLabel('Search field names').fill('');
    await page.screenshot({path: screenshotPath('search-field-sidebar.png')});
    await action.getByRole('button', {name: 'Filter out action: kms.secrets.create'}).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 2);
    assert.equal(await page.getByLabel('Search query').inputValue(), 'target.typeURI_str:kms/secrets -action:==kms.secrets.create');
    // The open field stays open and counts the new search.
    await values.locator('li').nth(1).waitFor();
    assert.deepEqual(await values.locator('li').allTextContents(), ['kms.secrets.delete1+−', 'kms.secrets.read1+−']);
    await action.getByRole('button', {name: 'Filter in action: kms.secrets.delete'}).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 1);
    assert.equal(await page.getByLabel('Search query').inputValue(),
      'target.typeURI_str:kms/secrets -action:==kms.secrets.create action:==kms.secrets.delete');
    assert.match(await rows().first().textContent(), /kms\.secrets\.delete/);
  });

  it('completes field names and their values in the search bar from the keyboard', async () => {
    const input = page.getByLabel('Search query');
    const listbox = page.getByRole('listbox', {name: 'Suggestions'});
    await input.fill('');
    await input.pressSequentially('initiator.host.ag');
    await listbox.getByRole('option', {name: 'initiator.host.agent: field'}).waitFor();
    assert.equal(await input.getAttribute('aria-expanded'), 'true');
    await page.keyboard.press('Tab');
    assert.equal(await input.inputValue(), 'initiator.host.agent:');
    // After `field:`, the values the field has in the range, most frequent first.
    await listbox.getByRole('option').first().waitFor();
    const options = await listbox.getByRole('option').allTextContents();
    assert.ok(options.includes('IBM Cloud CLI4'), options.join(' | '));
    assert.ok(options.some((o) => o.startsWith('Acta web console')), options.join(' | '));
    await input.pressSequentially('"ibm');
    await page.waitForFunction(() => document.querySelectorAll('#page [role="option"]').length === 1);
    await page.screenshot({path: screenshotPath('search-autocomplete.png')});
    await page.keyboard.press('ArrowDown');
    assert.equal(await input.getAttribute('aria-activedescendant'), await listbox.getByRole('option').first().getAttribute('id'));
    assert.equal(await listbox.getByRole('option').first().getAttribute('aria-selected'), 'true');
    await page.keyboard.press('Enter');
    assert.equal(await input.inputValue(), 'initiator.host.agent:"IBM Cloud CLI"');
    assert.equal(await listbox.isHidden(), true);
    await input.pressSequentially(' targ');
    await listbox.getByRole('option').first().waitFor();
    await page.keyboard.press('Escape');
    assert.equal(await listbox.isHidden(), true);
    assert.equal(await input.getAttribute('aria-expanded'), 'false');
    await input.fill('initiator.host.agent:"IBM Cloud CLI" target.typeURI_str:kms/secrets');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
  });

  it('saves a changed view as a new view, which becomes the open one', async () => {
    const view = await manager.ok('POST', '/v1/views', {name: 'Key Protect', query: 'target.typeURI_str:kms/secrets', from: '24h'});
    await page.goto(`${server.url}/#/views`);
    await page.getByRole('link', {name: 'Open Key Protect'}).click();
    const bar = page.getByRole('region', {name: 'Open view'});
    await bar.getByText('View: Key Protect').waitFor();
    await page.getByLabel('Search query').fill('target.typeURI_str:kms/secrets action:==kms.secrets.delete');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 1);
    await bar.getByRole('button', {name: 'Save as new view'}).click();
    const dialog = page.getByRole('dialog', {name: 'Save as view'});
    await dialog.getByLabel('Name', {exact: true}).fill('Key Protect key deletions');
    await dialog.getByRole('button', {name: 'Save view'}).click();
    await bar.getByText('View: Key Protect key deletions').waitFor();
    assert.equal(await bar.locator('.badge.changed').count(), 0);
    const views = (await manager.ok('GET', '/v1/views')).views.filter((v) => v.name.startsWith('Key Protect'));
    assert.deepEqual(views.map((v) => [v.name, v.query]).sort((a, b) => a[0].localeCompare(b[0])),
      [['Key Protect', 'target.typeURI_str:kms/secrets'], ['Key Protect key deletions', 'target.typeURI_str:kms/secrets action:==kms.secrets.delete']]);
    const created = views.find((v) => v.name === 'Key Protect key deletions');
    assert.equal(new URLSearchParams(page.url().split('?')[1]).get('view'), created.id);
    for (const v of [view, created]) await manager.ok('DELETE', `/v1/views/${v.id}`);
    await page.goto(`${server.url}/#/search`);
  });

  it('opens the predefined board Account activity and sees its bars (seed 000)', async () => {
    await page.getByRole('link', {name: 'Boards', exact: true}).click();
    const predefined = page.locator('section.group', {has: page.locator('h2', {hasText: /^Predefined/})});
    await predefined.getByRole('link', {name: 'Account activity'}).click();
    await page.getByRole('heading', {name: 'Account activity', level: 1}).waitFor();
    const graph = page.locator('section.graph').first();
    await graph.locator('.histogram-svg g.bar').first().waitFor();
    // 24 hours by service (`_platform`): the Key Protect events of the last day are the service `kms`.
    await graph.locator('.legend li', {hasText: /^ kms \(\d+\)$/}).waitFor();
    assert.match(await graph.locator('.graph-head').textContent(), /Events of the last 24 hours by service.*· by service/);
    assert.doesNotMatch(await graph.locator('.graph-head').textContent(), /_platform/);
  });

  it('creates, describes, locks, fails to delete, unlocks and deletes a key (seed 002)', async () => {
    await page.getByRole('link', {name: 'API keys'}).click();
    await page.getByRole('heading', {name: 'API keys'}).waitFor();
    const form = page.getByRole('form', {name: 'Create an API key'});
    await form.getByLabel('Name').fill('demo-key');
    await form.getByLabel('Role').selectOption('reader');
    await form.getByLabel('Description').fill('key for the tutorial');
    await form.getByRole('button', {name: 'Create key'}).click();
    const secret = await page.getByLabel('New API key').inputValue();
    assert.match(secret, /^acta_[0-9a-f]{16}_[0-9a-f]{32}_[0-9a-f]{8}$/);
    await page.getByRole('button', {name: 'Copy', exact: true}).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    // The new key works, and the secret is not in the list.
    assert.equal((await client(server.url, secret).get('/v1/events?limit=1')).status, 200);
    const row = page.locator('tr', {has: page.locator('th', {hasText: /^demo-key/})});
    await row.waitFor();
    assert.ok(!(await page.locator('table.keys').textContent()).includes(secret));
    await page.screenshot({path: screenshotPath('keys.png')});

    // Describe.
    await row.getByRole('button', {name: 'Describe demo-key'}).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Description').fill('described in the console');
    await dialog.getByRole('button', {name: 'Save'}).click();
    await row.getByText('described in the console').waitFor();

    // Lock; then Delete is disabled, saying why, rather than asking and failing.
    await row.getByRole('button', {name: 'Lock demo-key'}).click();
    await row.getByText('locked', {exact: true}).waitFor();
    const remove = row.getByRole('button', {name: 'Delete demo-key'});
    assert.equal(await remove.isDisabled(), true);
    assert.equal(await remove.getAttribute('title'), 'A locked key cannot be deleted: unlock it first');
    await row.getByText('Unlock to delete').waitFor();
    await page.screenshot({path: screenshotPath('keys-locked-delete-refused.png')});
    // Seed 002's failed deletion, from this session (its agent is the console's): the API refuses it with 409.
    const {session} = await (await page.request.get(`${server.url}/v1/session`)).json();
    const refused = await page.request.delete(`${server.url}/v1/keys/${await row.getAttribute('data-key-id')}`,
      {headers: {'x-csrf-token': session.csrf_token}});
    assert.equal(refused.status(), 409);
    assert.match((await refused.json()).error.message, /the key "demo-key" is locked; unlock it before you delete it/);
    assert.equal(await row.count(), 1);

    // Unlock and delete.
    await row.getByRole('button', {name: 'Unlock demo-key'}).click();
    await row.getByText('active', {exact: true}).waitFor();
    await row.getByRole('button', {name: 'Delete demo-key'}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete'}).click();
    await page.getByText('Key “demo-key” deleted.').waitFor();
    // The message comes before the list is read again: wait for the row to go.
    await row.waitFor({state: 'detached'});
    assert.equal((await client(server.url, secret).get('/v1/events?limit=1')).status, 401);
  });

  it('finds those key events, audited with agent Acta web console', async () => {
    const q = 'initiator.host.agent:"Acta web console" (action user-apikey) -login';
    await manager.searchable(q, 6, '24h');
    await page.getByRole('link', {name: 'Search'}).click();
    await search(q, '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length >= 6);
    const texts = (await rowTexts()).join('\n');
    for (const expected of [
      'IAM Identity Service: create user-apikey demo-key',
      'IAM Identity Service: update user-apikey demo-key',
      'IAM Identity Service: delete user-apikey demo-key -failure',
      'IAM Identity Service: delete user-apikey demo-key',
    ]) {
      assert.ok(texts.includes(expected), `${expected} in\n${texts}`);
    }
    await search('(action user-apikey) -login failure', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 1);
    assert.match((await rowTexts())[0], /iam-identity\.user-apikey\.delete.*failure/);
    // The agent comes from the session, whatever the browser's User-Agent says.
    const api = await manager.get(`/v1/events?from=24h&q=${encodeURIComponent('(action user-apikey) -login failure')}`);
    assert.equal(api.body.events[0].initiator.host.agent, 'Acta web console');
  });

  it('renders hostile event fields as text and executes nothing', async () => {
    await search(XSS_MARKER, '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 1);
    await rows().first().click();
    await page.locator('.event-details').waitFor();
    const text = await page.locator('table.events tbody').textContent();
    assert.ok(text.includes(HOSTILE.script), 'the <script> text is shown as text');
    assert.ok(text.includes(HOSTILE.img), 'the <img onerror> text is shown as text');
    const state = await page.evaluate(() => ({
      ran: window.__xssRan,
      dialogs: window.__dialogs,
      injected: document.querySelectorAll('#page script, #page img, #page iframe, #page svg:not(.histogram-svg):not(.legend svg)').length,
    }));
    assert.deepEqual(state, {ran: null, dialogs: [], injected: 0});
    await page.screenshot({path: screenshotPath('search-hostile-event.png')});
  });

  it('renders hostile names of views, alerts, boards and graph values as text and executes nothing', async () => {
    const view = await manager.ok('POST', '/v1/views', {name: HOSTILE.script, query: XSS_MARKER, category: HOSTILE.img, from: '24h'});
    await manager.ok('POST', '/v1/alerts', {view: view.id, name: HOSTILE.img, kind: 'presence', threshold: 1000, window: '1h',
      channels: [{type: 'webhook', url: 'https://hooks.example.com/acta'}]});
    // Breakdown by message: the legend and a bar's values are the event's hostile text.
    const board = await manager.ok('POST', '/v1/boards', {name: HOSTILE.img, category: HOSTILE.script,
      graphs: [{title: HOSTILE.script, query: XSS_MARKER, range: '24h', breakdown: {field: 'message'}}]});
    try {
      await hostileNamesShownAsText(board);
    } finally {
      // Out of the way of the walks that follow.
      await manager.call('DELETE', `/v1/boards/${board.id}`);
      await page.goto(`${server.url}/#/search`);
    }
  });

  it('says in the alert form, before saving, that email needs an SMTP relay this server lacks', async () => {
    const view = await manager.ok('POST', '/v1/views', {name: 'Key Protect deletions', query: 'action:kms.secrets.delete', from: '24h'});
    await page.goto(`${server.url}/#/alerts?view=${view.id}&attach=${view.id}`);
    const form = page.getByRole('form', {name: 'Attach an alert'});
    await form.waitFor();
    const notice = 'This server has no SMTP relay, so it cannot send email: the operator starts acta serve with --smtp-url, or choose a webhook, Slack or PagerDuty.';
    await form.getByText(notice).waitFor();
    const type = form.getByLabel('Channel type');
    assert.equal(await type.inputValue(), 'webhook', 'a new channel starts as a webhook');
    const email = type.locator('option[value="email"]');
    assert.equal(await email.textContent(), 'Email (no SMTP relay)');
    assert.equal(await email.isDisabled(), true, 'email cannot be chosen');
    assert.equal(await form.getByRole('textbox', {name: 'URL', exact: true}).isVisible(), true, 'the webhook URL can be typed instead');
    await page.screenshot({path: screenshotPath('alerts-no-smtp-relay.png')});
    await form.getByRole('button', {name: 'Cancel'}).click();
    assert.deepEqual((await manager.ok('GET', '/v1/alerts')).alerts.filter((a) => a.view === view.id), []);
    await manager.ok('DELETE', `/v1/views/${view.id}`);
    await page.goto(`${server.url}/#/search`);
  });

  async function hostileNamesShownAsText(board) {
    const shown = async (hash, selector) => {
      await page.goto(`${server.url}/#/${hash}`);
      await page.locator(selector).first().waitFor();
      return page.locator('#page').textContent();
    };
    const views = await shown('views', 'table.views');
    assert.ok(views.includes(HOSTILE.script) && views.includes(HOSTILE.img), 'view name and category as text');
    const alerts = await shown('alerts', 'table.alerts tbody th');
    assert.ok(alerts.includes(HOSTILE.img) && alerts.includes(HOSTILE.script), 'alert name and its view as text');
    const boards = await shown('boards', 'table.boards');
    assert.ok(boards.includes(HOSTILE.img) && boards.includes(HOSTILE.script), 'board name and category as text');
    await shown(`boards?board=${board.id}`, '.histogram-svg g.bar');
    await page.locator('.histogram-svg g.bar').first().click();
    await page.locator('.bar-values li').first().waitFor();
    const text = await page.locator('#page').textContent();
    for (const expected of [HOSTILE.img, HOSTILE.script, `${HOSTILE.img} ${HOSTILE.script}`]) assert.ok(text.includes(expected), expected);
    const state = await page.evaluate(() => ({
      ran: window.__xssRan,
      dialogs: window.__dialogs,
      injected: document.querySelectorAll('#page script, #page img, #page iframe, #page svg:not(.histogram-svg):not(.swatch)').length,
    }));
    assert.deepEqual(state, {ran: null, dialogs: [], injected: 0});
  }

  it('follows new events with the live tail (EventSource over the session cookie)', async () => {
    await search('action:kms.secrets.rotate', 'live');
    await page.locator('.tail-status', {hasText: 'waiting for events'}).waitFor();
    assert.equal(await page.locator('#tail-toggle').isChecked(), true);
    const event = kmsEvent('rotate', 9, 0);
    event.message = `${HOSTILE.img} rotated`;
    await manager.send([event]);
    await page.locator('tbody tr.event.fresh', {hasText: 'kms.secrets.rotate'}).waitFor();
    assert.match(await page.locator('.tail-status').textContent(), /1 new/);
    assert.ok((await rowTexts())[0].includes(HOSTILE.img));
    assert.equal(await page.evaluate(() => window.__xssRan), null);
    await page.locator('#tail-toggle').uncheck();
  });

  it('lists and creates instances (managers)', async () => {
    await page.getByRole('link', {name: 'Instances'}).click();
    await page.getByRole('heading', {name: 'Instances'}).waitFor();
    await page.locator('table.instances tr', {hasText: 'us-south'}).waitFor();
    const form = page.getByRole('form', {name: 'Create an instance'});
    await form.getByLabel('Name').fill('eu-de');
    await form.getByLabel('Region').fill('eu-de');
    await form.getByLabel('Retention (days)').fill('14');
    await form.getByRole('button', {name: 'Create instance'}).click();
    await page.locator('table.instances tr', {hasText: 'eu-de'}).getByText('14 days').waitFor();
  });

  it('works in a narrow window', async () => {
    await page.setViewportSize({width: 420, height: 800});
    await page.getByRole('link', {name: 'Search'}).click();
    // The four seed events and the one the live tail test rotated (the tail shows it before the index has it).
    await manager.searchable('target.typeURI_str:kms/secrets', 5, '24h');
    await search('target.typeURI_str:kms/secrets', '24h');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 5);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
    await page.screenshot({path: screenshotPath('search-narrow.png')});
    await page.setViewportSize({width: 1280, height: 800});
  });

  it('can be used from the keyboard', async () => {
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'query');
    await page.keyboard.type(' -action:==kms.secrets.read');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 4);
    await rows().first().focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    assert.equal(await rows().nth(1).getAttribute('aria-expanded'), 'true');
  });

  it('draws the server histogram, stacked by a field, once the endpoint exists', async () => {
    // GET /v1/events/histogram is being built on another branch; its contract (shared/API.md) is played here.
    const hour = 3600_000;
    const start = Math.floor(Date.now() / hour) * hour - 3 * hour;
    await page.route('**/v1/events/histogram?*', (route) => route.fulfill({json: {
      interval: '1h',
      buckets: [0, 1, 2, 3].map((i) => ({start: new Date(start + i * hour).toISOString(), count: 3 + i,
        by: {'kms.secrets.create': 2, 'kms.secrets.delete': 1 + i}})),
    }}));
    await page.reload(); // the session survives a reload; the page asks for the histogram again
    await search('target.typeURI_str:kms/secrets', '24h');
    await page.locator('.legend li', {hasText: 'kms.secrets.delete (10)'}).waitFor();
    assert.equal(await page.locator('.histogram-svg g.bar').count(), 4);
    assert.equal(await page.locator('.histogram-svg g.bar').last().locator('rect.fill').count(), 2);
    // The current hour is not over: its bar is as wide as the others, lighter, past a dashed end-of-range line.
    const widths = await page.locator('.histogram-svg g.bar rect.hit').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('width'))));
    assert.ok(Math.abs(widths[3] - widths[2]) < 1, `bar widths ${widths}`);
    assert.equal(await page.locator('.histogram-svg g.bar.partial').count(), 1);
    assert.match(await page.locator('.histogram-svg g.bar.partial').getAttribute('aria-label'), /part of the bucket/);
    assert.equal(await page.locator('.histogram-svg line.range-end').count(), 1);
    assert.equal((await page.locator('.chart-note').textContent()).trim(), '');
    await page.locator('.histogram-svg g.bar').last().click();
    await page.waitForFunction(() => document.querySelector('.range-button[data-range="custom"]').getAttribute('aria-pressed') === 'true');
    const params = new URLSearchParams(page.url().split('?')[1]);
    assert.equal(Number(params.get('from')), start + 3 * hour);
    assert.equal(Number(params.get('to')), start + 4 * hour);
    await page.unroute('**/v1/events/histogram?*');
  });

  it('lets the platform admin pick the account to work in', async () => {
    const {context: adminContext, page: adminPage} = await openPage(browser, pageErrors);
    await signIn(adminPage, server.url, ADMIN_KEY);
    await adminPage.getByLabel('Account').selectOption('acme');
    await adminPage.getByLabel('Search query').fill('target.typeURI_str:kms/secrets');
    await adminPage.keyboard.press('Enter');
    await adminPage.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 5);
    await adminContext.close();
  });

  it('signs out, and the session no longer works', async () => {
    const cookie = (await context.cookies()).find((c) => c.name === 'acta_session').value;
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByLabel('API key').waitFor();
    const after = await page.request.get(server.url + '/v1/session');
    assert.deepEqual([after.status(), await after.json()], [200, {signed_in: false}], 'the cookie is gone');
    const replayed = await fetch(server.url + '/v1/events', {headers: {cookie: `acta_session=${cookie}`}});
    assert.equal(replayed.status, 401, 'the ended session is refused');
    await page.reload();
    await page.getByLabel('API key').waitFor();
  });

  it('raised no error in the page and broke no CSP rule', async () => {
    await assertCleanPage(page, pageErrors);
  });
});

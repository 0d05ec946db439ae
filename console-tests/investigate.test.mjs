// Timelines in a real browser (issue 22): a principal's timeline opens from an event row's initiator and lists
// its actions with failures first; a resource's history opens from a target value of an expanded event and
// lists who did what, oldest first; each links back to the search of its query.
// Runs the real `acta serve` binary and Debian's Chromium at 1280x800.

import {after, before, describe, it} from 'node:test';
import assert from 'node:assert/strict';

import {assertCleanPage, client, createAccount, launchBrowser, openPage, screenshotPath, signIn, startWithAdmin, tearDown} from './helpers.mjs';

const ACCOUNT = 'acme';
const OFFICER = {id: 'IBMid-officer', name: 'officer@acme.example'};
const INTERN = {id: 'IBMid-intern', name: 'intern@acme.example'};
const VAULT = {id: 'crn:v1:bluemix:public:kms:us-south:a/acme:kp1:key:vault', name: 'vault-key', typeURI: 'kms/secrets'};

// [who, action, outcome, minutes ago, target]: the officer read three times, failed once to delete, and created
// two keys (one refused); the intern touched the vault key last.
const STORY = [
  [OFFICER, 'kms.secrets.read', 'success', 50, VAULT],
  [OFFICER, 'kms.secrets.read', 'success', 40, VAULT],
  [OFFICER, 'kms.secrets.delete', 'failure', 30, VAULT],
  [OFFICER, 'iam-identity.apikey.create', 'failure', 25, {id: 'apikey-1', name: 'ci-key', typeURI: 'iam-identity/apikey'}],
  [OFFICER, 'iam-identity.apikey.create', 'success', 20, {id: 'apikey-2', name: 'ci-key-2', typeURI: 'iam-identity/apikey'}],
  [OFFICER, 'kms.secrets.read', 'success', 15, VAULT],
  [INTERN, 'kms.secrets.rotate', 'success', 5, VAULT],
];

function storyEvent([who, action, outcome, minutesAgo, target]) {
  return {
    eventTime: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    action,
    outcome,
    message: `${who.name} ${action}`,
    logSourceCRN: `crn:v1:bluemix:public:kms:us-south:a/${ACCOUNT}:kp1::`,
    initiator: {...who, typeURI: 'service/security/account/user', host: {address: '203.0.113.7', agent: 'IBM Cloud CLI'}},
    target,
  };
}

describe('principal and resource timelines', () => {
  let server;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    let admin;
    ({server, admin} = await startWithAdmin());
    const key = (await createAccount(admin, {id: ACCOUNT, name: 'Acme',
      key: {name: 'investigator', role: 'writer', principal: 'investigator@acme.example'}})).secret;
    const writer = client(server.url, key);
    await writer.send(STORY.map(storyEvent));
    // An API call audited as keystonemiddleware does: its request, then its outcome, with one id.
    const operator = {id: 'IBMid-operator', name: 'operator@acme.example'};
    const queue = {id: 'queue-7', name: 'backup-queue', typeURI: 'messaging/queue'};
    const call = {...storyEvent([operator, 'messaging.queue.purge', 'pending', 10, queue]), id: 'call-purge-1'};
    await writer.send([call]);
    await writer.send([{...call, outcome: 'success', reason: {reasonCode: '204'}}]);
    await writer.searchable('action:kms OR action:iam-identity.apikey OR action:messaging', STORY.length + 2);
    browser = await launchBrowser();
    ({page} = await openPage(browser, pageErrors, {watched: true}));
    await signIn(page, server.url, key, 'investigator@acme.example');
  });

  after(() => tearDown(browser, server));

  /** Searches `q` from the search page and waits for its one matching event. */
  async function search(q) {
    await page.getByRole('link', {name: 'Search', exact: true}).click();
    const input = page.locator('#query');
    await input.fill(q);
    await input.press('Enter');
    await page.waitForFunction((action) => {
      const rows = document.querySelectorAll('tbody tr.event');
      return rows.length === 1 && rows[0].textContent.includes(action);
    }, q);
  }

  it('opens a principal timeline from an event row, its actions failures first', async () => {
    await search('kms.secrets.delete');
    const row = page.locator('tbody tr.event').first();
    await row.getByRole('link', {name: `Timeline of ${OFFICER.name}`}).click();
    await page.getByRole('heading', {name: `Principal ${OFFICER.id}`, level: 1}).waitFor();
    const table = page.getByRole('table', {name: 'Actions, failures first'});
    await table.waitFor();
    const actions = await table.locator('tbody td.action').allTextContents();
    assert.deepEqual(actions, ['iam-identity.apikey.create', 'kms.secrets.delete', 'kms.secrets.read']);
    const failed = await table.locator('tbody tr').evaluateAll((rows) => rows.map((tr) => tr.children[3].textContent));
    assert.deepEqual(failed, ['1', '1', '0']);
    assert.match(await page.locator('.investigate-summary').textContent(), /6 events, 2 failed/);
    assert.match(await page.getByRole('region', {name: 'Source addresses'}).textContent(), /203\.0\.113\.7\s*6/);
    await page.screenshot({path: screenshotPath('investigate-principal.png')});
  });

  it('links an action of the timeline to the search of exactly its events', async () => {
    await page.getByRole('link', {name: 'kms.secrets.read', exact: true}).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 3);
    const rows = await page.locator('tbody tr.event').allTextContents();
    for (const text of rows) assert.match(text, /kms\.secrets\.read/);
  });

  it('opens a resource history from a target value of an expanded event, oldest first', async () => {
    await search('kms.secrets.rotate');
    // The time cell: the row's middle holds the initiator and target links.
    await page.locator('tbody tr.event').first().locator('td.time').click();
    const fields = page.getByRole('table', {name: /^Fields/});
    await fields.waitFor();
    await fields.getByRole('row').filter({has: page.getByRole('rowheader', {name: 'target.name', exact: true})})
      .getByRole('link', {name: 'History'}).click();
    await page.getByRole('heading', {name: `Resource ${VAULT.name}`, level: 1}).waitFor();
    const history = page.getByRole('table', {name: 'History, oldest first'});
    await history.locator('tbody tr').nth(4).waitFor();
    const rows = await history.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.children[1].textContent, tr.children[2].textContent, tr.children[3].textContent]));
    assert.deepEqual(rows, [
      [OFFICER.name, 'kms.secrets.read', 'success'],
      [OFFICER.name, 'kms.secrets.read', 'success'],
      [OFFICER.name, 'kms.secrets.delete', 'failure'],
      [OFFICER.name, 'kms.secrets.read', 'success'],
      [INTERN.name, 'kms.secrets.rotate', 'success'],
    ]);
    // An initiator of the history opens its own timeline.
    await history.getByRole('link', {name: INTERN.name}).click();
    await page.getByRole('heading', {name: `Principal ${INTERN.id}`, level: 1}).waitFor();
  });

  it('follows a request to its outcome through the id they share', async () => {
    await page.getByRole('link', {name: 'Search', exact: true}).click();
    await page.locator('#query').fill('messaging.queue.purge outcome:success');
    await page.locator('#query').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 1);
    await page.locator('tbody tr.event').first().locator('td.time').click();
    await page.getByRole('link', {name: 'show every event with this id'}).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr.event').length === 2);
    assert.match(await page.locator('#query').inputValue(), /^id:==.*call-purge-1/);
    const outcomes = await page.locator('tbody tr.event td.outcome').allTextContents();
    assert.deepEqual(outcomes, ['success', 'pending']);
  });

  it('raised no error in the page and broke no CSP rule', async () => {
    await assertCleanPage(page, pageErrors);
  });
});

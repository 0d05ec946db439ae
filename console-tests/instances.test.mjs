// The instances page in a real browser: retention plans and archives (issue 11's console part).
// A server takes events, stops, and starts again on the same data "20 days later" (ACTA_TEST_CLOCK_OFFSET_DAYS,
// a knob of debug builds), so the day of those events falls out of a 14-day plan but not out of a 30-day one.
// A longer plan saves at once; a shorter one shows what it would delete and deletes nothing until confirmed;
// archives are set (S3 with its secret never shown back, a directory outside the operator's roots refused
// plainly) and removed; a reader sees the plans and figures but no editor.
// Runs the real `acta serve` binary and Debian's Chromium; writes screenshots at 1280x800 to docs/screenshots/.

import {after, before, describe, it} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {assertCleanPage, client, createAccount, kmsEvent, launchBrowser, openPage, screenshotPath, signIn, startServer, startWithAdmin,
  tearDown} from './helpers.mjs';

const ACCOUNT = 'initech';
const EVENTS = 12;
const S3_SECRET = 's3-secret-do-not-show-8cf2a1';

describe('retention plans and archives on the instances page', () => {
  let dir;
  let server;
  let browser;
  let context;
  let page;
  let manager;
  let managerKey;
  let usSouth;
  let euDe;
  const pageErrors = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'acta-console-instances-'));
    const data = path.join(dir, 'data');
    const archiveRoot = path.join(dir, 'archives');
    // Day 0: the events arrive.
    const {server: first, admin} = await startWithAdmin({data, archiveRoot});
    try {
      let instances;
      ({instances, secret: managerKey} = await createAccount(admin, {id: ACCOUNT, name: 'Initech',
        instances: [{name: 'us-south', region: 'us-south', retention_days: 30}, {name: 'eu-de', region: 'eu-de', retention_days: 30}],
        key: {name: 'officer', role: 'manager', principal: 'officer@initech.example'}}));
      [usSouth, euDe] = instances;
      const sender = client(first.url, managerKey);
      await sender.send(Array.from({length: EVENTS}, (_, i) => kmsEvent('read', i, 10 + i, ACCOUNT)));
      await sender.searchable('target.typeURI_str:kms/secrets', EVENTS);
    } finally {
      await first.stop();
    }
    // Day 20: the same data directory.
    // The S3 test's endpoint is on 127.0.0.1, which archives reach only when the operator allows it.
    server = await startServer({
      data,
      archiveRoot,
      env: {ACTA_TEST_CLOCK_OFFSET_DAYS: '20', ACTA_ARCHIVE_ENDPOINT_ALLOW: '127.0.0.1/32'},
    });
    manager = client(server.url, managerKey);
    const before = await manager.ok('GET', `/v1/instances/${usSouth.id}`);
    assert.equal(before.storage.events, EVENTS, 'the events survived the restart under a 30-day plan');

    browser = await launchBrowser();
    ({context, page} = await openPage(browser, pageErrors, {watched: true}));
    await signIn(page, server.url, managerKey, 'officer@initech.example');
    await page.getByRole('link', {name: 'Instances', exact: true}).click();
    await page.getByRole('heading', {name: 'Instances', level: 1}).waitFor();
  });

  after(async () => {
    await tearDown(browser, server);
    if (dir) rmSync(dir, {recursive: true, force: true});
  });

  const row = (name) => page.locator('table.instances tbody tr', {has: page.locator('th .instance-name', {hasText: new RegExp(`^${name}$`)})});
  const instance = (id) => manager.ok('GET', `/v1/instances/${id}`);

  async function choosePlan(name, days) {
    await row(name).getByRole('button', {name: `Change the plan of ${name}`}).click();
    const dialog = page.getByRole('dialog', {name: `Retention plan of ${name}`});
    await dialog.getByLabel('Retention (days)').fill(String(days));
    await dialog.getByRole('button', {name: 'Save plan'}).click();
  }

  it('saves a longer plan at once', async () => {
    await choosePlan('us-south', 60);
    await page.getByText('The plan of “us-south” is now 60 days.').waitFor();
    await row('us-south').locator('td.plan', {hasText: '60 days'}).waitFor();
    assert.equal(await page.getByRole('dialog').count(), 0, 'no confirmation for a longer plan');
    const saved = await instance(usSouth.id);
    assert.equal(saved.retention_days, 60);
    assert.equal(saved.storage.events, EVENTS);
  });

  it('shows what a shorter plan would delete, and deletes nothing when cancelled', async () => {
    await choosePlan('us-south', 14);
    const confirm = page.getByRole('dialog', {name: 'Shorten us-south from 60 to 14 days?'});
    await confirm.waitFor();
    assert.equal((await confirm.locator('.deletion-summary').textContent()).trim(), `1 day of events, ${EVENTS} events, will be deleted:`);
    const days = await confirm.locator('.deletion-list li').allTextContents();
    assert.equal(days.length, 1);
    assert.match(days[0], new RegExp(`^\\d{4}-\\d{2}-\\d{2}: ${EVENTS} events$`));
    await page.screenshot({path: screenshotPath('instances-shorten-plan.png')});
    await confirm.getByRole('button', {name: 'Cancel'}).click();
    await page.getByText('The plan of “us-south” stays 60 days; nothing was deleted.').waitFor();
    const kept = await instance(usSouth.id);
    assert.equal(kept.retention_days, 60);
    assert.equal(kept.storage.events, EVENTS);
  });

  it('applies a shorter plan once confirmed, deleting the days it listed', async () => {
    await choosePlan('us-south', 14);
    const confirm = page.getByRole('dialog', {name: 'Shorten us-south from 60 to 14 days?'});
    await confirm.getByRole('button', {name: 'Delete and shorten'}).click();
    await page.getByText(`The plan of “us-south” is now 14 days; ${EVENTS} events of 1 day are being deleted.`).waitFor();
    assert.equal((await instance(usSouth.id)).retention_days, 14);
    // The deletion is the retention task's run, started by the change: its answer comes a moment later.
    const deadline = Date.now() + 20_000;
    while ((await instance(usSouth.id)).storage.events !== 0) {
      assert.ok(Date.now() < deadline, 'the listed day was not deleted within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The deletion is logged as an event, at the server's (shifted) time, 20 days ahead of this machine's.
    const range = {from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 30 * 86_400_000).toISOString()};
    const q = new URLSearchParams({q: 'action:acta.retention.delete', ...range});
    let logged = [];
    while (logged.length === 0) {
      assert.ok(Date.now() < deadline, 'no acta.retention.delete event within 20 s');
      logged = (await manager.ok('GET', `/v1/events?${q}`)).events;
      if (logged.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(logged.length, 1);
    assert.match(logged[0].message, new RegExp(`^Acta: retention deleted ${EVENTS} events of \\d{4}-\\d{2}-\\d{2} from instance us-south \\(14 days\\)$`));
  });

  it('refuses an archive directory outside the operator’s roots, in the server’s words', async () => {
    await row('eu-de').getByRole('button', {name: 'Set the archive of eu-de'}).click();
    const dialog = page.getByRole('dialog', {name: 'Archive of eu-de'});
    await dialog.getByLabel('Kind').selectOption('directory');
    await dialog.getByLabel('Directory').fill('/etc/acta-archive');
    await dialog.getByRole('button', {name: 'Save archive'}).click();
    await dialog.locator('.dialog-error', {hasText: '400 Bad Request: path "/etc/acta-archive" is not under an archive root the operator allows'}).waitFor();
    await dialog.getByRole('button', {name: 'Cancel'}).click();
    assert.equal((await manager.call('GET', `/v1/instances/${euDe.id}/archive`)).status, 404);
  });

  it('sets an S3 archive and shows it with the secret redacted', async () => {
    await row('eu-de').getByRole('button', {name: 'Set the archive of eu-de'}).click();
    const dialog = page.getByRole('dialog', {name: 'Archive of eu-de'});
    await dialog.getByLabel('Kind').selectOption('s3');
    await dialog.getByLabel('Endpoint').fill('http://127.0.0.1:9');
    await dialog.getByLabel('Bucket').fill('acta-archive');
    await dialog.getByLabel('Prefix').fill('initech');
    await dialog.getByLabel('Access key ID').fill('AKIA-INITECH');
    await dialog.getByLabel('Secret access key').fill(S3_SECRET);
    await dialog.getByLabel('Allow plain http:// (unencrypted)').check();
    await dialog.getByRole('button', {name: 'Save archive'}).click();
    // Either the page says it is saved, or the dialog says why not (and the test says it).
    const refused = dialog.locator('.dialog-error:not([hidden])');
    await page.getByText('The archive of “eu-de” is saved.').or(refused).waitFor();
    assert.equal(await refused.count(), 0, `refused: ${await refused.allTextContents()}`);
    const cell = row('eu-de').locator('td.archive');
    await cell.getByText('S3 acta-archive/initech at http://127.0.0.1:9').waitFor();
    assert.match(await cell.textContent(), /key AKIA-INITECH · secret \(redacted\)/);
    assert.ok(!(await page.content()).includes(S3_SECRET), 'the secret is not in the page');
    const shown = await manager.ok('GET', `/v1/instances/${euDe.id}/archive`);
    assert.equal(shown.archive.secret_access_key, '(redacted)');
    assert.equal(shown.archive.bucket, 'acta-archive');
    // One "Change" per row (the plan's); the archive's button is Edit, the name and strict mode are Settings.
    const buttons = await row('eu-de').getByRole('button').allTextContents();
    assert.deepEqual(buttons.filter((text) => /^Change/.test(text)), ['Change…']);
    assert.ok(buttons.includes('Edit…') && buttons.includes('Settings…'), buttons.join(' | '));
    await page.screenshot({path: screenshotPath('instances.png')});
  });

  it('removes an archive', async () => {
    await row('eu-de').getByRole('button', {name: 'Remove the archive of eu-de'}).click();
    await page.getByRole('dialog', {name: 'Remove the archive of eu-de?'}).getByRole('button', {name: 'Remove archive'}).click();
    await page.getByText('The archive of “eu-de” is removed.').waitFor();
    await row('eu-de').locator('td.archive', {hasText: 'none'}).waitFor();
    assert.equal((await manager.call('GET', `/v1/instances/${euDe.id}/archive`)).status, 404);
  });

  it('shows a reader the plans and figures but no plan editor', async () => {
    const reader = await manager.ok('POST', '/v1/keys', {name: 'auditor', role: 'reader'});
    const {context: readerContext, page: readerPage} = await openPage(browser, pageErrors);
    try {
      await signIn(readerPage, server.url, reader.secret);
      await readerPage.getByRole('link', {name: 'Instances', exact: true}).click();
      const usRow = readerPage.locator('table.instances tbody tr', {has: readerPage.locator('th .instance-name', {hasText: /^us-south$/})});
      await usRow.locator('td.plan', {hasText: '14 days'}).waitFor();
      assert.equal(await readerPage.locator('.instances-page button').count(), 0, 'no Change plan, archive or create buttons');
      assert.equal(await readerPage.getByRole('form', {name: 'Create an instance'}).count(), 0);
    } finally {
      await readerContext.close();
    }
  });

  it('raised no error in the page and broke no CSP rule', async () => {
    await assertCleanPage(page, pageErrors);
  });
});

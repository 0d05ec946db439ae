// Routes in the console (issue 21): a manager creates a route to NDJSON files in the New route dialog and sees it
// deliver; a route to a webhook that does not answer shows Failing with the reason; Pause keeps its place.
// Runs the real `acta serve` binary (with ACTA_FORWARD_DIR) and Debian's Chromium; writes docs/screenshots/routes.png.

import {after, before, describe, it} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs';
import {createServer} from 'node:net';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {assertCleanPage, client, createAccount, kmsEvent, launchBrowser, openPage, screenshotPath, signIn, startWithAdmin, tearDown} from './helpers.mjs';

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort() {
  const listener = createServer();
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const {port} = listener.address();
  await new Promise((resolve) => listener.close(resolve));
  return port;
}

/** Every NDJSON line under `dir`, parsed. */
function linesUnder(dir) {
  const lines = [];
  for (const instance of readdirSync(dir, {withFileTypes: true})) {
    for (const file of readdirSync(path.join(dir, instance.name))) {
      lines.push(...readFileSync(path.join(dir, instance.name, file), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)));
    }
  }
  return lines;
}

describe('routes in the console', () => {
  const forwardDir = mkdtempSync(path.join(tmpdir(), 'acta-forward-'));
  let server;
  let browser;
  let page;
  let manager;
  const pageErrors = [];

  before(async () => {
    let admin;
    ({server, admin} = await startWithAdmin({env: {ACTA_FORWARD_DIR: forwardDir, ACTA_WEBHOOK_ALLOW: '127.0.0.0/8'}}));
    const managerKey = (await createAccount(admin, {id: 'acme', name: 'Acme',
      key: {name: 'officer', role: 'manager', principal: 'officer@acme.example'}})).secret;
    manager = client(server.url, managerKey);
    await manager.ok('POST', '/v1/routes', {name: 'Old SIEM', destination: {type: 'webhook', url: `http://127.0.0.1:${await closedPort()}/acta`}});
    browser = await launchBrowser();
    ({page} = await openPage(browser, pageErrors, {watched: true}));
    await signIn(page, server.url, managerKey, 'officer@acme.example');
  });

  after(async () => {
    await tearDown(browser, server);
    rmSync(forwardDir, {recursive: true, force: true});
  });

  it('creates a route to files in the dialog and shows it delivered', async () => {
    await page.getByRole('link', {name: 'Routes'}).click();
    await page.getByRole('button', {name: 'New route'}).click();
    const dialog = page.getByRole('dialog', {name: 'New route'});
    await dialog.getByLabel('Name').fill('Files');
    await dialog.getByLabel('Events').fill('action:kms.*');
    await dialog.getByLabel('Destination').selectOption('directory');
    await dialog.getByLabel('Path').fill('siem/acme');
    await dialog.getByRole('button', {name: 'Create route'}).click();
    await page.getByText('Route “Files” created.').waitFor();
    await manager.send([kmsEvent('delete', 1, 1), kmsEvent('create', 2, 1), {...kmsEvent('read', 3, 1), action: 'iam.policy.update'}]);
    const row = page.locator('tr', {hasText: 'Files'});
    await row.locator('td.route-state', {hasText: 'Up to date'}).waitFor({timeout: 20_000});
    await row.locator('td', {hasText: /^2$/}).first().waitFor({timeout: 20_000});
    const lines = linesUnder(path.join(forwardDir, 'siem', 'acme'));
    assert.deepEqual(lines.map((line) => line.event.action).sort(), ['kms.secrets.create', 'kms.secrets.delete'].sort());
    await assertCleanPage(page, pageErrors);
  });

  it('shows a route whose webhook does not answer as failing, with the reason', async () => {
    const row = page.locator('tr', {hasText: 'Old SIEM'});
    await row.locator('td.route-state', {hasText: 'Failing'}).waitFor({timeout: 20_000});
    assert.match(await row.locator('.inline-error').innerText(), /failed: http:\/\/127\.0\.0\.1:\d+\/acta: .*Connection refused/);
    await page.screenshot({path: screenshotPath('routes.png')});
  });

  it('pauses a route and says it keeps its place', async () => {
    const row = page.locator('tr', {hasText: 'Old SIEM'});
    await row.getByRole('button', {name: 'Pause'}).click();
    await page.getByText('Route “Old SIEM” paused: it keeps its place.').waitFor();
    await row.locator('td.route-state', {hasText: 'Paused'}).waitFor();
    await assertCleanPage(page, pageErrors);
  });
});

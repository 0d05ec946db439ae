// What the console tests stand on: the real `acta serve` binary on a fresh data directory and a free
// 127.0.0.1 port, a client of its HTTP API (to create the account, keys and events the walks need), and Debian's
// Chromium driven by playwright-core.

import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, mkdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCREENSHOTS = path.join(REPO, 'docs', 'screenshots');
export const CHROMIUM = process.env.ACTA_CHROMIUM || '/usr/bin/chromium';
export const ADMIN_KEY = 'console-test-admin-key-0123456789';

/** The acta binary: ACTA_BIN, else the debug build in CARGO_TARGET_DIR (or ./target). */
export function actaBinary() {
  if (process.env.ACTA_BIN) return process.env.ACTA_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
  return path.join(targetDir, 'debug', 'acta');
}

/** Fails loudly (never skips) when something the tests need is missing. */
export function requireTools() {
  const binary = actaBinary();
  if (!existsSync(binary)) {
    throw new Error(`the acta binary is missing at ${binary}: run cargo build -p acta-cli (scripts/test does)`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
  }
}

/**
 * Starts `acta serve` on 127.0.0.1:0 and resolves once it prints its address.
 * Options: `smtpUrl`, the relay for alert emails (`--smtp-url`); `data`, a data directory to start on again
 * (the caller's: `stop()` leaves it); `archiveRoot` (`--archive-root`); `env`, more environment variables.
 */
export async function startServer({smtpUrl, data: givenData, archiveRoot, env = {}} = {}) {
  const data = givenData || mkdtempSync(path.join(tmpdir(), 'acta-console-'));
  const args = ['serve', '--data', data, '--listen', '127.0.0.1:0'];
  if (smtpUrl) args.push('--smtp-url', smtpUrl);
  if (archiveRoot) args.push('--archive-root', archiveRoot);
  const child = spawn(actaBinary(), args, {
    env: {...process.env, ACTA_BOOTSTRAP_KEY: ADMIN_KEY, ACTA_LOG: process.env.ACTA_LOG || 'warn', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`acta serve did not start within 30 s\n${out}\n${log}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /acta listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`acta serve exited with ${code}\n${out}\n${log}`));
    });
  });
  return {
    url,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (!givenData) rmSync(data, {recursive: true, force: true});
    },
  };
}

/** A client of the HTTP API with one key. */
export function client(url, key, agent = 'Acta console tests') {
  async function call(method, pathname, body, headers = {}) {
    const response = await fetch(url + pathname, {
      method,
      headers: {authorization: `Bearer ${key}`, 'user-agent': agent, ...(body === undefined ? {} : {'content-type': 'application/json'}), ...headers},
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return {status: response.status, body: text ? JSON.parse(text) : null};
  }
  return {
    call,
    get: (p) => call('GET', p),
    post: (p, body) => call('POST', p, body),
    async ok(method, pathname, body) {
      const answer = await call(method, pathname, body);
      if (answer.status >= 300) throw new Error(`${method} ${pathname}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    },
    /** Sends events as NDJSON; all must be stored. */
    async send(events) {
      const answer = await call('POST', '/v1/events', events.map((e) => JSON.stringify(e)).join('\n'), {'content-type': 'application/x-ndjson'});
      if (answer.status !== 200 || answer.body.accepted !== events.length) {
        throw new Error(`sending events: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      return answer.body;
    },
    /** Waits until at least `expected` events match `q` (the index commits about once a second). */
    async searchable(q, expected, from = '7d') {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const params = new URLSearchParams({q, from});
        const answer = await call('GET', `/v1/events/count?${params}`);
        if (answer.status === 200 && answer.body.count >= expected) return answer.body.count;
        if (Date.now() > deadline) throw new Error(`only ${JSON.stringify(answer.body)} of ${expected} events match ${q}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/**
 * What every walk's `before()` starts with: the tools checked, a server (with `startServer`'s options), and the
 * platform admin's client of it.
 */
export async function startWithAdmin(options) {
  requireTools();
  const server = await startServer(options);
  return {server, admin: client(server.url, ADMIN_KEY)};
}

/**
 * Creates account `id` (named `name`) with the platform admin's client, then its `instances` (bodies without the
 * account), then a key (`key`, its body without the account). Returns the instances as created and the key's secret.
 */
export async function createAccount(admin, {id, name, instances = [], key}) {
  await admin.ok('POST', '/v1/accounts', {name, id});
  const created = [];
  for (const instance of instances) created.push(await admin.ok('POST', '/v1/instances', {account: id, ...instance}));
  const {secret} = await admin.ok('POST', '/v1/keys', {account: id, ...key});
  return {instances: created, secret};
}

/**
 * A 1280x800 browser context and its page, whose errors go to `pageErrors`. A walk's main page is `watched`: in
 * Paris time, with every Content-Security-Policy violation recorded in `window.__cspViolations`; `prepare(context)`
 * runs before that (permissions, init scripts of its own).
 */
export async function openPage(browser, pageErrors, {watched = false, prepare} = {}) {
  const context = await browser.newContext({viewport: {width: 1280, height: 800}, ...(watched ? {timezoneId: 'Europe/Paris'} : {})});
  if (prepare) await prepare(context);
  if (watched) {
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
  }
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  return {context, page};
}

/** Signs in to the console with `key`; with `who`, waits until the console shows that principal. */
export async function signIn(page, url, key, who) {
  await page.goto(url + '/');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', {name: 'Sign in'}).click();
  if (who) await page.locator('.who').getByText(who).waitFor();
}

/** A walk's last check: no error in its pages, no CSP rule broken on its main page. */
export async function assertCleanPage(page, pageErrors) {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
}

/** Closes a walk's browser and stops its servers, in this order; any may be missing (its `before()` failed). */
export async function tearDown(...parts) {
  for (const part of parts) {
    if (!part) continue;
    if (part.close) await part.close();
    else await part.stop();
  }
}

/** Debian's Chromium, headless, with nothing that reaches outside this machine. */
export async function launchBrowser() {
  const {chromium} = await import('playwright-core');
  // playwright-core gives every launch a fresh temporary profile (--user-data-dir) of its own.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, {recursive: true});
  return path.join(SCREENSHOTS, name);
}

/** A CADF event of the seed-000 Key Protect kind, `minutesAgo` minutes before now. */
export function kmsEvent(verb, i, minutesAgo, account = 'acme') {
  return {
    eventTime: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    action: `kms.secrets.${verb}`,
    outcome: 'success',
    message: `Key Protect: ${verb} secret root-key-${i}`,
    severity: verb === 'delete' ? 'critical' : 'normal',
    logSourceCRN: `crn:v1:bluemix:public:kms:us-south:a/${account}:kp1::`,
    initiator: {id: 'IBMid-officer', name: 'officer@acme.example', typeURI: 'service/security/account/user',
      host: {address: '203.0.113.7', agent: 'IBM Cloud CLI'}, credential: {type: 'token'}},
    target: {id: `crn:v1:bluemix:public:kms:us-south:a/${account}:kp1:key:k${i}`, name: `root-key-${i}`, typeURI: 'kms/secrets'},
    observer: {name: 'ActivityTracker'},
    reason: {reasonCode: 200, reasonType: 'OK'},
  };
}

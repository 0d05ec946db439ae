// Insights in the console (issue 22): a week of an account's normal activity, then a burst of API key
// deletions in the current hour; the insights job (every 10 s here) finds it, and the insights page lists it
// with its baseline chart and a link to its events.
// Runs the real `acta serve` binary and Debian's Chromium; writes a screenshot at 1280x800 to docs/screenshots/.

import {after, before, describe, it} from 'node:test';
import assert from 'node:assert/strict';

import {assertCleanPage, client, createAccount, launchBrowser, openPage, screenshotPath, signIn, startWithAdmin, tearDown} from './helpers.mjs';

const ACCOUNT = 'initech';
const HOUR = 3_600_000;
const STEADY = ['svc.bucket.read', 'svc.bucket.list', 'svc.object.write'];
const DELETIONS = 'iam-identity.user-apikey.delete';
const PRINCIPALS = ['IBMid-alice', 'IBMid-bob', 'IBMid-carol'];

/** A deterministic generator, so the week is the same at every run. */
function noise(seed) {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return Math.floor((state / 2147483648) * n);
  };
}

function at(action, ms, below) {
  const principal = PRINCIPALS[below(3)];
  return {
    eventTime: new Date(ms).toISOString(),
    action,
    outcome: 'success',
    message: `${action} by ${principal}`,
    initiator: {id: principal, name: principal, typeURI: 'service/security/account/user'},
    target: {id: 'crn:v1:bluemix:public:iam-identity::a/initech::apikey:k', name: 'k', typeURI: 'iam-identity/user-apikey'},
  };
}

/** Seven days of steady actions (about 20 an hour each) and deletions (about 3 an hour), up to now. */
function normalWeek(now) {
  const below = noise(22);
  const nowHour = Math.floor(now / HOUR);
  const events = [];
  for (let hour = nowHour - 7 * 24; hour <= nowHour; hour++) {
    const span = hour === nowHour ? Math.max(1, now - hour * HOUR) : HOUR;
    for (const action of STEADY) {
      for (let n = 17 + below(7); n > 0; n--) events.push(at(action, hour * HOUR + below(span), below));
    }
    for (let n = 2 + below(3); n > 0; n--) events.push(at(DELETIONS, hour * HOUR + below(span), below));
  }
  return events;
}

describe('insights in the console', () => {
  let server;
  let browser;
  let page;
  let officerKey;
  const pageErrors = [];

  before(async () => {
    let admin;
    ({server, admin} = await startWithAdmin({env: {ACTA_INSIGHT_PERIOD: '10'}}));
    officerKey = (await createAccount(admin, {id: ACCOUNT, name: 'Initech',
      key: {name: 'officer', role: 'reader', principal: 'officer@initech.example'}})).secret;
    const writerKey = (await admin.ok('POST', '/v1/keys', {account: ACCOUNT, name: 'ingest', role: 'writer', principal: 'ingest'})).secret;
    const writer = client(server.url, writerKey);
    const now = Date.now();
    const events = normalWeek(now);
    const hourStart = Math.floor(now / HOUR) * HOUR;
    const below = noise(7);
    for (let i = 0; i < 40; i++) events.push(at(DELETIONS, hourStart + Math.floor((now - hourStart) * 0.9), below));
    for (let i = 0; i < events.length; i += 2000) await writer.send(events.slice(i, i + 2000));
    await writer.searchable(`action:===${DELETIONS}`, 40, '8d');

    browser = await launchBrowser();
    ({page} = await openPage(browser, pageErrors, {watched: true}));
    await signIn(page, server.url, officerKey, 'officer@initech.example');
  });

  after(() => tearDown(browser, server));

  it('lists the burst of deletions with its baseline and a link to its events', async () => {
    await page.getByRole('link', {name: 'Insights'}).click();
    const card = page.locator('article.insight', {hasText: `${DELETIONS} is `});
    // The job runs every 10 s; the page reloads its list only every 30 s, so the test reloads it sooner.
    for (let tries = 0; tries < 18 && (await card.count()) === 0; tries++) {
      await page.waitForTimeout(5_000);
      await page.reload();
    }
    // Seen once in a clean CI run: no card after two minutes. What the page and the server said then is what
    // tells why, so a timeout shows both.
    await card.waitFor().catch(async (error) => {
      const shown = await page.locator('main').innerText().catch(() => '(no main element)');
      const insights = await client(server.url, officerKey).call('GET', `/v1/insights?account=${ACCOUNT}`);
      throw new Error(`${error.message}\nthe page shows:\n${shown}\nGET /v1/insights: ${insights.status} ` +
        `${JSON.stringify(insights.body)}\nthe server's log:\n${server.log()}`);
    });
    assert.equal(await page.locator('article.insight').count(), 1, 'only the burst is unusual');
    assert.match(await card.locator('h2').innerText(), /x its usual rate \(\d+ in \d\d:00-\d\d:00 UTC, usual \d\)/);
    assert.equal(await card.locator('svg.insight-chart rect').count(), 8, 'seven baseline days and the hour');
    assert.equal(await card.locator('svg.insight-chart rect.now').count(), 1);
    await page.screenshot({path: screenshotPath('insights.png')});
    await card.getByRole('link', {name: `Events of ${DELETIONS} in that hour`}).click();
    await page.waitForURL(/#\/search\?/);
    assert.match(decodeURIComponent(page.url()), new RegExp(`q=action:===${DELETIONS.replace(/\./g, '\\.')}`));
    await assertCleanPage(page, pageErrors);
  });
});

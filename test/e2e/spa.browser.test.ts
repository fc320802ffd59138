import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { Browser, Page } from 'puppeteer-core';
import { createExampleApp } from '../../examples/spa/server/app';
import { buildSpa } from '../../examples/spa/server/build';
import { launchBrowser, watchTraffic, type PageTraffic } from '../support/browser';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server';

const TIMEOUT = 180_000;
/** Checkouts a user may start per minute here: enough for each flow, few enough to reach. */
const CHECKOUT_LIMIT = 6;
const WAIT = { timeout: 30_000, polling: 50 } as const;
// `SPA_SCREENSHOTS=docs/screenshots npx jest test/e2e/spa.browser.test.ts` refreshes the
// README's pictures; otherwise they go to a temporary folder, named in the test output.
const SHOTS = path.resolve(process.env['SPA_SCREENSHOTS'] ?? path.join(tmpdir(), 'tally-spa'));

/**
 * The example SPA on its own origin, against a real Tally (its own database, the mock
 * provider), driven like a person would in headless Chromium.
 */
describe('the example SPA in a headless browser', () => {
  let t: TestServer;
  let exampleServer: Server;
  let exampleUrl: string;
  let browser: Browser;
  let page: Page;
  let traffic: PageTraffic;

  beforeAll(async () => {
    let tallyUrl = '';
    await buildSpa();
    const app = createExampleApp({
      tallyUrl: () => tallyUrl,
      jwtSecret: TEST_JWT_SECRET,
      cost: 10,
    });
    exampleServer = await new Promise<Server>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server));
    });
    exampleUrl = `http://127.0.0.1:${(exampleServer.address() as AddressInfo).port}`;
    t = await startTestServer({
      CORS_ORIGINS: exampleUrl,
      DEV_TOKENS: 'true',
      RATE_LIMIT_CHECKOUT_PER_MINUTE: String(CHECKOUT_LIMIT),
      SUCCESS_URL: `${exampleUrl}/checkout/success`,
      CANCEL_URL: `${exampleUrl}/checkout/cancel`,
    });
    tallyUrl = t.url;
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 900 });
    traffic = await watchTraffic(page);
    page.on('dialog', (dialog) => void dialog.accept());
    mkdirSync(SHOTS, { recursive: true });
  }, TIMEOUT);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => exampleServer?.close(resolve));
    await t?.close();
  });

  /** Awaits something the page should do; if it never does, says what the page showed. */
  async function expectPage<T>(what: string, pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (error) {
      const screenshot = path.join(tmpdir(), `tally-spa-failure-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true }).catch(() => undefined);
      const text = await page.evaluate('document.body.innerText').catch(() => '');
      throw new Error(
        `${what}: ${String(error)}\nscreenshot: ${screenshot}\npage text:\n${text}\n` +
          `page errors: ${JSON.stringify([...traffic.exceptions, ...traffic.consoleErrors])}`,
      );
    }
  }
  // Page functions are strings or use no DOM types: the tests' TypeScript has no DOM library.
  type Shown = { innerText: string };
  const textOf = (selector: string) =>
    page.$eval(selector, (element) => (element as unknown as Shown).innerText);
  const waitForText = (what: string, selector: string, needle: string) =>
    expectPage(
      what,
      page.waitForFunction(
        `document.querySelector(${JSON.stringify(selector)})?.innerText.includes(${JSON.stringify(needle)})`,
        WAIT,
      ),
    );
  const balanceIs = (credits: number) =>
    waitForText(`balance never showed ${credits}`, '#balance', String(credits)).then(() =>
      expect(textOf('#balance')).resolves.toBe(String(credits)),
    );
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });

  /** Types a user id into the sign-in form and submits it. */
  async function signIn(userId: string): Promise<void> {
    await expectPage('no sign-in form', page.waitForSelector('#user-id', WAIT));
    await page.type('#user-id', userId);
    await expectPage(
      `the sign-in field does not hold ${userId}`,
      page.waitForFunction(
        `document.querySelector('#user-id')?.value === ${JSON.stringify(userId)}`,
        WAIT,
      ),
    );
    await Promise.all([page.waitForNavigation(WAIT), page.click('#sign-in')]);
    await waitForText('not signed in', '#user', userId);
    expect(await textOf('#user')).toBe(userId);
  }

  /** Clicks Buy/Subscribe, pays on the mock provider's page, lands back on the SPA. */
  async function buy(productId: string, expected: string): Promise<void> {
    await Promise.all([
      page.waitForNavigation(WAIT),
      page.click(`button.buy[data-product="${productId}"]`),
    ]);
    expect(page.url()).toMatch(new RegExp(`^${t.url}/mock-checkout/`));
    if (productId === 'credits-100') await shot('mock-checkout.png');
    await Promise.all([page.waitForNavigation(WAIT), page.click('#pay')]);
    expect(page.url()).toMatch(new RegExp(`^${exampleUrl}/checkout/success\\?order_id=`));
    await expectPage(
      'the success page never saw the order complete',
      page.waitForSelector('#order-status[data-status="COMPLETED"]', WAIT),
    );
    expect(await textOf('#order-status')).toContain(expected);
  }

  it(
    'signs in, buys, spends, is refunded, pages the history and cancels the plan',
    async () => {
      // Sign in with a development token.
      await page.goto(exampleUrl, { waitUntil: 'load' });
      await signIn('spa-user');
      await balanceIs(0);
      await expectPage(
        'no catalog',
        page.waitForSelector('button.buy[data-product="credits-100"]'),
      );

      // With no credits, premium work is refused in words, not JSON.
      await page.click('#work');
      await waitForText('no insufficient-credits notice', '#notice', 'Not enough credits');
      expect(await textOf('#notice')).not.toMatch(/[{}]/);

      // Buy 100 credits through the hosted checkout; the success page waits for the order.
      await buy('credits-100', '100 credits added');
      await balanceIs(100);
      await shot('checkout-success.png');

      // Back home. From here on the page is never reloaded: a marker on window proves it.
      await Promise.all([page.waitForNavigation(WAIT), page.click('#back')]);
      await balanceIs(100);
      await page.evaluate('window.noReload = true');

      // Premium work: 10 credits taken by the app's backend; the balance follows live.
      await page.click('#work');
      await waitForText('work did not finish', '#work-result', 'Done: rendered frame');
      await balanceIs(90);
      // The failing variant: taken, then refunded, and said so.
      await page.click('#work-fail');
      await waitForText(
        'no refund notice',
        '#notice',
        'The work failed. Your 10 credits were refunded',
      );
      await balanceIs(90);
      // A change made elsewhere (an admin's adjustment) arrives without a reload too.
      const admin = await t.token('support-admin', 'admin');
      const adjusted = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({
          query: `mutation { adjustCredits(input: { userId: "spa-user", amount: 5, description: "Goodwill", idempotencyKey: "spa-goodwill" }) { balance } }`,
        }),
      });
      expect(adjusted.status).toBe(200);
      await balanceIs(95);
      await waitForText('history lacks the adjustment', '#history', 'Goodwill');
      const rows = await page.$$eval('#history tr', (trs) =>
        trs.map((tr) => (tr as unknown as Shown).innerText.replace(/\s+/g, ' ')),
      );
      expect(rows.slice(0, 5)).toEqual([
        expect.stringMatching(/adjustment Goodwill \+5$/),
        expect.stringMatching(/refund Premium work failed: refunded \+10$/),
        expect.stringMatching(/consumption Premium work -10$/),
        expect.stringMatching(/consumption Premium work -10$/),
        expect.stringMatching(/purchase .*\+100$/),
      ]);
      expect(await page.evaluate('window.noReload')).toBe(true);
      await shot('home.png');

      // The monthly plan, through the same hosted checkout.
      await page.goto(exampleUrl, { waitUntil: 'load' });
      await expectPage(
        'no catalog',
        page.waitForSelector('button.buy[data-product="plan-monthly"]'),
      );
      await buy('plan-monthly', 'credits added');
      await Promise.all([page.waitForNavigation(WAIT), page.click('#back')]);
      await waitForText('the plan is not active', '#subscription-state', 'active, renews on');
      // One plan at a time: its button is off while the plan runs.
      await expectPage(
        'the plan could be bought twice',
        page.waitForSelector('button.buy[data-product="plan-monthly"]:disabled', WAIT),
      );
      expect(await textOf('button.buy[data-product="plan-monthly"]')).toBe('Your plan');

      // History pages by five: a fresh load shows five rows and "Load more" brings the rest.
      await expectPage('history never filled', page.waitForSelector('#history tr:nth-child(5)'));
      expect(await page.$$eval('#history tr', (trs) => trs.length)).toBe(5);
      await page.click('#more');
      await expectPage('load more added nothing', page.waitForSelector('#history tr:nth-child(6)'));
      await expectPage(
        '"Load more" stayed although everything is shown',
        page.waitForSelector('#more', { ...WAIT, hidden: true }),
      );
      // purchase, two consumptions, refund, adjustment, the plan's grant
      expect(await page.$$eval('#history tr', (trs) => trs.length)).toBe(6);

      // Cancel at the period end (the page asks to confirm; the test accepts).
      await page.click('#cancel-plan');
      await waitForText('the plan was not cancelled', '#subscription-state', 'cancelled, ends on');
      // Paid for until the period ends: still no second plan.
      expect(
        await page.$eval(
          'button.buy[data-product="plan-monthly"]',
          (b) => (b as unknown as { disabled: boolean }).disabled,
        ),
      ).toBe(true);
      await shot('subscription-cancelled.png');

      expect(traffic.offsite).toEqual([]);
      expect(traffic.exceptions).toEqual([]);
      // The one expected console error is the browser reporting the 402 of the first work.
      expect(traffic.consoleErrors.filter((e) => !/402|502/.test(e))).toEqual([]);
      process.stdout.write(`screenshots in ${SHOTS}\n`);
    },
    TIMEOUT,
  );

  it(
    'waits on the success page until the webhook lands, and words what went wrong',
    async () => {
      // Another user: sign out, sign in.
      await page.goto(exampleUrl, { waitUntil: 'load' });
      // The header, and its button, show once the page has read the account.
      await expectPage(
        'no sign-out',
        page.waitForSelector('#sign-out', { ...WAIT, visible: true }),
      );
      await Promise.all([page.waitForNavigation(WAIT), page.click('#sign-out')]);
      await signIn('spa-waiter');
      await balanceIs(0);

      // The browser is back before the provider's webhook: the page says it is waiting, and
      // turns to "received" by itself when the payment lands (orderStatusChanged).
      const token = await t.token('spa-waiter');
      const graphql = async (query: string) => {
        const res = await fetch(`${t.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query }),
        });
        return {
          status: res.status,
          body: (await res.json()) as {
            data?: { createCheckout?: { order: { id: string; checkoutId: string } } };
          },
        };
      };
      const started = await graphql(`
        mutation {
          createCheckout(input: { productId: "credits-100" }) {
            order {
              id
              checkoutId
            }
          }
        }
      `);
      const order = started.body.data!.createCheckout!.order;
      await page.goto(`${exampleUrl}/checkout/success?order_id=${order.id}`, { waitUntil: 'load' });
      await expectPage(
        'the success page did not show the pending order',
        page.waitForSelector('#order-status[data-status="PENDING"]', WAIT),
      );
      expect(await textOf('#order-status')).toContain('Waiting for the payment');
      await page.evaluate('window.noReload = true');
      await shot('checkout-waiting.png');
      // The provider confirms in the background (its webhook), not through this browser.
      const paid = await fetch(`${t.url}/mock-checkout/${order.checkoutId}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(paid.status).toBe(200);
      await expectPage(
        'the success page never saw the webhook complete the order',
        page.waitForSelector('#order-status[data-status="COMPLETED"]', WAIT),
      );
      expect(await textOf('#order-status')).toContain('100 credits added');
      await balanceIs(100);
      expect(await page.evaluate('window.noReload')).toBe(true);

      // The provider is down: its checkout cannot start. The page says so, and nothing moves.
      await page.goto(exampleUrl, { waitUntil: 'load' });
      await expectPage(
        'no catalog',
        page.waitForSelector('button.buy[data-product="credits-100"]'),
      );
      const admin = new Client({ connectionString: t.db.url });
      await admin.connect();
      try {
        await admin.query(`CREATE FUNCTION spa_test_provider_down() RETURNS trigger
          LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'provider unreachable'; END $$`);
        await admin.query(`CREATE TRIGGER spa_test_provider_down BEFORE INSERT ON mock_payments
          FOR EACH ROW EXECUTE FUNCTION spa_test_provider_down()`);
        await page.click('button.buy[data-product="credits-100"]');
        await waitForText(
          'no provider-error notice',
          '#notice',
          'The payment provider is not answering right now',
        );
        expect(page.url()).toBe(`${exampleUrl}/`);
      } finally {
        await admin.query('DROP TRIGGER IF EXISTS spa_test_provider_down ON mock_payments');
        await admin.query('DROP FUNCTION IF EXISTS spa_test_provider_down()');
        await admin.end();
      }

      // Too many checkouts in a minute: the page gives the wait Tally asked for, in words.
      let limited = false;
      for (let i = 0; i < CHECKOUT_LIMIT && !limited; i++) {
        const attempt = await graphql(`
          mutation {
            createCheckout(input: { productId: "credits-100" }) {
              order {
                id
              }
            }
          }
        `);
        limited = attempt.status === 429;
      }
      expect(limited).toBe(true);
      await page.click('button.buy[data-product="credits-100"]');
      await waitForText('no rate-limit notice', '#notice', 'Too many attempts. Please wait');
      expect(await textOf('#notice')).toMatch(/Please wait \d+ seconds and try again\.$/);
      expect(page.url()).toBe(`${exampleUrl}/`);
      await balanceIs(100);
      await shot('rate-limited.png');

      expect(traffic.offsite).toEqual([]);
      expect(traffic.exceptions).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'says so when the session ends while the page is open, then asks to sign in',
    async () => {
      // A session whose token lapses in a few seconds, as one left open overnight would.
      const token = await t.token('spa-sleeper', 'user', { expiresIn: '4s' });
      await page.goto(exampleUrl, { waitUntil: 'load' });
      await page.evaluate(
        `localStorage.setItem('render-studio-session', ${JSON.stringify(
          JSON.stringify({ userId: 'spa-sleeper', token }),
        )})`,
      );
      await page.goto(exampleUrl, { waitUntil: 'load' });
      await waitForText('not signed in', '#user', 'spa-sleeper');
      // Tally closes the live socket when the token expires (4401); the page says why.
      await waitForText('no session notice', '#notice', 'Your session has ended');
      // The next action leads back to the sign-in form.
      await Promise.all([page.waitForNavigation(WAIT), page.click('#work')]);
      await expectPage('no sign-in form', page.waitForSelector('#user-id', WAIT));
      expect(traffic.exceptions).toEqual([]);
    },
    TIMEOUT,
  );
});

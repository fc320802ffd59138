import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, HTTPResponse, Page } from 'puppeteer-core';
import { launchBrowser, watchTraffic, type PageTraffic } from '../support/browser';
import { startTestServer, type TestServer } from '../support/server';

// Generous: Chromium may need unpacking on first use, and the playground page is about 9 MB.
const TIMEOUT = 120_000;
const WAIT = { timeout: 60_000, polling: 100 } as const;

function isGraphQLPost(response: HTTPResponse, needle: string): boolean {
  const request = response.request();
  return (
    request.method() === 'POST' &&
    new URL(response.url()).pathname === '/graphql' &&
    (request.postData() ?? '').includes(needle)
  );
}

describe('GraphiQL playground in a headless browser', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  let traffic: PageTraffic;

  beforeAll(async () => {
    t = await startTestServer();
    browser = await launchBrowser();
    page = await browser.newPage();
    // Tall enough that Monaco, which renders only visible lines, shows the whole result.
    await page.setViewport({ width: 1400, height: 1200 });
    traffic = await watchTraffic(page);
  }, TIMEOUT);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** Awaits something the page should do; if it never does, leaves a screenshot to look at. */
  async function expectPage<T>(what: string, pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (error) {
      const screenshot = path.join(tmpdir(), `tally-playground-${Date.now()}.png`);
      await page.screenshot({ path: screenshot }).catch(() => undefined);
      const pageErrors = [...traffic.exceptions, ...traffic.consoleErrors];
      throw new Error(
        `${what}: ${String(error)}\nscreenshot: ${screenshot}\n` +
          `page errors: ${JSON.stringify(pageErrors)}`,
      );
    }
  }

  it(
    'loads the schema and runs the default query without leaving the machine',
    async () => {
      const landing = await page.goto(`${t.url}/graphql`, { waitUntil: 'load' });
      expect(landing?.status()).toBe(200);
      expect(landing?.headers()['content-type']).toMatch(/^text\/html/);

      // The Docs explorer lists root types only once introspection has succeeded; before that
      // it shows a spinner, and on failure an error, which the wait also stops on.
      const docsButton = 'button[aria-label="Show Documentation Explorer"]';
      await expectPage('playground did not render', page.waitForSelector(docsButton, WAIT));
      await page.click(docsButton);
      await expectPage(
        'Docs explorer did not settle',
        page.waitForSelector(
          '.graphiql-doc-explorer-root-type, .graphiql-doc-explorer-error',
          WAIT,
        ),
      );
      const rootTypes = await page.$$eval('.graphiql-doc-explorer-root-type', (labels) =>
        labels.map((label) => label.parentElement?.textContent),
      );
      expect(rootTypes).toEqual(expect.arrayContaining(['query: Query']));
      const typeNames = await page.$$eval('.graphiql-doc-explorer-type-name', (links) =>
        links.map((link) => link.textContent),
      );
      expect(typeNames).toEqual(expect.arrayContaining(['Product', 'UserProfile']));
      const introspection = traffic.responses.filter(
        (r) =>
          r.method === 'POST' &&
          new URL(r.url).pathname === '/graphql' &&
          (r.postData ?? '').includes('__schema'),
      );
      expect(introspection.map((r) => r.status)).toEqual([200]);

      const [executed] = await Promise.all([
        page.waitForResponse((response) => isGraphQLPost(response, 'products'), WAIT),
        page.click('.graphiql-execute-button'),
      ]);
      expect(executed.status()).toBe(200);
      // Wait for any JSON at all, then assert on it, so a failure shows what the pane held.
      // Monaco pads with no-break spaces, hence the replace.
      const pane = await expectPage(
        'result pane missing',
        page.waitForSelector('.graphiql-response .view-lines', WAIT),
      );
      if (!pane) throw new Error('result pane missing');
      await expectPage(
        'result pane stayed empty',
        page.waitForFunction((lines) => lines.innerText.includes('"data"'), WAIT, pane),
      );
      const result = await pane.evaluate((lines) => lines.innerText.replace(/\u00a0/g, ' '));
      expect(result).toContain('"credits-100"');
      expect(result).toContain('"plan-monthly"');
      expect(result).not.toContain('"errors"');

      expect(traffic.offsite).toEqual([]);
      expect(traffic.exceptions).toEqual([]);
    },
    TIMEOUT,
  );
});

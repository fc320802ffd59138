import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type HTTPResponse, type Page } from 'puppeteer-core';

/** What a page did on the network and said on its console while a test drove it. */
export interface PageTraffic {
  /** URLs the page tried to reach beyond this machine; each was aborted. */
  offsite: string[];
  /** Every response the page got, in arrival order. */
  responses: Array<{ method: string; url: string; status: number; postData: string | undefined }>;
  /** Uncaught exceptions in the page's scripts. */
  exceptions: string[];
  /** Messages the page logged with console.error, for diagnosing a failure. */
  consoleErrors: string[];
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True for URLs that never leave the machine: loopback HTTP(S) and in-page data/blob URLs. */
export function isLocalUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:' || url === 'about:blank') {
    return true;
  }
  return (
    ['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol) && LOCAL_HOSTS.has(parsed.hostname)
  );
}

/**
 * Headless Chromium from @sparticuz/chromium, hardened for machines without internet: the
 * extra flags stop the browser's own background traffic (updates, sync, QUIC probes), and the
 * resolver rule makes any other host fail at once instead of hanging on DNS, so a stray
 * request shows up as a failure rather than as a slow test.
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = await chromium.executablePath();
  const args = [
    ...chromium.args,
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
    '--no-pings',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  ];
  // Tests run as root in containers, where Chromium's sandbox cannot start.
  if (!args.includes('--no-sandbox')) args.push('--no-sandbox');
  // This build is chrome-headless-shell, which has only the 'shell' headless mode.
  return puppeteer.launch({ executablePath, args, headless: 'shell' });
}

/**
 * Records the page's traffic, and aborts every request bound off the machine so that a test
 * can assert the page needs nothing beyond the server under test.
 */
export async function watchTraffic(page: Page): Promise<PageTraffic> {
  const traffic: PageTraffic = {
    offsite: [],
    responses: [],
    exceptions: [],
    consoleErrors: [],
  };
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    // Another handler may already have settled the request; touching it again would throw.
    if (request.isInterceptResolutionHandled()) return;
    if (isLocalUrl(request.url())) {
      void request.continue();
    } else {
      traffic.offsite.push(request.url());
      void request.abort('blockedbyclient');
    }
  });
  page.on('response', (response: HTTPResponse) => {
    const request = response.request();
    traffic.responses.push({
      method: request.method(),
      url: response.url(),
      status: response.status(),
      postData: request.postData(),
    });
  });
  page.on('console', (message) => {
    if (message.type() === 'error') traffic.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => {
    traffic.exceptions.push(error instanceof Error ? error.message : String(error));
  });
  return traffic;
}

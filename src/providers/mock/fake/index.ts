/**
 * The mock provider's backend: a fake hosted payment provider that runs inside Tally, for
 * development and tests. It keeps its own records (checkouts, payments, renewals,
 * subscriptions), serves its checkout pages and the dashboard and clock actions, and sends
 * signed webhooks over real HTTP through an outbox with retries. Tally talks to it only
 * through the adapter (../adapter.ts), as to any provider.
 *
 * Its state is in Tally's database (`mock_payments`, `mock_renewals`,
 * `mock_webhook_deliveries`) so a restart loses nothing. Those tables are created by the
 * migrations in every database, production included: config refuses the mock provider when
 * NODE_ENV=production, so there they stay empty and nothing reads them. One migration history
 * for every environment is worth more than three empty tables (docs/PRODUCTION.md).
 */
import type { Router } from 'express';
import type { DataSource } from 'typeorm';
import type { Logger } from '../../../observability';
import { MockDashboard } from './dashboard';
import { mockFakeRouter } from './routes';
import { MockWebhookSender } from './sender';
import { MockStore } from './store';

export { MockDashboard } from './dashboard';
export { MockProviderRefusal } from './refusal';
export { MOCK_RETRY_DELAYS_MS, MockWebhookSender, type ClaimedDelivery } from './sender';
export { MockStore, type NewMockCheckout } from './store';

/** Where the fake's pages and dashboard routes are mounted on Tally's server. */
export const MOCK_CHECKOUT_PATH = '/mock-checkout';

export interface MockFakeOptions {
  dataSource: DataSource;
  /** What its webhooks are signed with (MOCK_WEBHOOK_SECRET). */
  webhookSecret: string;
  /** The base URL browsers reach this server at (checkout pages, the redirect back). */
  publicUrl: () => string;
  /** Where webhooks are delivered: this server's own callback route. */
  webhookUrl: () => string;
  logger: Logger;
  /** How often due webhook retries are looked for; default 1 s. */
  pollMs?: number;
  /** Delays before each retry of a failed webhook; default 1, 2, 4 s (4 attempts). */
  retryDelaysMs?: readonly number[];
}

/** The fake's parts: its records, its dashboard and clock, its webhook sender and its pages. */
export class MockFake {
  readonly store: MockStore;
  readonly sender: MockWebhookSender;
  readonly dashboard: MockDashboard;

  constructor(private readonly options: MockFakeOptions) {
    this.store = new MockStore(
      options.dataSource,
      () => `${options.publicUrl()}${MOCK_CHECKOUT_PATH}`,
    );
    this.sender = new MockWebhookSender(options);
    this.dashboard = new MockDashboard(options.dataSource, this.store, this.sender);
  }

  /** Its hosted pages and dashboard routes, to mount at MOCK_CHECKOUT_PATH. */
  router(): Router {
    return mockFakeRouter({
      store: this.store,
      dashboard: this.dashboard,
      base: MOCK_CHECKOUT_PATH,
      publicUrl: this.options.publicUrl,
    });
  }

  /** Starts retrying failed webhooks, those left due by an earlier run first. */
  start(): void {
    this.sender.start();
  }

  /** Stops retrying (pending deliveries stay in the table for the next start). */
  async stop(): Promise<void> {
    await this.sender.stop();
  }
}

import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../../../observability';
import { MOCK_SIGNATURE_HEADER, mockSignature, type MockEvent } from '../wire';

/** Delays before the 2nd, 3rd and 4th attempt of a failed delivery: 4 attempts in all. */
export const MOCK_RETRY_DELAYS_MS: readonly number[] = [1000, 2000, 4000];
/** How long one attempt may take: its claim on the delivery lasts longer. */
const ATTEMPT_TIMEOUT_MS = 10_000;
const CLAIM_MS = 3 * ATTEMPT_TIMEOUT_MS;
/** Due deliveries taken in one pass of the poller. */
const BATCH = 20;
const POLL_MS = 1000;

export interface MockWebhookSenderOptions {
  dataSource: DataSource;
  webhookSecret: string;
  /** Where webhooks go, read at each attempt (a restarted server may listen elsewhere). */
  webhookUrl: () => string;
  logger: Logger;
  /** How often the poller looks for due deliveries; default 1 s. */
  pollMs?: number;
  /** Delay before each retry; its length + 1 is the number of attempts. Default 1, 2, 4 s. */
  retryDelaysMs?: readonly number[];
}

/** A delivery this sender has claimed for one attempt (its `attempts` counts that one). */
export interface ClaimedDelivery {
  eventId: string;
  body: string;
  attempts: number;
}

/**
 * The fake provider's webhook sender: an outbox (`mock_webhook_deliveries`). A webhook is
 * recorded in the transaction of the change it reports, so none is lost and none is sent for
 * a change that rolled back; its first attempt is made at once and awaited by the action;
 * a failed one is tried again, a bounded number of times with growing delays, by a poller
 * that reads the table, so a restart loses no retry. Each attempt is claimed in the table
 * first (`FOR UPDATE SKIP LOCKED`): several fakes on one database never send one attempt twice.
 */
export class MockWebhookSender {
  private readonly retryDelaysMs: readonly number[];
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  /** The poller's current run; a pass of an earlier (stopped) run schedules nothing. */
  private run = 0;
  private running = false;

  constructor(private readonly options: MockWebhookSenderOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? MOCK_RETRY_DELAYS_MS;
  }

  /** In the change's transaction: records the webhook, claimed for its first attempt. */
  async record(manager: EntityManager, event: MockEvent): Promise<ClaimedDelivery> {
    const body = JSON.stringify(event);
    await manager.query(
      `INSERT INTO mock_webhook_deliveries (event_id, event_type, body, attempts, next_attempt_at)
       VALUES ($1, $2, $3, 1, now() + $4::float8 * interval '1 millisecond')`,
      [event.id, event.type, body, CLAIM_MS],
    );
    return { eventId: event.id, body, attempts: 1 };
  }

  /** One attempt of a claimed delivery, and its outcome recorded. Never throws. */
  async deliver(delivery: ClaimedDelivery): Promise<void> {
    const status = await this.post(delivery);
    try {
      await this.settle(delivery, status);
    } catch (error) {
      // The claim runs out and the poller tries it again.
      this.options.logger.warn({ err: error, eventId: delivery.eventId }, 'mock webhook unsettled');
    }
  }

  /** Starts the poller; its first pass, at once, picks up what was due before a restart. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick(++this.run);
  }

  /** Stops the poller, after the pass under way. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  /** One pass: every due delivery claimed and attempted. Resolves with how many. */
  async deliverDue(): Promise<number> {
    const maxAttempts = this.retryDelaysMs.length + 1;
    // A delivery whose last attempt was cut short (a crash) has no attempt left: FAILED.
    await this.options.dataSource.query(
      `UPDATE mock_webhook_deliveries SET status = 'FAILED', next_attempt_at = NULL,
         updated_at = now()
       WHERE status = 'PENDING' AND next_attempt_at <= now() AND attempts >= $1`,
      [maxAttempts],
    );
    const [claimed] = (await this.options.dataSource.query(
      `UPDATE mock_webhook_deliveries d SET attempts = d.attempts + 1,
         next_attempt_at = now() + $2::float8 * interval '1 millisecond', updated_at = now()
       FROM (SELECT event_id FROM mock_webhook_deliveries
             WHERE status = 'PENDING' AND next_attempt_at <= now() AND attempts < $3
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
       WHERE d.event_id = due.event_id
       RETURNING d.event_id AS "eventId", d.body, d.attempts`,
      [BATCH, CLAIM_MS, maxAttempts],
    )) as [ClaimedDelivery[], number];
    await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
    return claimed.length;
  }

  private tick(run: number): void {
    // Its database closed under it (a server that failed to start): nothing left to send.
    if (!this.options.dataSource.isInitialized) {
      this.running = false;
      return;
    }
    this.pass = this.deliverDue()
      .then(
        () => undefined,
        (error: unknown) => this.options.logger.warn({ err: error }, 'mock webhook poll failed'),
      )
      .finally(() => {
        if (!this.running || run !== this.run) return;
        this.timer = setTimeout(() => this.tick(run), this.options.pollMs ?? POLL_MS);
        // The poller never keeps a process alive on its own.
        this.timer.unref();
      });
  }

  /** Posts the signed body; the HTTP status, or null when none came (refused, timed out). */
  private async post(delivery: ClaimedDelivery): Promise<number | null> {
    try {
      const res = await fetch(this.options.webhookUrl(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [MOCK_SIGNATURE_HEADER]: mockSignature(this.options.webhookSecret, delivery.body),
        },
        body: delivery.body,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      return res.status;
    } catch (error) {
      this.options.logger.warn(
        { err: error, eventId: delivery.eventId, attempt: delivery.attempts },
        'mock webhook delivery failed',
      );
      return null;
    }
  }

  /** DELIVERED on a 2xx; otherwise due again after its delay, or FAILED after the last. */
  private async settle(delivery: ClaimedDelivery, status: number | null): Promise<void> {
    const delivered = status !== null && status >= 200 && status < 300;
    const retryInMs = delivered ? undefined : this.retryDelaysMs[delivery.attempts - 1];
    const next = delivered ? 'DELIVERED' : retryInMs === undefined ? 'FAILED' : 'PENDING';
    if (!delivered && status !== null) {
      this.options.logger.warn(
        { eventId: delivery.eventId, attempt: delivery.attempts, status },
        'mock webhook refused',
      );
    }
    // Only while this attempt's claim holds: a delivery claimed again since is not ours.
    await this.options.dataSource.query(
      `UPDATE mock_webhook_deliveries SET status = $3::varchar, last_response_status = $4,
         next_attempt_at = CASE WHEN $3::varchar = 'PENDING'
           THEN now() + $5::float8 * interval '1 millisecond' END,
         updated_at = now()
       WHERE event_id = $1 AND attempts = $2 AND status = 'PENDING'`,
      [delivery.eventId, delivery.attempts, next, status, retryInMs ?? 0],
    );
  }
}

import type { DataSource, EntityManager } from 'typeorm';
import { findProduct } from '../catalog';
import { Order, Subscription, WebhookEvent } from '../entities';
import { afterCommit, runTransaction } from '../db';
import { DomainError, isDatabaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../errors';
import { queryRows, type Ledger } from '../ledger';
import { BillingQueries, isUuid, orderFromRow } from './orders';
import type { Logger } from '../observability';
import {
  WebhookPayloadError,
  WebhookSignatureError,
  type PaymentProvider,
  type ProviderEvent,
  type ProviderPeriod,
} from '../providers';

/** A payment as the provider confirmed it (by verification or a signed event). */
interface ConfirmedPayment {
  transactionId: string;
  amountMinor: number;
  currency: string;
  subscription?: ProviderPeriod | undefined;
}

/** What billing tells the outside (live updates, metrics), each once it has committed. */
export interface PaymentHooks {
  /** An order's status changed: the row as the change left it. */
  orderChanged?: (order: Order) => void;
  /** A webhook delivery was answered: its event kind, what became of it, how long it took. */
  webhookHandled?: (
    kind: string,
    outcome: 'processed' | 'duplicate' | 'ignored' | 'failed' | 'rejected',
    seconds: number,
  ) => void;
  /** The provider reported a payment failed (verification or reconciliation). */
  paymentFailed?: () => void;
  /** A provider refund was applied (of an order's payment or a renewal's). */
  refunded?: (kind: 'order' | 'renewal') => void;
  /** A plan started while the user already had one: someone must refund or cancel one. */
  secondSubscription?: () => void;
}

export interface WebhookOutcome {
  status: number;
  body: Record<string, unknown>;
  /** With a 503: when the provider should try again. */
  retryAfterSeconds?: number;
}

/** An event applies to a subscription's status only if it is not older than the last one applied. */
const NEWER_STATUS = '(status_changed_at IS NULL OR status_changed_at <= $3)';

const MAX_ERROR_LENGTH = 500;

/** NUL, or half of a surrogate pair: text PostgreSQL (jsonb, text) refuses to store. */
const LONE_SURROGATE = /\p{Surrogate}/u;
const unstorable = (text: string) => text.includes('\u0000') || LONE_SURROGATE.test(text);

/**
 * Whether every string of a parsed JSON value (keys included) can be stored. Walked with a
 * stack, not recursion: a 64 KB body can nest deeper than the call stack.
 */
function storable(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (unstorable(item)) return false;
    } else if (item !== null && typeof item === 'object') {
      for (const [key, inner] of Object.entries(item)) {
        if (unstorable(key)) return false;
        stack.push(inner);
      }
    }
  }
  return true;
}

/** A refund of a payment takes back the credits it bought in proportion, rounded down. */
export function creditsForRefund(
  payment: { credits: number; amountMinor: number },
  refundedMinor: number,
): number {
  return Math.floor((payment.credits * refundedMinor) / payment.amountMinor);
}

/** A payment a provider refund can name: an order's, or a subscription renewal's. */
interface RefundablePayment {
  kind: 'order' | 'renewal';
  id: string;
  userId: string;
  productId: string;
  amountMinor: number;
  currency: string;
  refundedMinor: number;
  /** What the payment added to the balance. */
  credits: number;
  /** The link the CLAWBACK row carries. */
  link: { orderId: string } | { subscriptionId: string };
}

/**
 * Payment completion, from either side: the user's redirect back (verified with the provider,
 * never trusted) and the provider's signed webhooks (recorded, applied once). Each effect on
 * orders, subscriptions and credits happens in one database transaction, with no provider
 * call inside it.
 */
export class PaymentService {
  /** The read side, for finding orders and subscriptions. */
  private readonly queries: BillingQueries;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly provider: PaymentProvider,
    private readonly logger: Logger,
    private readonly urls: { successUrl: string; cancelUrl: string },
    private readonly hooks: PaymentHooks = {},
  ) {
    this.queries = new BillingQueries(dataSource);
  }

  /**
   * Announces an order's new status after `manager`'s transaction commits: the row as the
   * status change returned it (`RETURNING *`), so announcing costs no query.
   */
  private orderChanged(manager: EntityManager, rows: unknown): void {
    const hook = this.hooks.orderChanged;
    // UPDATE … RETURNING comes back from TypeORM as [rows, count].
    const [row] = (Array.isArray(rows) && Array.isArray(rows[0]) ? rows[0] : []) as Array<
      Record<string, unknown>
    >;
    if (hook && row) {
      const order = orderFromRow(row);
      afterCommit(manager, () => hook(order));
    }
  }

  /**
   * `GET /api/payment/callback`: asks the provider how the checkout stands, completes or
   * cancels the order accordingly, and says where to send the browser.
   */
  async handleRedirect(query: {
    orderId: unknown;
    checkoutId: unknown;
    status: unknown;
  }): Promise<{ location: string }> {
    const { orderId, checkoutId, status } = query;
    if (typeof orderId !== 'string' || !isUuid(orderId)) {
      throw new DomainError('BAD_USER_INPUT', 'order_id must be an order id');
    }
    if (typeof checkoutId !== 'string' || checkoutId.length === 0 || checkoutId.length > 255) {
      throw new DomainError('BAD_USER_INPUT', 'checkout_id is missing or malformed');
    }
    if (status !== 'success' && status !== 'cancel') {
      throw new DomainError('BAD_USER_INPUT', 'status must be success or cancel');
    }
    const order = await this.dataSource.getRepository(Order).findOneBy({ id: orderId });
    if (!order || order.checkoutId !== checkoutId) {
      throw new DomainError('NOT_FOUND', 'Order not found');
    }
    this.logger.info({ orderId, status }, 'payment callback started');
    let verification;
    try {
      verification = await this.provider.verifyPayment(checkoutId);
    } catch (error) {
      this.logger.error({ err: error, orderId }, 'payment verification failed');
      throw new DomainError('PROVIDER_ERROR', 'The payment provider could not be reached');
    }
    const to = (base: string) => {
      const url = new URL(base);
      url.searchParams.set('order_id', orderId);
      return url.toString();
    };
    if (verification.status === 'paid') {
      await runTransaction(this.dataSource, (manager) =>
        this.complete(manager, orderId, {
          transactionId: verification.transactionId!,
          amountMinor: verification.amountMinor!,
          currency: verification.currency!,
          subscription: verification.subscription,
        }),
      );
      return { location: to(this.urls.successUrl) };
    }
    if (verification.status === 'failed') this.hooks.paymentFailed?.();
    // Only the provider's word cancels an order. The query string's `status=cancel` is
    // anyone's to send (a link on any page): it sends the browser to the cancel page and
    // leaves a checkout the provider still holds open as it is.
    if (verification.status === 'cancelled' || verification.status === 'failed') {
      await this.cancelOrder(this.dataSource.manager, orderId);
      return { location: to(this.urls.cancelUrl) };
    }
    // Not settled at the provider yet: the webhook (or reconciliation) decides.
    return { location: to(status === 'cancel' ? this.urls.cancelUrl : this.urls.successUrl) };
  }

  /**
   * `POST /api/payment/callback`: verifies the signature before anything else, records the
   * event, applies it once. 401 bad signature, 400 unreadable body, 200 applied / duplicate /
   * ignored; 500 when applying failed (the event is stored as FAILED and the provider's retry
   * applies it again), or when nothing could be stored.
   */
  async handleWebhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<WebhookOutcome> {
    const started = performance.now();
    const handled = (
      kind: string,
      outcome: Parameters<NonNullable<PaymentHooks['webhookHandled']>>[1],
    ) => this.hooks.webhookHandled?.(kind, outcome, (performance.now() - started) / 1000);
    let parsed;
    try {
      parsed = this.provider.parseWebhook(rawBody, headers);
    } catch (error) {
      if (error instanceof WebhookSignatureError) {
        this.logger.warn({ reason: error.message }, 'webhook refused: bad signature');
        handled('unknown', 'rejected');
        return { status: 401, body: { error: 'invalid signature' } };
      }
      if (error instanceof WebhookPayloadError) {
        handled('unknown', 'rejected');
        return { status: 400, body: { error: error.message } };
      }
      throw error;
    }
    const { event, type, payload } = parsed;
    if (!storable(payload)) {
      handled('unknown', 'rejected');
      return {
        status: 400,
        body: { error: 'event holds a NUL or a lone surrogate, which cannot be stored' },
      };
    }
    this.logger.info({ eventId: event.eventId, type }, 'webhook started');
    const outcome = await this.recordAndApply(event, type, payload);
    if (!outcome.ok) {
      handled(event.kind, 'failed');
      return outcome.unavailable
        ? {
            status: 503,
            body: { error: 'database unavailable; retry' },
            retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
          }
        : { status: 500, body: { error: 'event not applied; retry' } };
    }
    const { duplicate, status } = outcome;
    handled(event.kind, duplicate ? 'duplicate' : status === 'IGNORED' ? 'ignored' : 'processed');
    return { status: 200, body: { received: true, duplicate, status } };
  }

  /**
   * Records an event (unique per provider event id) and applies it once, in one transaction;
   * a failure is recorded as FAILED with its error, for the provider's retry or a replay.
   */
  private async recordAndApply(
    event: ProviderEvent,
    type: string,
    payload: unknown,
  ): Promise<
    | { ok: true; duplicate: boolean; status: string }
    | { ok: false; error: string; unavailable: boolean }
  > {
    const provider = this.provider.name;
    try {
      const outcome = await runTransaction(this.dataSource, async (manager) => {
        // A concurrent delivery of the same event waits here until the first commits. The
        // first delivery inserts (and holds) the row; a later one locks the stored row.
        let [row] = await queryRows<{ id: string; status: string }>(
          manager,
          `INSERT INTO webhook_events (provider, event_id, type, payload)
           VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING
           RETURNING id, status`,
          [provider, event.eventId, type, JSON.stringify(payload)],
        );
        row ??= (
          (await manager.query(
            `SELECT id, status FROM webhook_events WHERE provider = $1 AND event_id = $2 FOR UPDATE`,
            [provider, event.eventId],
          )) as Array<{ id: string; status: string }>
        )[0];
        if (row!.status === 'PROCESSED' || row!.status === 'IGNORED') {
          return { duplicate: true, status: row!.status };
        }
        const status = await this.apply(manager, event);
        await manager.query(
          `UPDATE webhook_events SET status = $2, attempts = attempts + 1, last_error = NULL,
             processed_at = now() WHERE id = $1`,
          [row!.id, status],
        );
        return { duplicate: false, status };
      });
      return { ok: true, ...outcome };
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).slice(
        0,
        MAX_ERROR_LENGTH,
      );
      this.logger.error(
        {
          err: error,
          eventId: event.eventId,
          type,
          orderId: 'orderId' in event ? event.orderId : undefined,
        },
        'webhook failed',
      );
      try {
        await this.dataSource.query(
          `INSERT INTO webhook_events (provider, event_id, type, payload, status, attempts, last_error)
           VALUES ($1, $2, $3, $4, 'FAILED', 1, $5)
           ON CONFLICT (provider, event_id) DO UPDATE
             SET status = 'FAILED', attempts = webhook_events.attempts + 1, last_error = EXCLUDED.last_error
             WHERE webhook_events.status IN ('RECEIVED', 'FAILED')`,
          [provider, event.eventId, type, JSON.stringify(payload), message],
        );
      } catch (recordError) {
        this.logger.error({ err: recordError, eventId: event.eventId }, 'webhook not recorded');
      }
      return { ok: false, error: message, unavailable: isDatabaseUnavailable(error) };
    }
  }

  /**
   * Applies a stored event again (an admin's replay of a FAILED one). An event already
   * applied is returned as it is: nothing happens twice.
   */
  async replayWebhookEvent(id: string): Promise<WebhookEvent> {
    const repository = this.dataSource.getRepository(WebhookEvent);
    const stored = isUuid(id) ? await repository.findOneBy({ id }) : null;
    if (!stored || stored.provider !== this.provider.name) {
      throw new DomainError('NOT_FOUND', 'Webhook event not found');
    }
    if (stored.status === 'RECEIVED' || stored.status === 'FAILED') {
      let event: ProviderEvent;
      try {
        event = this.provider.parseStoredEvent(stored.payload);
      } catch {
        throw new DomainError('BAD_USER_INPUT', 'The stored event cannot be read');
      }
      await this.recordAndApply(event, stored.type, stored.payload);
    }
    return repository.findOneByOrFail({ id });
  }

  /** Stored events, newest first, optionally of one status. */
  async listWebhookEvents(options: {
    first: number;
    afterId?: string | undefined;
    status?: string | undefined;
  }): Promise<{ events: WebhookEvent[]; hasNextPage: boolean }> {
    const qb = this.dataSource
      .getRepository(WebhookEvent)
      .createQueryBuilder('e')
      .orderBy('e.received_at', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .limit(options.first + 1);
    if (options.status) qb.andWhere('e.status = :status', { status: options.status });
    if (options.afterId) {
      if (!isUuid(options.afterId)) throw new DomainError('BAD_USER_INPUT', 'Malformed cursor');
      qb.andWhere(
        '(e.received_at, e.id) < (SELECT c.received_at, c.id FROM webhook_events c WHERE c.id = :after)',
        { after: options.afterId },
      );
    }
    const rows = await qb.getMany();
    return { events: rows.slice(0, options.first), hasNextPage: rows.length > options.first };
  }

  /** Pending orders older than `olderThanMinutes`, oldest first (at most 500). */
  async stuckOrders(olderThanMinutes: number): Promise<Order[]> {
    if (!Number.isInteger(olderThanMinutes) || olderThanMinutes < 0 || olderThanMinutes > 525_600) {
      throw new DomainError('BAD_USER_INPUT', 'olderThanMinutes must be 0 to 525600');
    }
    return this.dataSource
      .getRepository(Order)
      .createQueryBuilder('o')
      .where(`o.status = 'PENDING'`)
      .andWhere(`o.created_at < now() - make_interval(mins => :minutes)`, {
        minutes: olderThanMinutes,
      })
      .orderBy('o.created_at', 'ASC')
      .limit(500)
      .getMany();
  }

  /**
   * Reconciles every order pending for over `olderThanMinutes` (the CLI and the scheduled
   * job): how many ended in each status, and the ids that could not be settled.
   */
  async reconcileStuckOrders(
    olderThanMinutes: number,
  ): Promise<{ pending: number; settled: Record<string, number>; failed: string[] }> {
    const stuck = await this.stuckOrders(olderThanMinutes);
    const settled: Record<string, number> = {};
    const failed: string[] = [];
    for (const order of stuck) {
      try {
        const after = await this.reconcileOrder(order.id);
        settled[after.status] = (settled[after.status] ?? 0) + 1;
      } catch (error) {
        this.logger.error({ err: error, orderId: order.id }, 'reconciliation failed');
        failed.push(order.id);
      }
    }
    return { pending: stuck.length, settled, failed };
  }

  /**
   * Asks the provider about a pending order and settles it: paid → completed (credited once),
   * cancelled or failed → cancelled, still open → left pending. Never a provider call inside
   * a database transaction.
   */
  async reconcileOrder(orderId: string): Promise<Order> {
    const repository = this.dataSource.getRepository(Order);
    const order = await this.queries.findOrder(orderId);
    if (!order) throw new DomainError('NOT_FOUND', 'Order not found');
    if (order.status !== 'PENDING') return order;
    if (!order.checkoutId) {
      // The provider never made its checkout: nothing can have been paid.
      await this.cancelOrder(this.dataSource.manager, order.id);
      return repository.findOneByOrFail({ id: orderId });
    }
    let verification;
    try {
      verification = await this.provider.verifyPayment(order.checkoutId);
    } catch (error) {
      this.logger.error({ err: error, orderId }, 'reconciliation could not reach the provider');
      throw new DomainError('PROVIDER_ERROR', 'The payment provider could not be reached');
    }
    if (verification.status === 'paid') {
      await runTransaction(this.dataSource, (manager) =>
        this.complete(manager, order.id, {
          transactionId: verification.transactionId!,
          amountMinor: verification.amountMinor!,
          currency: verification.currency!,
          subscription: verification.subscription,
        }),
      );
      this.logger.info({ orderId }, 'reconciled: completed');
    } else if (verification.status === 'cancelled' || verification.status === 'failed') {
      if (verification.status === 'failed') this.hooks.paymentFailed?.();
      await this.cancelOrder(this.dataSource.manager, order.id);
      this.logger.info({ orderId, status: verification.status }, 'reconciled: cancelled');
    }
    return repository.findOneByOrFail({ id: orderId });
  }

  /**
   * Cancels the user's live subscription at the provider, by default at the end of the
   * period, and records it at once (the provider's webhook then confirms it).
   */
  async cancelSubscription(userId: string, atPeriodEnd: boolean): Promise<Subscription> {
    const subscription = await this.queries.currentSubscription(userId);
    if (!subscription) throw new DomainError('NOT_FOUND', 'No active subscription');
    try {
      await this.provider.cancelSubscription(subscription.providerSubscriptionId, atPeriodEnd);
    } catch (error) {
      this.logger.error({ err: error, subscriptionId: subscription.id }, 'provider cancel failed');
      throw new DomainError('PROVIDER_ERROR', 'The payment provider could not cancel it');
    }
    await this.dataSource.query(
      atPeriodEnd
        ? `UPDATE subscriptions SET cancel_at_period_end = true, updated_at = now()
           WHERE id = $1 AND status <> 'CANCELLED'`
        : `UPDATE subscriptions SET status = 'CANCELLED', cancelled_at = now(), updated_at = now()
           WHERE id = $1 AND status <> 'CANCELLED'`,
      [subscription.id],
    );
    return this.dataSource.getRepository(Subscription).findOneByOrFail({ id: subscription.id });
  }

  /** Applies one event inside the caller's transaction; says whether it acted. */
  private async apply(
    manager: EntityManager,
    event: ProviderEvent,
  ): Promise<'PROCESSED' | 'IGNORED'> {
    switch (event.kind) {
      case 'checkout.completed':
        await this.complete(manager, event.orderId, event, event.checkoutId);
        return 'PROCESSED';
      case 'checkout.cancelled':
        await this.cancelOrder(manager, event.orderId);
        return 'PROCESSED';
      case 'subscription.renewed':
        await this.renew(manager, event);
        return 'PROCESSED';
      case 'subscription.past_due': {
        await this.requireSubscription(manager, event.providerSubscriptionId);
        await manager.query(
          `UPDATE subscriptions SET status = 'PAST_DUE', status_changed_at = $3, updated_at = now()
           WHERE provider = $1 AND provider_subscription_id = $2 AND status = 'ACTIVE'
             AND ${NEWER_STATUS}`,
          [this.provider.name, event.providerSubscriptionId, event.occurredAt ?? new Date()],
        );
        return 'PROCESSED';
      }
      case 'subscription.cancelled': {
        await this.requireSubscription(manager, event.providerSubscriptionId);
        const atPeriodEnd = event.cancelAtPeriodEnd && event.endsAt.getTime() > Date.now();
        await manager.query(
          atPeriodEnd
            ? `UPDATE subscriptions SET cancel_at_period_end = true, status_changed_at = $3,
                 updated_at = now()
               WHERE provider = $1 AND provider_subscription_id = $2 AND status <> 'CANCELLED'
                 AND ${NEWER_STATUS}`
            : `UPDATE subscriptions SET status = 'CANCELLED', cancelled_at = now(),
                 status_changed_at = $3, updated_at = now()
               WHERE provider = $1 AND provider_subscription_id = $2 AND status <> 'CANCELLED'`,
          [this.provider.name, event.providerSubscriptionId, event.occurredAt ?? new Date()],
        );
        return 'PROCESSED';
      }
      case 'refund':
        return this.refund(manager, event);
      case 'ignored':
        return 'IGNORED';
    }
  }

  /**
   * Completes an order once: COMPLETED, its credits (a PURCHASE, or the subscription and its
   * first period's grant), all in the caller's transaction under the order's row lock. A
   * payment that does not match the order's price is refused, loudly.
   */
  private async complete(
    manager: EntityManager,
    orderId: string,
    payment: ConfirmedPayment,
    /** When the payment names its checkout (a webhook), it must be the order's. */
    checkoutId?: string,
  ): Promise<void> {
    const order = await manager.findOne(Order, {
      where: { id: orderId },
      lock: { mode: 'pessimistic_write' },
    });
    if (!order || (checkoutId !== undefined && order.checkoutId !== checkoutId)) {
      throw new Error(`no order ${orderId} for checkout ${checkoutId ?? '(any)'}`);
    }
    if (order.status === 'COMPLETED' || order.status === 'REFUNDED') return;
    if (payment.amountMinor !== order.amountMinor || payment.currency !== order.currency) {
      this.logger.error(
        { orderId, paid: payment.amountMinor, currency: payment.currency },
        'critical: payment does not match the order',
      );
      throw new Error(`payment of ${payment.amountMinor} ${payment.currency} does not match order`);
    }
    // A payment the provider confirms completes the order even after the user cancelled it:
    // the money was taken. Status changes stamp clock_timestamp(): under the order's row
    // lock a later change always gets a later time, which live updates order by.
    const completed: unknown = await manager.query(
      `UPDATE orders SET status = 'COMPLETED', completed_at = now(), provider_transaction_id = $2,
         updated_at = clock_timestamp() WHERE id = $1 RETURNING *`,
      [orderId, payment.transactionId],
    );
    this.orderChanged(manager, completed);
    const product = findProduct(order.productId);
    const name = product?.name ?? order.productId;
    if (order.kind === 'CREDIT_PACK') {
      await this.ledger.grant({
        userId: order.userId,
        type: 'PURCHASE',
        amount: order.credits,
        description: `Purchase: ${name}`,
        orderId: order.id,
        manager,
      });
      return;
    }
    if (!payment.subscription)
      throw new Error(`subscription order ${orderId} paid without a period`);
    const period = payment.subscription;
    // Checkout allows one plan at a time, but the provider may still complete a payment page
    // opened elsewhere: the money is taken, so the plan starts, and someone must look.
    const others = (await manager.query(
      `SELECT id FROM subscriptions WHERE user_id = $1 AND status IN ('ACTIVE', 'PAST_DUE')
         AND NOT (provider = $2 AND provider_subscription_id = $3)`,
      [order.userId, this.provider.name, period.providerSubscriptionId],
    )) as Array<{ id: string }>;
    if (others.length > 0) {
      this.logger.error(
        { orderId: order.id, userId: order.userId, subscriptionIds: others.map((o) => o.id) },
        'critical: a second active subscription for one user: refund or cancel one',
      );
      const hook = this.hooks.secondSubscription;
      if (hook) afterCommit(manager, hook);
    }
    const rows = (await manager.query(
      `INSERT INTO subscriptions (user_id, order_id, product_id, provider, provider_subscription_id,
         status, current_period_start, current_period_end)
       VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $7)
       ON CONFLICT (provider, provider_subscription_id) DO UPDATE SET order_id = EXCLUDED.order_id
       RETURNING id`,
      [
        order.userId,
        order.id,
        order.productId,
        this.provider.name,
        period.providerSubscriptionId,
        period.periodStart,
        period.periodEnd,
      ],
    )) as Array<{ id: string }>;
    await this.grantPeriod(manager, rows[0]!.id, order, period);
  }

  /** One SUBSCRIPTION_GRANT per period: checked under the subscription's lock, backed by a unique index. */
  private async grantPeriod(
    manager: EntityManager,
    subscriptionId: string,
    order: Pick<Order, 'userId' | 'credits' | 'productId'>,
    period: ProviderPeriod,
  ): Promise<number> {
    await manager.query('SELECT 1 FROM subscriptions WHERE id = $1 FOR UPDATE', [subscriptionId]);
    const granted = (await manager.query(
      `SELECT 1 FROM credit_transactions WHERE subscription_id = $1 AND period_start = $2
         AND type = 'SUBSCRIPTION_GRANT'`,
      [subscriptionId, period.periodStart],
    )) as unknown[];
    if (granted.length > 0) return 0;
    await this.ledger.grant({
      userId: order.userId,
      type: 'SUBSCRIPTION_GRANT',
      amount: order.credits,
      description: `${findProduct(order.productId)?.name ?? order.productId}: period from ${period.periodStart.toISOString().slice(0, 10)}`,
      subscriptionId,
      periodStart: period.periodStart,
      manager,
    });
    return order.credits;
  }

  private async renew(
    manager: EntityManager,
    event: Extract<ProviderEvent, { kind: 'subscription.renewed' }>,
  ): Promise<void> {
    const subscription = await manager.findOne(Subscription, {
      where: { provider: this.provider.name, providerSubscriptionId: event.providerSubscriptionId },
      lock: { mode: 'pessimistic_write' },
    });
    // Before its creation arrived: fail so the provider delivers it again later.
    if (!subscription)
      throw new Error(`renewal of unknown subscription ${event.providerSubscriptionId}`);
    const order = subscription.orderId
      ? await manager.findOneBy(Order, { id: subscription.orderId })
      : null;
    const credits = order?.credits ?? findProduct(subscription.productId)?.credits;
    if (!credits) throw new Error(`no credits known for subscription ${subscription.id}`);
    // The period only moves forward: a late or repeated renewal never winds it back. A
    // renewal makes the subscription ACTIVE again only if no newer status change came first.
    await manager.query(
      `UPDATE subscriptions SET current_period_start = $2, current_period_end = $3, updated_at = now()
       WHERE id = $1 AND current_period_end < $3`,
      [subscription.id, event.periodStart, event.periodEnd],
    );
    await manager.query(
      `UPDATE subscriptions SET status = 'ACTIVE', status_changed_at = $2, updated_at = now()
       WHERE id = $1 AND status = 'PAST_DUE' AND (status_changed_at IS NULL OR status_changed_at <= $2)`,
      [subscription.id, event.occurredAt ?? new Date()],
    );
    const granted = await this.grantPeriod(
      manager,
      subscription.id,
      { userId: subscription.userId, credits, productId: subscription.productId },
      event,
    );
    // The renewal's own payment, so a refund of it finds what it bought. A second event for
    // the same payment records nothing more.
    await manager.query(
      `INSERT INTO subscription_payments (subscription_id, provider, provider_transaction_id,
         period_start, period_end, amount_minor, currency, credits)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (provider, provider_transaction_id) DO NOTHING`,
      [
        subscription.id,
        this.provider.name,
        event.transactionId,
        event.periodStart,
        event.periodEnd,
        event.amountMinor ?? order?.amountMinor ?? findProduct(subscription.productId)?.priceMinor,
        event.currency ?? order?.currency ?? findProduct(subscription.productId)?.currency,
        granted,
      ],
    );
  }

  /**
   * A provider refund of a payment (an order's, or a subscription renewal's): the credits it
   * bought, in proportion to the amount refunded (rounded down, so a full refund takes back
   * exactly all of them), clawed back even below zero; an order is REFUNDED once fully
   * refunded. Once per refund id. A refund of a payment Tally has not recorded fails, so the
   * provider's retry (or a replay) applies it once the payment's own event has arrived.
   */
  private async refund(
    manager: EntityManager,
    event: Extract<ProviderEvent, { kind: 'refund' }>,
  ): Promise<'PROCESSED'> {
    const payment = await this.findRefundablePayment(manager, event.transactionId);
    if (!payment) {
      throw new Error(`refund ${event.refundId} of unknown payment ${event.transactionId}`);
    }
    // Amounts in two currencies cannot be put in proportion: nothing is clawed back on a
    // guess. The event stays FAILED for an operator to look at.
    if (event.currency !== payment.currency) {
      throw new Error(
        `critical: refund ${event.refundId} is in ${event.currency}, its payment ${event.transactionId} in ${payment.currency}: not applied`,
      );
    }
    const column = payment.kind === 'order' ? 'order_id' : 'subscription_payment_id';
    const inserted = (await manager.query(
      `INSERT INTO provider_refunds (provider, refund_id, ${column}, amount_minor, credits_clawed_back)
       VALUES ($1, $2, $3, $4, 0) ON CONFLICT (provider, refund_id) DO NOTHING RETURNING id`,
      [this.provider.name, event.refundId, payment.id, event.amountMinor],
    )) as Array<{ id: string }>;
    if (inserted.length === 0) return 'PROCESSED';
    const refunded = Math.min(payment.amountMinor, payment.refundedMinor + event.amountMinor);
    const [{ clawed }] = (await manager.query(
      `SELECT COALESCE(sum(credits_clawed_back), 0)::int AS clawed FROM provider_refunds
       WHERE ${column} = $1`,
      [payment.id],
    )) as Array<{ clawed: number }>;
    const take = creditsForRefund(payment, refunded) - clawed;
    if (take > 0) {
      const name = findProduct(payment.productId)?.name ?? payment.productId;
      await this.ledger.clawback({
        userId: payment.userId,
        amount: take,
        description: payment.kind === 'order' ? `Refund of ${name}` : `Refund of ${name} renewal`,
        ...payment.link,
        manager,
      });
      await manager.query('UPDATE provider_refunds SET credits_clawed_back = $2 WHERE id = $1', [
        inserted[0]!.id,
        take,
      ]);
    }
    const updated: unknown = await manager.query(
      payment.kind === 'order'
        ? `UPDATE orders SET refunded_minor = $2,
             status = CASE WHEN $2 >= amount_minor THEN 'REFUNDED' ELSE status END,
             updated_at = clock_timestamp()
           WHERE id = $1 RETURNING *`
        : `UPDATE subscription_payments SET refunded_minor = $2 WHERE id = $1`,
      [payment.id, refunded],
    );
    if (payment.kind === 'order' && refunded >= payment.amountMinor) {
      this.orderChanged(manager, updated);
    }
    const refundedHook = this.hooks.refunded;
    if (refundedHook) afterCommit(manager, () => refundedHook(payment.kind));
    return 'PROCESSED';
  }

  /** The payment a provider transaction id names, locked: an order's first, else a renewal's. */
  private async findRefundablePayment(
    manager: EntityManager,
    transactionId: string,
  ): Promise<RefundablePayment | null> {
    const order = await manager.findOne(Order, {
      where: { provider: this.provider.name, providerTransactionId: transactionId },
      lock: { mode: 'pessimistic_write' },
    });
    if (order) {
      return {
        kind: 'order',
        id: order.id,
        userId: order.userId,
        productId: order.productId,
        amountMinor: order.amountMinor,
        currency: order.currency,
        refundedMinor: order.refundedMinor,
        credits: order.credits,
        link: { orderId: order.id },
      };
    }
    const [renewal] = await queryRows<{
      id: string;
      subscription_id: string;
      user_id: string;
      product_id: string;
      amount_minor: number;
      currency: string;
      refunded_minor: number;
      credits: number;
    }>(
      manager,
      `SELECT p.id, p.subscription_id, s.user_id, s.product_id, p.amount_minor, p.currency,
         p.refunded_minor, p.credits
       FROM subscription_payments p JOIN subscriptions s ON s.id = p.subscription_id
       WHERE p.provider = $1 AND p.provider_transaction_id = $2
       FOR UPDATE OF p`,
      [this.provider.name, transactionId],
    );
    if (!renewal) return null;
    return {
      kind: 'renewal',
      id: renewal.id,
      userId: renewal.user_id,
      productId: renewal.product_id,
      amountMinor: renewal.amount_minor,
      currency: renewal.currency,
      refundedMinor: renewal.refunded_minor,
      credits: renewal.credits,
      link: { subscriptionId: renewal.subscription_id },
    };
  }

  /**
   * An event about a subscription Tally has not recorded yet (its creation is still on the
   * way) fails, so the provider delivers it again later, after the creation, instead of
   * being applied to nothing and lost.
   */
  private async requireSubscription(
    manager: EntityManager,
    providerSubscriptionId: string,
  ): Promise<void> {
    const found = (await manager.query(
      'SELECT 1 FROM subscriptions WHERE provider = $1 AND provider_subscription_id = $2 FOR UPDATE',
      [this.provider.name, providerSubscriptionId],
    )) as unknown[];
    if (found.length === 0) {
      throw new Error(`event for unknown subscription ${providerSubscriptionId}: not yet created`);
    }
  }

  private async cancelOrder(manager: EntityManager, orderId: string): Promise<void> {
    const cancelled: unknown = await manager.query(
      `UPDATE orders SET status = 'CANCELLED', updated_at = clock_timestamp()
       WHERE id = $1 AND status = 'PENDING' RETURNING *`,
      [orderId],
    );
    this.orderChanged(manager, cancelled);
  }
}

import type { EntityManager } from 'typeorm';
import { afterCommit } from '../db';
import type { Order, OrderStatus, Subscription, SubscriptionStatus } from '../entities';
import { queryRows } from '../ledger';
import type { Logger } from '../observability';
import type { ProviderPeriod } from '../providers';
import { orderFromRow, subscriptionFromRow } from './rows';

/**
 * The only writer of the `orders` and `subscriptions` tables (scripts/check-source-rules.ts
 * fails on any other file that writes them): their statuses, `cancel_at_period_end`, the
 * period bounds, and the event time a status was set from. Every change here checks the
 * table of legal moves, stamps one clock (`clock_timestamp()`: under a row's lock a later
 * change always gets a later time, which live updates order by), applies the event-time
 * guard when the change comes from the provider, and tells the hooks after commit.
 */

/** The legal moves of an order. Anything else is refused, logged and counted. */
export const ORDER_MOVES: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING: ['COMPLETED', 'CANCELLED', 'FAILED'],
  // A payment the provider confirms completes an order even after the user gave up on its
  // page, or after Tally lost the provider's answer to the checkout: the money was taken.
  CANCELLED: ['COMPLETED'],
  FAILED: ['COMPLETED'],
  COMPLETED: ['REFUNDED'],
  REFUNDED: [],
};

/** The legal moves of a subscription. It is created ACTIVE by its first payment. */
export const SUBSCRIPTION_MOVES: Readonly<
  Record<SubscriptionStatus, readonly SubscriptionStatus[]>
> = {
  ACTIVE: ['PAST_DUE', 'PAUSED', 'CANCELLED'],
  PAST_DUE: ['ACTIVE', 'PAUSED', 'CANCELLED'],
  PAUSED: ['ACTIVE', 'CANCELLED'],
  CANCELLED: [],
};

/** What became of an asked-for change. */
export type Move<Row> =
  | { kind: 'moved'; from: string; row: Row }
  /** Already so: nothing to do. */
  | { kind: 'unchanged'; row: Row }
  /** The provider already applied a newer change: this older event changes nothing. */
  | { kind: 'stale'; row: Row }
  /** Outside the table of legal moves (ILLEGAL_TRANSITION): logged and counted. */
  | { kind: 'refused'; from: string; to: string }
  | { kind: 'missing' };

/** What the outside is told once a change has committed. */
export interface StatusHooks {
  orderChanged?: (order: Order) => void;
  subscriptionChanged?: (subscription: Subscription, from: string | null) => void;
  /** A move outside the table was refused. */
  refused?: (entity: 'order' | 'subscription', from: string, to: string) => void;
}

/** A subscription by Tally's id or by the provider's. */
export type SubscriptionRef = { id: string } | { providerSubscriptionId: string };

/** Who asks for a subscription change: the provider's event (guarded by its time) or Tally. */
export interface ChangeSource {
  /** When the provider says the change happened; absent for Tally's own changes. */
  occurredAt?: Date | undefined;
}

/** A subscription change asked for: which, to what, and from whom. */
type SubscriptionMove = {
  manager: EntityManager;
  ref: SubscriptionRef;
  to: SubscriptionStatus;
} & ChangeSource;

const legalFrom = <S extends string>(moves: Readonly<Record<S, readonly S[]>>, to: S): S[] =>
  (Object.keys(moves) as S[]).filter((from) => moves[from].includes(to));

/**
 * The event-time guard: a provider's change (its time in parameter `param`) applies only if
 * it is not older than the last provider change applied; Tally's own (null) always does, and
 * so does a move into a final status (one with no moves out): nothing can come after it, so
 * an older event that ends a subscription still ends it.
 */
const notOlder = (param: string, column: string) =>
  `(${param}::timestamptz IS NULL OR ${column} IS NULL OR ${column} <= ${param}::timestamptz)`;

export class BillingStatus {
  constructor(
    private readonly options: { provider: string; logger: Logger; hooks?: StatusHooks },
  ) {}

  /** A new PENDING order with the catalog's price and credits copied onto it. */
  async openOrder(options: {
    manager: EntityManager;
    fields: Pick<Order, 'userId' | 'productId' | 'kind' | 'amountMinor' | 'currency' | 'credits'>;
  }): Promise<Order> {
    const { manager, fields } = options;
    const [row] = await queryRows<Record<string, unknown>>(
      manager,
      `INSERT INTO orders (user_id, product_id, kind, status, amount_minor, currency, credits, provider)
       VALUES ($1, $2, $3, 'PENDING', $4, $5, $6, $7) RETURNING *`,
      [
        fields.userId,
        fields.productId,
        fields.kind,
        fields.amountMinor,
        fields.currency,
        fields.credits,
        this.options.provider,
      ],
    );
    return orderFromRow(row!);
  }

  /** Stores the provider's checkout on its order (once the provider has made it). */
  async attachCheckout(options: {
    manager: EntityManager;
    orderId: string;
    checkoutId: string;
    url: string;
  }): Promise<void> {
    await options.manager.query(
      `UPDATE orders SET checkout_id = $2, checkout_url = $3, updated_at = clock_timestamp()
       WHERE id = $1`,
      [options.orderId, options.checkoutId, options.url],
    );
  }

  /**
   * Moves an order to `to` if the table allows it from where it is. COMPLETED records the
   * provider's payment id; `refundedMinor` records what has been refunded of it.
   */
  async moveOrder(options: {
    manager: EntityManager;
    orderId: string;
    to: OrderStatus;
    transactionId?: string;
    refundedMinor?: number;
  }): Promise<Move<Order>> {
    const { manager, orderId, to } = options;
    const [row] = await queryRows<Record<string, unknown>>(
      manager,
      `UPDATE orders o SET status = $2::varchar, updated_at = clock_timestamp(),
         completed_at = CASE WHEN $2::varchar = 'COMPLETED' THEN clock_timestamp()
           ELSE o.completed_at END,
         provider_transaction_id = COALESCE($4::varchar, o.provider_transaction_id),
         refunded_minor = COALESCE($5::int, o.refunded_minor)
       FROM (SELECT id, status AS before FROM orders WHERE id = $1 FOR UPDATE) b
       WHERE o.id = b.id AND o.status = ANY($3::varchar[])
       RETURNING o.*, b.before`,
      [
        orderId,
        to,
        legalFrom(ORDER_MOVES, to),
        options.transactionId ?? null,
        options.refundedMinor ?? null,
      ],
    );
    if (row) {
      const order = orderFromRow(row);
      this.announceOrder(manager, order);
      return { kind: 'moved', from: String(row['before']), row: order };
    }
    const [current] = await queryRows<Record<string, unknown>>(
      manager,
      'SELECT * FROM orders WHERE id = $1',
      [orderId],
    );
    if (!current) return { kind: 'missing' };
    if (current['status'] === to) return { kind: 'unchanged', row: orderFromRow(current) };
    return this.refuse(manager, {
      entity: 'order',
      id: orderId,
      from: String(current['status']),
      to,
    });
  }

  /**
   * Records that `refundedMinor` of an order's payment has been refunded in all; once all of
   * it has, the order is REFUNDED.
   */
  async recordOrderRefund(options: {
    manager: EntityManager;
    order: Pick<Order, 'id' | 'amountMinor'>;
    refundedMinor: number;
  }): Promise<Move<Order> | { kind: 'partial' }> {
    const { manager, order, refundedMinor } = options;
    if (refundedMinor >= order.amountMinor) {
      return this.moveOrder({ manager, orderId: order.id, to: 'REFUNDED', refundedMinor });
    }
    await manager.query(
      `UPDATE orders SET refunded_minor = $2, updated_at = clock_timestamp() WHERE id = $1`,
      [order.id, refundedMinor],
    );
    return { kind: 'partial' };
  }

  /**
   * The subscription a first payment starts, ACTIVE for its first period; a second start of
   * the same provider subscription (another event of the same payment) links it and no more.
   */
  async startSubscription(options: {
    manager: EntityManager;
    userId: string;
    orderId: string;
    productId: string;
    period: ProviderPeriod;
  }): Promise<Subscription> {
    const { manager, period } = options;
    const [row] = await queryRows<Record<string, unknown>>(
      manager,
      `INSERT INTO subscriptions (user_id, order_id, product_id, provider, provider_subscription_id,
         status, current_period_start, current_period_end)
       VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $7)
       ON CONFLICT (provider, provider_subscription_id) DO UPDATE SET order_id = EXCLUDED.order_id
       RETURNING *, (xmax = 0) AS inserted`,
      [
        options.userId,
        options.orderId,
        options.productId,
        this.options.provider,
        period.providerSubscriptionId,
        period.periodStart,
        period.periodEnd,
      ],
    );
    const subscription = subscriptionFromRow(row!);
    if (row!['inserted'] === true) this.announceSubscription(manager, subscription, null);
    return subscription;
  }

  /**
   * Moves a subscription to `to` if the table allows it from where it is and, for a
   * provider's event, no newer provider change has been applied (the event's time is kept).
   */
  async moveSubscription(options: SubscriptionMove): Promise<Move<Subscription>> {
    const { manager, to } = options;
    const { where, params } = this.refSql(options.ref, 5);
    const [row] = await queryRows<Record<string, unknown>>(
      manager,
      `UPDATE subscriptions s SET status = $1::varchar, updated_at = clock_timestamp(),
         status_changed_at = GREATEST(s.status_changed_at, $3::timestamptz),
         cancelled_at = CASE WHEN $1::varchar = 'CANCELLED' THEN clock_timestamp()
           ELSE s.cancelled_at END
       FROM (SELECT id, status AS before FROM subscriptions WHERE ${where} FOR UPDATE) b
       WHERE s.id = b.id AND s.status = ANY($2::varchar[])
         AND ($4::boolean OR ${notOlder('$3', 's.status_changed_at')})
       RETURNING s.*, b.before`,
      [
        to,
        legalFrom(SUBSCRIPTION_MOVES, to),
        options.occurredAt ?? null,
        SUBSCRIPTION_MOVES[to].length === 0,
        ...params,
      ],
    );
    if (row) {
      const subscription = subscriptionFromRow(row);
      this.announceSubscription(manager, subscription, String(row['before']));
      return { kind: 'moved', from: String(row['before']), row: subscription };
    }
    return this.explainSubscription({
      manager,
      ref: options.ref,
      to,
      occurredAt: options.occurredAt,
    });
  }

  /**
   * Sets or clears "cancelled at the end of the period" (not on a CANCELLED subscription),
   * under the same event-time guard as a status change.
   */
  async setCancelAtPeriodEnd(
    options: { manager: EntityManager; ref: SubscriptionRef; value: boolean } & ChangeSource,
  ): Promise<Move<Subscription>> {
    const { manager } = options;
    const { where, params } = this.refSql(options.ref, 3);
    const [row] = await queryRows<Record<string, unknown>>(
      manager,
      `UPDATE subscriptions SET cancel_at_period_end = $1::boolean, updated_at = clock_timestamp(),
         status_changed_at = GREATEST(status_changed_at, $2::timestamptz)
       WHERE ${where} AND status <> 'CANCELLED' AND ${notOlder('$2', 'status_changed_at')}
       RETURNING *`,
      [options.value, options.occurredAt ?? null, ...params],
    );
    if (row) {
      const subscription = subscriptionFromRow(row);
      this.announceSubscription(manager, subscription, subscription.status);
      return { kind: 'moved', from: subscription.status, row: subscription };
    }
    const current = await this.findSubscription(manager, options.ref);
    if (!current) return { kind: 'missing' };
    if (current.status === 'CANCELLED') {
      return this.refuse(manager, {
        entity: 'subscription',
        id: current.id,
        from: 'CANCELLED',
        to: 'CANCEL_AT_PERIOD_END',
      });
    }
    return { kind: 'stale', row: current };
  }

  /** Moves a subscription's period forward to `period`; never back. Says whether it moved. */
  async advancePeriod(options: {
    manager: EntityManager;
    subscriptionId: string;
    period: Pick<ProviderPeriod, 'periodStart' | 'periodEnd'>;
  }): Promise<boolean> {
    const moved = await queryRows<{ id: string }>(
      options.manager,
      `UPDATE subscriptions SET current_period_start = $2, current_period_end = $3,
         updated_at = clock_timestamp()
       WHERE id = $1 AND current_period_end < $3 RETURNING id`,
      [options.subscriptionId, options.period.periodStart, options.period.periodEnd],
    );
    return moved.length > 0;
  }

  /**
   * Why a subscription did not move: gone, already there, or superseded by a newer change of
   * the provider's (stale, whatever it asked for), else a move the table does not allow.
   */
  private async explainSubscription(options: SubscriptionMove): Promise<Move<Subscription>> {
    const { manager, to, occurredAt } = options;
    const current = await this.findSubscription(manager, options.ref);
    if (!current) return { kind: 'missing' };
    if (current.status === to) return { kind: 'unchanged', row: current };
    const superseded =
      occurredAt !== undefined &&
      current.statusChangedAt !== null &&
      current.statusChangedAt.getTime() > occurredAt.getTime();
    if (superseded) return { kind: 'stale', row: current };
    return this.refuse(manager, {
      entity: 'subscription',
      id: current.id,
      from: current.status,
      to,
    });
  }

  private async findSubscription(
    manager: EntityManager,
    ref: SubscriptionRef,
  ): Promise<Subscription | null> {
    const { where, params } = this.refSql(ref, 1);
    const [row] = await queryRows<Record<string, unknown>>(
      manager,
      `SELECT * FROM subscriptions WHERE ${where}`,
      params,
    );
    return row ? subscriptionFromRow(row) : null;
  }

  /** The WHERE clause naming one subscription, its parameters numbered from `first`. */
  private refSql(ref: SubscriptionRef, first: number): { where: string; params: unknown[] } {
    if ('id' in ref) return { where: `id = $${first}`, params: [ref.id] };
    return {
      where: `provider = $${first} AND provider_subscription_id = $${first + 1}`,
      params: [this.options.provider, ref.providerSubscriptionId],
    };
  }

  /** A move outside the table: logged and counted once the caller's transaction commits. */
  private refuse(
    manager: EntityManager,
    move: { entity: 'order' | 'subscription'; id: string; from: string; to: string },
  ): { kind: 'refused'; from: string; to: string } {
    const { logger, hooks } = this.options;
    afterCommit(manager, () => {
      logger.warn(move, 'status move refused: not a legal move');
      hooks?.refused?.(move.entity, move.from, move.to);
    });
    return { kind: 'refused', from: move.from, to: move.to };
  }

  private announceOrder(manager: EntityManager, order: Order): void {
    const hook = this.options.hooks?.orderChanged;
    if (hook) afterCommit(manager, () => hook(order));
  }

  private announceSubscription(
    manager: EntityManager,
    subscription: Subscription,
    from: string | null,
  ): void {
    const hook = this.options.hooks?.subscriptionChanged;
    if (hook) afterCommit(manager, () => hook(subscription, from));
  }
}

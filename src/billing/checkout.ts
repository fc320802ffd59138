import type { DataSource, EntityManager } from 'typeorm';
import { findProduct } from '../catalog';
import { Order } from '../entities';
import { runTransaction } from '../db';
import { DomainError } from '../errors';
import {
  assertIdempotencyKey,
  claimIdempotencyKey,
  lockProfile,
  storeIdempotentResponse,
  type ProfileService,
} from '../ledger';
import type { Logger } from '../observability';
import type { PaymentProvider } from '../providers';
import type { RateLimit } from '../ratelimit';

export interface CheckoutResult {
  order: Order;
  checkoutUrl: string;
}

/** How long a replay waits for the first request of its key to get its checkout URL. */
const REPLAY_WAIT_MS = 5000;

/**
 * Starts purchases: a PENDING order with the catalog's price and credits copied onto it,
 * then the provider's hosted checkout for it. The provider is called outside any database
 * transaction; if it fails the order ends FAILED (never half-made) and the idempotency key
 * is freed for a retry.
 */
export class CheckoutService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly profiles: ProfileService,
    private readonly provider: PaymentProvider,
    private readonly logger: Logger,
    private readonly limit?: RateLimit,
    /** Told how each checkout ended (metrics). */
    private readonly onOutcome?: (outcome: 'created' | 'replayed' | 'provider_error') => void,
  ) {}

  async createCheckout(options: {
    userId: string;
    productId: string;
    idempotencyKey?: string;
  }): Promise<CheckoutResult> {
    await this.limit?.consume(options.userId);
    const product = findProduct(options.productId);
    if (!product) throw new DomainError('NOT_FOUND', 'Product not found');
    if (options.idempotencyKey !== undefined) assertIdempotencyKey(options.idempotencyKey);
    await this.profiles.getOrCreateProfile(options.userId);

    const key = options.idempotencyKey;
    const scope =
      key !== undefined
        ? {
            userId: options.userId,
            key,
            operation: 'createCheckout',
            request: { productId: product.id },
          }
        : undefined;
    type Created = { kind: 'replay'; orderId: string } | { kind: 'new'; order: Order };
    const created = await runTransaction(this.dataSource, async (manager): Promise<Created> => {
      // Plan checkouts of one user take turns (see planCheckoutInProgress), under the same
      // profile lock the ledger's movements take first.
      if (product.kind === 'SUBSCRIPTION') await lockProfile(manager, options.userId);
      if (scope) {
        const claim = await claimIdempotencyKey<{ orderId: string }>(manager, scope);
        if (claim.kind === 'replay') return { kind: 'replay', orderId: claim.response.orderId };
      }
      if (product.kind === 'SUBSCRIPTION') {
        const open = await planCheckoutInProgress(manager, options.userId, product.id);
        if (open) {
          if (scope) await storeIdempotentResponse(manager, scope, { orderId: open });
          return { kind: 'replay', orderId: open };
        }
      }
      const order = manager.create(Order, {
        userId: options.userId,
        productId: product.id,
        kind: product.kind,
        status: 'PENDING',
        amountMinor: product.priceMinor,
        currency: product.currency,
        credits: product.credits,
        provider: this.provider.name,
      });
      await manager.insert(Order, order);
      if (scope) await storeIdempotentResponse(manager, scope, { orderId: order.id });
      return { kind: 'new', order };
    });
    if (created.kind === 'replay') {
      this.onOutcome?.('replayed');
      return this.replay(created.orderId);
    }

    const order = created.order;
    let session;
    try {
      session = await this.provider.createCheckout({
        orderId: order.id,
        userId: options.userId,
        product: {
          id: product.id,
          name: product.name,
          kind: product.kind,
          priceMinor: product.priceMinor,
          currency: product.currency,
          interval: product.interval,
        },
      });
    } catch (error) {
      this.logger.error(
        { err: error, orderId: order.id, provider: this.provider.name },
        'provider failed to create a checkout',
      );
      await runTransaction(this.dataSource, async (manager) => {
        await manager.query(
          `UPDATE orders SET status = 'FAILED', updated_at = now() WHERE id = $1 AND status = 'PENDING'`,
          [order.id],
        );
        if (scope) {
          await manager.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2', [
            scope.userId,
            scope.key,
          ]);
        }
      });
      this.onOutcome?.('provider_error');
      throw new DomainError('PROVIDER_ERROR', 'The payment provider could not start a checkout');
    }
    this.onOutcome?.('created');
    await this.dataSource.query(
      `UPDATE orders SET checkout_id = $2, checkout_url = $3, updated_at = now() WHERE id = $1`,
      [order.id, session.checkoutId, session.url],
    );
    order.checkoutId = session.checkoutId;
    order.checkoutUrl = session.url;
    return { order, checkoutUrl: session.url };
  }

  /** The order a key first made; waits briefly while the first request is still at the provider. */
  private async replay(orderId: string): Promise<CheckoutResult> {
    const deadline = Date.now() + REPLAY_WAIT_MS;
    for (;;) {
      const order = await this.dataSource.getRepository(Order).findOneByOrFail({ id: orderId });
      if (order.checkoutUrl) return { order, checkoutUrl: order.checkoutUrl };
      if (order.status !== 'PENDING' || Date.now() > deadline) {
        throw new DomainError('PROVIDER_ERROR', 'The payment provider could not start a checkout');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * One plan at a time: a second would be charged alongside the first. Refuses while the user
 * has a subscription that is ACTIVE or PAST_DUE (one cancelled at its period end too: it is
 * paid for until then), and answers the open checkout of the same plan, if there is one, so
 * two tabs or a double click share one payment page instead of paying twice. The caller
 * holds the user's profile row locked, so concurrent checkouts take turns.
 */
async function planCheckoutInProgress(
  manager: EntityManager,
  userId: string,
  productId: string,
): Promise<string | undefined> {
  const active = (await manager.query(
    `SELECT 1 FROM subscriptions WHERE user_id = $1 AND status IN ('ACTIVE', 'PAST_DUE') LIMIT 1`,
    [userId],
  )) as unknown[];
  const open = (await manager.query(
    `SELECT id, product_id FROM orders
      WHERE user_id = $1 AND kind = 'SUBSCRIPTION' AND status = 'PENDING'
      ORDER BY created_at DESC LIMIT 1`,
    [userId],
  )) as Array<{ id: string; product_id: string }>;
  if (active.length > 0 || (open[0] && open[0].product_id !== productId)) {
    throw new DomainError(
      'ALREADY_SUBSCRIBED',
      'You already have a plan; a new one can start when it has ended',
    );
  }
  return open[0]?.id;
}

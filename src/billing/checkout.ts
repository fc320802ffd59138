import type { DataSource } from 'typeorm';
import { findProduct } from '../catalog';
import { Order } from '../entities';
import { runTransaction } from '../db';
import { DomainError } from '../errors';
import {
  assertIdempotencyKey,
  claimIdempotencyKey,
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
    if (product.kind === 'SUBSCRIPTION') await this.assertNotSubscribed(options.userId);

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
      if (scope) {
        const claim = await claimIdempotencyKey<{ orderId: string }>(manager, scope);
        if (claim.kind === 'replay') return { kind: 'replay', orderId: claim.response.orderId };
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

  /**
   * A second plan would be charged alongside the first: refused while one is ACTIVE or
   * PAST_DUE, including one cancelled at its period end (it is still paid for until then).
   */
  private async assertNotSubscribed(userId: string): Promise<void> {
    const rows: unknown[] = await this.dataSource.query(
      `SELECT 1 FROM subscriptions WHERE user_id = $1 AND status IN ('ACTIVE', 'PAST_DUE') LIMIT 1`,
      [userId],
    );
    if (rows.length > 0) {
      throw new DomainError(
        'ALREADY_SUBSCRIBED',
        'You already have a plan; a new one can start when it has ended',
      );
    }
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

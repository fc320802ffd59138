import type { EntityManager } from 'typeorm';
import { findProduct, type Product } from '../catalog';
import { runTransaction } from '../db';
import { Order } from '../entities';
import { DomainError } from '../errors';
import {
  assertIdempotencyKey,
  claimIdempotencyKey,
  lockProfile,
  queryRows,
  storeIdempotentResponse,
} from '../ledger';
import type { CheckoutSession } from '../providers';
import type { BillingDeps } from './deps';
import { liveSubscriptionSql } from './live';

export interface CheckoutResult {
  order: Order;
  checkoutUrl: string;
}

/** How long a replay waits for the first request of its key to get its checkout URL. */
const REPLAY_WAIT_MS = 5000;

/** The idempotency scope of one createCheckout request with a key. */
interface KeyScope {
  userId: string;
  key: string;
  operation: 'createCheckout';
  request: { productId: string };
}

type Opened = { kind: 'replay'; orderId: string } | { kind: 'new'; order: Order };

/**
 * Starts a purchase: a PENDING order with the catalog's price and credits copied onto it,
 * then the provider's hosted checkout for it. The provider is called outside any database
 * transaction; if it fails the order ends FAILED (never half-made) and the idempotency key
 * is freed for a retry.
 */
export async function createCheckout(
  deps: BillingDeps,
  options: { userId: string; productId: string; idempotencyKey?: string | undefined },
): Promise<CheckoutResult> {
  await deps.checkoutLimit?.consume(options.userId);
  const product = findProduct(options.productId);
  if (!product) throw new DomainError('NOT_FOUND', 'Product not found');
  if (options.idempotencyKey !== undefined) assertIdempotencyKey(options.idempotencyKey);
  await deps.profiles.getOrCreateProfile(options.userId);
  const scope: KeyScope | undefined =
    options.idempotencyKey === undefined
      ? undefined
      : {
          userId: options.userId,
          key: options.idempotencyKey,
          operation: 'createCheckout',
          request: { productId: product.id },
        };
  const opened = await runTransaction(deps.dataSource, (manager) =>
    openOrder(deps, { manager, userId: options.userId, product, scope }),
  );
  if (opened.kind === 'replay') {
    deps.hooks.checkout?.('replayed');
    return replay(deps, opened.orderId);
  }
  const session = await startAtProvider(deps, { order: opened.order, product, scope });
  deps.hooks.checkout?.('created');
  await runTransaction(deps.dataSource, (manager) =>
    deps.status.attachCheckout({ manager, orderId: opened.order.id, ...session }),
  );
  const order = Object.assign(opened.order, {
    checkoutId: session.checkoutId,
    checkoutUrl: session.url,
  });
  return { order, checkoutUrl: session.url };
}

/** The order a request opens, or the one its key (or an open plan checkout) already has. */
async function openOrder(
  deps: BillingDeps,
  options: {
    manager: EntityManager;
    userId: string;
    product: Product;
    scope?: KeyScope | undefined;
  },
): Promise<Opened> {
  const { manager, userId, product, scope } = options;
  // Plan checkouts of one user take turns (see planCheckoutInProgress), under the same
  // profile lock the ledger's movements take first.
  if (product.kind === 'SUBSCRIPTION') await lockProfile(manager, userId);
  if (scope) {
    const claim = await claimIdempotencyKey<{ orderId: string }>(manager, scope);
    if (claim.kind === 'replay') return { kind: 'replay', orderId: claim.response.orderId };
  }
  if (product.kind === 'SUBSCRIPTION') {
    const open = await planCheckoutInProgress(manager, userId, product.id);
    if (open) {
      if (scope) await storeIdempotentResponse(manager, scope, { orderId: open });
      return { kind: 'replay', orderId: open };
    }
  }
  const fields = {
    userId,
    productId: product.id,
    kind: product.kind,
    amountMinor: product.priceMinor,
    currency: product.currency,
    credits: product.credits,
  };
  const order = await deps.status.openOrder({ manager, fields });
  if (scope) await storeIdempotentResponse(manager, scope, { orderId: order.id });
  return { kind: 'new', order };
}

/** The provider's checkout for a new order; on failure the order is FAILED and the key freed. */
async function startAtProvider(
  deps: BillingDeps,
  options: { order: Order; product: Product; scope?: KeyScope | undefined },
): Promise<CheckoutSession> {
  const { order, product, scope } = options;
  try {
    return await deps.provider.createCheckout({
      orderId: order.id,
      userId: order.userId,
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
    deps.logger.error(
      { err: error, orderId: order.id, provider: deps.provider.name },
      'provider failed to create a checkout',
    );
    await runTransaction(deps.dataSource, async (manager) => {
      await deps.status.moveOrder({ manager, orderId: order.id, to: 'FAILED' });
      if (scope) {
        await manager.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2', [
          scope.userId,
          scope.key,
        ]);
      }
    });
    deps.hooks.checkout?.('provider_error');
    throw new DomainError('PROVIDER_ERROR', 'The payment provider could not start a checkout');
  }
}

/** The order a key first made; waits briefly while the first request is still at the provider. */
async function replay(deps: BillingDeps, orderId: string): Promise<CheckoutResult> {
  const deadline = Date.now() + REPLAY_WAIT_MS;
  for (;;) {
    const order = await deps.dataSource.getRepository(Order).findOneByOrFail({ id: orderId });
    if (order.checkoutUrl) return { order, checkoutUrl: order.checkoutUrl };
    if (order.status !== 'PENDING' || Date.now() > deadline) {
      throw new DomainError('PROVIDER_ERROR', 'The payment provider could not start a checkout');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One plan at a time: a second would be charged alongside the first. Refuses while the user
 * has a live subscription (billing/live.ts: one cancelled at its period end is live until
 * that end), and answers the open checkout of the same plan, if there is one, so two tabs or
 * a double click share one payment page instead of paying twice. The caller holds the
 * user's profile row locked, so concurrent checkouts take turns.
 */
async function planCheckoutInProgress(
  manager: EntityManager,
  userId: string,
  productId: string,
): Promise<string | undefined> {
  const live = await queryRows<unknown>(
    manager,
    `SELECT 1 FROM subscriptions s WHERE s.user_id = $1 AND ${liveSubscriptionSql('s')} LIMIT 1`,
    [userId],
  );
  const [open] = await queryRows<{ id: string; product_id: string }>(
    manager,
    `SELECT id, product_id FROM orders
      WHERE user_id = $1 AND kind = 'SUBSCRIPTION' AND status = 'PENDING'
      ORDER BY created_at DESC LIMIT 1`,
    [userId],
  );
  if (live.length > 0 || (open && open.product_id !== productId)) {
    throw new DomainError(
      'ALREADY_SUBSCRIBED',
      'You already have a plan; a new one can start when it has ended',
    );
  }
  return open?.id;
}

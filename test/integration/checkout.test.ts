import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createCheckout } from '../../src/billing';
import { silentLogger } from '../../src/observability';
import { MockProvider, type PaymentProvider } from '../../src/providers';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';
import { billingDeps } from '../support/billing';

/**
 * A provider outage while starting a checkout: the order ends FAILED (nothing half-made),
 * the caller gets PROVIDER_ERROR, and the idempotency key is free for the retry.
 */
describe('checkout when the provider fails', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let working: MockProvider;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 4);
    working = new MockProvider({
      dataSource: ds,
      webhookSecret: 'checkout-test-secret-0123456789',
      publicUrl: () => 'http://tally.test',
      webhookUrl: () => 'http://127.0.0.1:9/none',
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** The same provider, down: creating a checkout fails as a refused connection would. */
  const down = (): PaymentProvider =>
    new Proxy(working, {
      get(target, property, receiver) {
        if (property === 'createCheckout') {
          return async () => {
            throw new TypeError('fetch failed: connect ECONNREFUSED');
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });

  it('PROVIDER_ERROR, the order FAILED, and the key free for a retry', async () => {
    const userId = `u-${randomUUID()}`;
    await expect(
      createCheckout(billingDeps({ dataSource: ds, provider: down() }), {
        userId,
        productId: 'credits-100',
        idempotencyKey: 'cart-9',
      }),
    ).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
    const orders = await ds.query('SELECT status, checkout_id FROM orders WHERE user_id = $1', [
      userId,
    ]);
    expect(orders).toEqual([{ status: 'FAILED', checkout_id: null }]);

    const retry = await createCheckout(billingDeps({ dataSource: ds, provider: working }), {
      userId,
      productId: 'credits-100',
      idempotencyKey: 'cart-9',
    });
    expect(retry.order.status).toBe('PENDING');
    expect(retry.checkoutUrl).toMatch(/^http:\/\/tally\.test\/mock-checkout\/mck_/);
    const after = await ds.query(
      'SELECT status FROM orders WHERE user_id = $1 ORDER BY created_at',
      [userId],
    );
    expect(after).toEqual([{ status: 'FAILED' }, { status: 'PENDING' }]);
  });
});

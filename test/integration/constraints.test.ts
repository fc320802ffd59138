import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

/**
 * The database itself enforces the ledger's invariants 4, 5 and 8 (DESIGN.md): these tests
 * write raw SQL, bypassing every line of application code, and expect PostgreSQL to refuse.
 */
describe('database constraints', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  async function user(id = `u-${randomUUID()}`): Promise<string> {
    await ds.query('INSERT INTO user_profiles (id) VALUES ($1)', [id]);
    return id;
  }

  async function order(userId: string, status = 'PENDING'): Promise<string> {
    const rows: Array<{ id: string }> = await ds.query(
      `INSERT INTO orders (user_id, product_id, kind, status, amount_minor, currency, credits, provider, completed_at)
       VALUES ($1, 'credits-100', 'CREDIT_PACK', $2::varchar, 500, 'USD', 100, 'mock', CASE WHEN $2::varchar = 'COMPLETED' THEN now() END)
       RETURNING id`,
      [userId, status],
    );
    return rows[0]!.id;
  }

  async function transaction(values: {
    userId: string;
    type: string;
    amount: number;
    orderId?: string | null;
    subscriptionId?: string | null;
    periodStart?: string | null;
    refundedTransactionId?: string | null;
    description?: string;
  }): Promise<string> {
    const rows: Array<{ id: string }> = await ds.query(
      `INSERT INTO credit_transactions
         (user_id, type, amount, balance_after, description, order_id, subscription_id, period_start, refunded_transaction_id)
       VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8) RETURNING id`,
      [
        values.userId,
        values.type,
        values.amount,
        values.description ?? 'test movement',
        values.orderId ?? null,
        values.subscriptionId ?? null,
        values.periodStart ?? null,
        values.refundedTransactionId ?? null,
      ],
    );
    return rows[0]!.id;
  }

  async function subscription(userId: string): Promise<string> {
    const rows: Array<{ id: string }> = await ds.query(
      `INSERT INTO subscriptions (user_id, product_id, provider, provider_subscription_id, current_period_start, current_period_end)
       VALUES ($1, 'plan-monthly', 'mock', $2, '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z') RETURNING id`,
      [userId, `sub_${randomUUID()}`],
    );
    return rows[0]!.id;
  }

  describe('invariant 4: each effect at most once', () => {
    it('refuses a second PURCHASE for one order', async () => {
      const u = await user();
      const o = await order(u, 'COMPLETED');
      await transaction({ userId: u, type: 'PURCHASE', amount: 100, orderId: o });
      await expect(
        transaction({ userId: u, type: 'PURCHASE', amount: 100, orderId: o }),
      ).rejects.toMatchObject({
        code: '23505',
        constraint: 'UQ_credit_transactions_purchase_order',
      });
      const [{ count }] = await ds.query(
        `SELECT count(*)::int AS count FROM credit_transactions WHERE order_id = $1`,
        [o],
      );
      expect(count).toBe(1);
    });

    it('refuses a second grant for one subscription period, allows the next period', async () => {
      const u = await user();
      const s = await subscription(u);
      const period = '2026-01-01T00:00:00Z';
      await transaction({
        userId: u,
        type: 'SUBSCRIPTION_GRANT',
        amount: 500,
        subscriptionId: s,
        periodStart: period,
      });
      await expect(
        transaction({
          userId: u,
          type: 'SUBSCRIPTION_GRANT',
          amount: 500,
          subscriptionId: s,
          periodStart: period,
        }),
      ).rejects.toMatchObject({
        code: '23505',
        constraint: 'UQ_credit_transactions_subscription_period',
      });
      await transaction({
        userId: u,
        type: 'SUBSCRIPTION_GRANT',
        amount: 500,
        subscriptionId: s,
        periodStart: '2026-02-01T00:00:00Z',
      });
    });

    it('refuses a webhook event recorded twice for one provider, not across providers', async () => {
      const insert = (provider: string) =>
        ds.query(
          `INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ($1, 'evt_1', 'checkout.completed', '{}')`,
          [provider],
        );
      await insert('mock');
      await expect(insert('mock')).rejects.toMatchObject({
        code: '23505',
        constraint: 'UQ_webhook_events_provider_event',
      });
      await insert('paddle');
    });

    it('refuses an idempotency key used twice by one user, not by two users', async () => {
      const a = await user();
      const b = await user();
      const insert = (userId: string) =>
        ds.query(
          `INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response) VALUES ($1, 'k1', 'deductCredits', repeat('a', 64), '{}')`,
          [userId],
        );
      await insert(a);
      await expect(insert(a)).rejects.toMatchObject({ code: '23505' });
      await insert(b);
    });

    it('refuses two orders with one provider checkout id', async () => {
      const u = await user();
      const o1 = await order(u);
      const o2 = await order(u);
      await ds.query(`UPDATE orders SET checkout_id = 'chk_1' WHERE id = $1`, [o1]);
      await expect(
        ds.query(`UPDATE orders SET checkout_id = 'chk_1' WHERE id = $1`, [o2]),
      ).rejects.toMatchObject({ code: '23505', constraint: 'UQ_orders_provider_checkout' });
    });
  });

  describe('invariant 5: credit_transactions is append-only', () => {
    it('refuses UPDATE', async () => {
      const u = await user();
      const id = await transaction({ userId: u, type: 'ADJUSTMENT', amount: 10 });
      await expect(
        ds.query(`UPDATE credit_transactions SET amount = 1000 WHERE id = $1`, [id]),
      ).rejects.toThrow(/append-only: UPDATE refused/);
      const [{ amount }] = await ds.query(`SELECT amount FROM credit_transactions WHERE id = $1`, [
        id,
      ]);
      expect(amount).toBe(10);
    });

    it('refuses DELETE', async () => {
      const u = await user();
      const id = await transaction({ userId: u, type: 'ADJUSTMENT', amount: 10 });
      await expect(ds.query(`DELETE FROM credit_transactions WHERE id = $1`, [id])).rejects.toThrow(
        /append-only: DELETE refused/,
      );
      const rows = await ds.query(`SELECT 1 FROM credit_transactions WHERE id = $1`, [id]);
      expect(rows).toHaveLength(1);
    });

    it('refuses TRUNCATE', async () => {
      await expect(ds.query(`TRUNCATE credit_transactions CASCADE`)).rejects.toThrow(
        /append-only: TRUNCATE refused/,
      );
    });
  });

  describe('invariant 8 and CHECK constraints', () => {
    it('fixes the sign of the amount by type', async () => {
      const u = await user();
      const o = await order(u, 'COMPLETED');
      await expect(
        transaction({ userId: u, type: 'CONSUMPTION', amount: 5 }),
      ).rejects.toMatchObject({ code: '23514', constraint: 'CHK_credit_transactions_amount_sign' });
      await expect(
        transaction({ userId: u, type: 'PURCHASE', amount: -5, orderId: o }),
      ).rejects.toMatchObject({ code: '23514', constraint: 'CHK_credit_transactions_amount_sign' });
      await expect(transaction({ userId: u, type: 'ADJUSTMENT', amount: 0 })).rejects.toMatchObject(
        { code: '23514', constraint: 'CHK_credit_transactions_amount_sign' },
      );
    });

    it('requires the links each transaction type needs', async () => {
      const u = await user();
      await expect(transaction({ userId: u, type: 'PURCHASE', amount: 5 })).rejects.toMatchObject({
        code: '23514',
        constraint: 'CHK_credit_transactions_links',
      });
      // A REFUND's trigger runs before the row's CHECKs: either refusal is the database's.
      await expect(transaction({ userId: u, type: 'REFUND', amount: 5 })).rejects.toMatchObject({
        code: '23514',
        constraint: expect.stringMatching(/^CHK_credit_transactions_(links|refund_target)$/),
      });
    });

    it('refuses refunds of one consumption adding up to more than it took', async () => {
      const u = await user();
      const consumption = await transaction({ userId: u, type: 'CONSUMPTION', amount: -10 });
      await transaction({
        userId: u,
        type: 'REFUND',
        amount: 6,
        refundedTransactionId: consumption,
      });
      await expect(
        transaction({ userId: u, type: 'REFUND', amount: 5, refundedTransactionId: consumption }),
      ).rejects.toMatchObject({
        code: '23514',
        constraint: 'CHK_credit_transactions_refund_total',
      });
      await transaction({
        userId: u,
        type: 'REFUND',
        amount: 4,
        refundedTransactionId: consumption,
      });
      const grant = await transaction({ userId: u, type: 'ADJUSTMENT', amount: 10 });
      await expect(
        transaction({ userId: u, type: 'REFUND', amount: 1, refundedTransactionId: grant }),
      ).rejects.toMatchObject({
        code: '23514',
        constraint: 'CHK_credit_transactions_refund_target',
      });
      const other = await user();
      await expect(
        transaction({
          userId: other,
          type: 'REFUND',
          amount: 1,
          refundedTransactionId: consumption,
        }),
      ).rejects.toMatchObject({ constraint: 'CHK_credit_transactions_refund_target' });
    });

    it('refuses unknown types and statuses, empty descriptions, fractional amounts', async () => {
      const u = await user();
      await expect(transaction({ userId: u, type: 'GIFT', amount: 5 })).rejects.toMatchObject({
        code: '23514',
        constraint: expect.stringMatching(/^CHK_credit_transactions_(type|amount_sign)$/),
      });
      await expect(
        transaction({ userId: u, type: 'ADJUSTMENT', amount: 5, description: '' }),
      ).rejects.toMatchObject({ constraint: 'CHK_credit_transactions_description' });
      await expect(order(u, 'SHIPPED')).rejects.toMatchObject({ constraint: 'CHK_orders_status' });
      await expect(
        ds.query(
          `INSERT INTO credit_transactions (user_id, type, amount, balance_after, description) VALUES ($1, 'ADJUSTMENT', $2, 0, 'x')`,
          [u, 1.5],
        ),
      ).rejects.toMatchObject({ code: '22P02' });
      const [{ data_type }] = await ds.query(
        `SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'amount_minor'`,
      );
      expect(data_type).toBe('integer');
    });

    it('refuses a malformed currency and a refund above the paid amount', async () => {
      const u = await user();
      await expect(
        ds.query(
          `INSERT INTO orders (user_id, product_id, kind, amount_minor, currency, credits, provider) VALUES ($1, 'x', 'CREDIT_PACK', 500, 'usd', 1, 'mock')`,
          [u],
        ),
      ).rejects.toMatchObject({ constraint: 'CHK_orders_currency' });
      const o = await order(u);
      await expect(
        ds.query(`UPDATE orders SET refunded_minor = 501 WHERE id = $1`, [o]),
      ).rejects.toMatchObject({ constraint: 'CHK_orders_refunded' });
    });

    it('refuses movements of an unknown user (foreign keys)', async () => {
      await expect(
        transaction({ userId: 'nobody', type: 'ADJUSTMENT', amount: 5 }),
      ).rejects.toMatchObject({ code: '23503', constraint: 'FK_credit_transactions_user' });
    });
  });

  describe('reservations', () => {
    async function hold(userId: string, amount = 10): Promise<string> {
      const rows: Array<{ id: string }> = await ds.query(
        `INSERT INTO credit_reservations (user_id, amount, status, description, expires_at)
         VALUES ($1, $2, 'ACTIVE', 'render', now() + interval '1 hour') RETURNING id`,
        [userId, amount],
      );
      return rows[0]!.id;
    }

    it('links a reservation to at most one CONSUMPTION, and to nothing else', async () => {
      const u = await user();
      const r = await hold(u);
      const insert = (type: string, amount: number) =>
        ds.query(
          `INSERT INTO credit_transactions (user_id, type, amount, balance_after, description, reservation_id)
           VALUES ($1, $2, $3, 0, 'capture', $4)`,
          [u, type, amount, r],
        );
      await insert('CONSUMPTION', -5);
      await expect(insert('CONSUMPTION', -5)).rejects.toMatchObject({
        code: '23505',
        constraint: 'UQ_credit_transactions_reservation',
      });
      await expect(insert('ADJUSTMENT', 5)).rejects.toMatchObject({
        code: '23514',
        constraint: 'CHK_credit_transactions_reservation',
      });
    });

    it('settles a reservation once, from ACTIVE, and never rewrites or deletes it', async () => {
      const u = await user();
      const r = await hold(u);
      await expect(
        ds.query(`UPDATE credit_reservations SET amount = 1000 WHERE id = $1`, [r]),
      ).rejects.toMatchObject({ constraint: 'CHK_credit_reservations_transition' });
      await expect(
        ds.query(
          `UPDATE credit_reservations SET expires_at = expires_at + interval '1 day' WHERE id = $1`,
          [r],
        ),
      ).rejects.toMatchObject({ constraint: 'CHK_credit_reservations_transition' });
      await expect(
        ds.query(
          `UPDATE credit_reservations SET status = 'CAPTURED', settled_at = now() WHERE id = $1`,
          [r],
        ),
      ).rejects.toMatchObject({ constraint: 'CHK_credit_reservations_captured' });
      await ds.query(
        `UPDATE credit_reservations SET status = 'CAPTURED', captured_amount = 4, settled_at = now() WHERE id = $1`,
        [r],
      );
      await expect(
        ds.query(
          `UPDATE credit_reservations SET status = 'RELEASED', captured_amount = NULL WHERE id = $1`,
          [r],
        ),
      ).rejects.toMatchObject({ constraint: 'CHK_credit_reservations_transition' });
      await expect(ds.query(`DELETE FROM credit_reservations WHERE id = $1`, [r])).rejects.toThrow(
        /never deleted \(DELETE\)/,
      );
      await expect(ds.query(`TRUNCATE credit_reservations CASCADE`)).rejects.toThrow(
        /never deleted \(TRUNCATE\)/,
      );
      const [row] = await ds.query(
        `SELECT status, amount, captured_amount FROM credit_reservations WHERE id = $1`,
        [r],
      );
      expect(row).toEqual({ status: 'CAPTURED', amount: 10, captured_amount: 4 });
    });

    it('refuses a capture above the hold, a non-positive hold and a negative reserved sum', async () => {
      const u = await user();
      const r = await hold(u);
      await expect(
        ds.query(
          `UPDATE credit_reservations SET status = 'CAPTURED', captured_amount = 11, settled_at = now() WHERE id = $1`,
          [r],
        ),
      ).rejects.toMatchObject({ constraint: 'CHK_credit_reservations_captured' });
      await expect(hold(u, 0)).rejects.toMatchObject({
        constraint: 'CHK_credit_reservations_amount',
      });
      await expect(
        ds.query(`UPDATE user_profiles SET reserved = -1 WHERE id = $1`, [u]),
      ).rejects.toMatchObject({ constraint: 'CHK_user_profiles_reserved' });
    });
  });

  it('serves history pages from an index (user, newest first)', async () => {
    const rows: Array<{ 'QUERY PLAN': string }> = await ds.query(
      `EXPLAIN SELECT * FROM credit_transactions WHERE user_id = 'u' ORDER BY seq DESC LIMIT 21`,
    );
    // Plans with few rows may prefer a seq scan; force the planner to show the index exists.
    await ds.query('SET enable_seqscan = off');
    const forced: Array<{ 'QUERY PLAN': string }> = await ds.query(
      `EXPLAIN SELECT * FROM credit_transactions WHERE user_id = 'u' ORDER BY seq DESC LIMIT 21`,
    );
    await ds.query('RESET enable_seqscan');
    expect(rows.length).toBeGreaterThan(0);
    expect(forced.map((r) => r['QUERY PLAN']).join('\n')).toMatch(
      /IDX_credit_transactions_user_seq/,
    );
  });
});

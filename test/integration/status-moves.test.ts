import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { BillingStatus, ORDER_MOVES, SUBSCRIPTION_MOVES, type Move } from '../../src/billing';
import { runTransaction } from '../../src/db';
import { ORDER_STATUSES, SUBSCRIPTION_STATUSES, type Order } from '../../src/entities';
import { ProfileService } from '../../src/ledger';
import { silentLogger } from '../../src/observability';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

/**
 * billing/status.ts is the one writer of orders' and subscriptions' statuses. Every (from, to)
 * pair of both tables is walked on real rows: a legal move moves (and is announced after
 * commit), the same status is unchanged, anything else is refused, counted, and leaves the
 * row as it was. A provider's change older than the last one applied is stale.
 */
describe('the status tables', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const announced: Order[] = [];
  const refused: string[] = [];
  const status = new BillingStatus({
    provider: 'mock',
    logger: silentLogger,
    hooks: {
      orderChanged: (order) => announced.push(order),
      refused: (entity, from, to) => refused.push(`${entity} ${from}->${to}`),
    },
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 4);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(() => {
    announced.length = 0;
    refused.length = 0;
  });

  const within = <T>(work: (manager: EntityManager) => Promise<T>) => runTransaction(ds, work);

  /** An order in `from`, made as the status module makes orders, then put there by SQL. */
  async function orderIn(from: string): Promise<string> {
    const userId = `status-${randomUUID()}`;
    await new ProfileService(ds).getOrCreateProfile(userId);
    const order = await within((manager) =>
      status.openOrder({
        manager,
        fields: {
          userId,
          productId: 'credits-100',
          kind: 'CREDIT_PACK',
          amountMinor: 500,
          currency: 'USD',
          credits: 100,
        },
      }),
    );
    await ds.query(
      `UPDATE orders SET status = $2::varchar, completed_at = CASE WHEN $2::varchar = 'PENDING' THEN NULL ELSE now() END
       WHERE id = $1`,
      [order.id, from],
    );
    return order.id;
  }

  async function subscriptionIn(from: string, statusChangedAt?: Date): Promise<string> {
    const userId = `status-${randomUUID()}`;
    await new ProfileService(ds).getOrCreateProfile(userId);
    const order = await within((manager) =>
      status.openOrder({
        manager,
        fields: {
          userId,
          productId: 'plan-monthly',
          kind: 'SUBSCRIPTION',
          amountMinor: 1900,
          currency: 'USD',
          credits: 500,
        },
      }),
    );
    const start = new Date();
    const subscription = await within((manager) =>
      status.startSubscription({
        manager,
        userId,
        orderId: order.id,
        productId: 'plan-monthly',
        period: {
          providerSubscriptionId: `sub_${randomUUID()}`,
          periodStart: start,
          periodEnd: new Date(start.getTime() + 30 * 86_400_000),
        },
      }),
    );
    await ds.query('UPDATE subscriptions SET status = $2, status_changed_at = $3 WHERE id = $1', [
      subscription.id,
      from,
      statusChangedAt ?? null,
    ]);
    return subscription.id;
  }

  const stored = async (table: 'orders' | 'subscriptions', id: string) =>
    (
      (await ds.query(`SELECT status FROM ${table} WHERE id = $1`, [id])) as Array<{
        status: string;
      }>
    )[0]!.status;

  const expectMove = <T>(move: Move<T>, from: string, to: string, legal: readonly string[]) => {
    if (from === to) expect(move.kind).toBe('unchanged');
    else if (legal.includes(to)) expect(move).toMatchObject({ kind: 'moved', from });
    else expect(move).toEqual({ kind: 'refused', from, to });
  };

  it('every order move: legal ones move and are announced, the rest are refused and counted', async () => {
    let moves = 0;
    for (const from of ORDER_STATUSES) {
      for (const to of ORDER_STATUSES) {
        const id = await orderIn(from);
        const move = await within((manager) => status.moveOrder({ manager, orderId: id, to }));
        expectMove(move, from, to, ORDER_MOVES[from]);
        const legal = ORDER_MOVES[from].includes(to);
        expect(await stored('orders', id)).toBe(legal ? to : from);
        if (legal) {
          expect(announced.pop()).toMatchObject({ id, status: to });
          moves++;
        }
        if (from !== to && !legal) expect(refused.pop()).toBe(`order ${from}->${to}`);
      }
    }
    expect(moves).toBe(Object.values(ORDER_MOVES).flat().length);
    expect(announced).toEqual([]);
    expect(refused).toEqual([]);
  });

  it('every subscription move, the same way; CANCELLED is final', async () => {
    for (const from of SUBSCRIPTION_STATUSES) {
      for (const to of SUBSCRIPTION_STATUSES) {
        const id = await subscriptionIn(from);
        const move = await within((manager) =>
          status.moveSubscription({ manager, ref: { id }, to, occurredAt: new Date() }),
        );
        expectMove(move, from, to, SUBSCRIPTION_MOVES[from]);
        const legal = SUBSCRIPTION_MOVES[from].includes(to);
        expect(await stored('subscriptions', id)).toBe(legal ? to : from);
        if (from !== to && !legal) expect(refused.pop()).toBe(`subscription ${from}->${to}`);
      }
    }
    expect(SUBSCRIPTION_MOVES.CANCELLED).toEqual([]);
    expect(refused).toEqual([]);
  });

  it("a provider's change older than the last one applied is stale; Tally's own is not guarded", async () => {
    const applied = new Date('2026-06-01T12:00:00Z');
    const id = await subscriptionIn('ACTIVE', applied);
    const older = new Date(applied.getTime() - 1000);
    const stale = await within((manager) =>
      status.moveSubscription({ manager, ref: { id }, to: 'PAST_DUE', occurredAt: older }),
    );
    expect(stale.kind).toBe('stale');
    expect(await stored('subscriptions', id)).toBe('ACTIVE');
    const flag = await within((manager) =>
      status.setCancelAtPeriodEnd({ manager, ref: { id }, value: true, occurredAt: older }),
    );
    expect(flag.kind).toBe('stale');

    const newer = new Date(applied.getTime() + 1000);
    const moved = await within((manager) =>
      status.moveSubscription({ manager, ref: { id }, to: 'PAST_DUE', occurredAt: newer }),
    );
    expect(moved).toMatchObject({ kind: 'moved', from: 'ACTIVE' });
    const [row] = (await ds.query('SELECT status_changed_at FROM subscriptions WHERE id = $1', [
      id,
    ])) as Array<{ status_changed_at: Date }>;
    expect(row!.status_changed_at.toISOString()).toBe(newer.toISOString());

    // Tally's own change (a user's cancel) carries no event time: the guard does not apply,
    // and the provider's time stays as the last one applied.
    const own = await within((manager) =>
      status.moveSubscription({ manager, ref: { id }, to: 'CANCELLED' }),
    );
    expect(own).toMatchObject({ kind: 'moved', from: 'PAST_DUE' });
  });

  it('an ending is never stale: CANCELLED applies whatever its time, and keeps the newest time', async () => {
    const applied = new Date('2026-06-01T12:00:00Z');
    const id = await subscriptionIn('PAST_DUE', applied);
    const older = new Date(applied.getTime() - 60_000);
    const ended = await within((manager) =>
      status.moveSubscription({ manager, ref: { id }, to: 'CANCELLED', occurredAt: older }),
    );
    expect(ended).toMatchObject({ kind: 'moved', from: 'PAST_DUE' });
    const [row] = (await ds.query('SELECT status_changed_at FROM subscriptions WHERE id = $1', [
      id,
    ])) as Array<{ status_changed_at: Date }>;
    expect(row!.status_changed_at.toISOString()).toBe(applied.toISOString());
    // After the end, an older event asking for anything is stale, not an illegal move; a
    // newer one asking to leave CANCELLED is refused.
    const late = await within((manager) =>
      status.moveSubscription({ manager, ref: { id }, to: 'ACTIVE', occurredAt: older }),
    );
    expect(late.kind).toBe('stale');
    expect(refused).toEqual([]);
    const after = new Date(applied.getTime() + 60_000);
    const revived = await within((manager) =>
      status.moveSubscription({ manager, ref: { id }, to: 'ACTIVE', occurredAt: after }),
    );
    expect(revived).toEqual({ kind: 'refused', from: 'CANCELLED', to: 'ACTIVE' });
    expect(refused).toEqual(['subscription CANCELLED->ACTIVE']);
  });

  it('cancel at period end is refused on a CANCELLED subscription; unknown rows are missing', async () => {
    const id = await subscriptionIn('CANCELLED');
    const move = await within((manager) =>
      status.setCancelAtPeriodEnd({ manager, ref: { id }, value: true }),
    );
    expect(move).toEqual({ kind: 'refused', from: 'CANCELLED', to: 'CANCEL_AT_PERIOD_END' });
    expect(refused).toEqual(['subscription CANCELLED->CANCEL_AT_PERIOD_END']);
    const missing = await within((manager) =>
      status.moveSubscription({
        manager,
        ref: { providerSubscriptionId: 'sub_nobody' },
        to: 'PAST_DUE',
      }),
    );
    expect(missing).toEqual({ kind: 'missing' });
    const noOrder = await within((manager) =>
      status.moveOrder({ manager, orderId: randomUUID(), to: 'CANCELLED' }),
    );
    expect(noOrder).toEqual({ kind: 'missing' });
  });

  it('a move rolled back is never announced', async () => {
    const id = await orderIn('PENDING');
    await expect(
      within(async (manager) => {
        await status.moveOrder({ manager, orderId: id, to: 'COMPLETED', transactionId: 'txn_1' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(announced).toEqual([]);
    expect(await stored('orders', id)).toBe('PENDING');
  });
});

import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { runTransaction } from '../../src/db';
import { Ledger, ProfileService, type CreditMovement } from '../../src/ledger';
import { silentLogger } from '../../src/observability';
import { InProcessPubSub, Realtime, reconnectDelayMs, type BalanceEvent } from '../../src/realtime';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

describe('announcing movements after commit', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let profiles: ProfileService;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 5);
    profiles = new ProfileService(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** A ledger whose hook records each announced movement and whether it was visible then. */
  function recordingLedger() {
    const announced: Array<{ movement: CreditMovement; visible: Promise<boolean> }> = [];
    const ledger = new Ledger(ds, {
      afterCommit: (movement) =>
        announced.push({
          movement,
          // Read from another connection: committed rows only.
          visible: ds
            .query('SELECT 1 FROM credit_transactions WHERE id = $1', [movement.transaction.id])
            .then((rows: unknown[]) => rows.length === 1),
        }),
    });
    return { ledger, announced };
  }

  async function user(): Promise<string> {
    const id = `rt-${randomUUID()}`;
    await profiles.getOrCreateProfile(id);
    return id;
  }

  it('a movement that commits by itself is announced once, already visible', async () => {
    const { ledger, announced } = recordingLedger();
    const id = await user();
    await ledger.grant({ userId: id, type: 'ADJUSTMENT', amount: 5, description: 'seed' });
    expect(announced).toHaveLength(1);
    expect(await announced[0]!.visible).toBe(true);
  });

  it("inside a caller's transaction: announced after its commit, never when it rolls back", async () => {
    const { ledger, announced } = recordingLedger();
    const id = await user();
    await expect(
      runTransaction(ds, async (manager) => {
        await ledger.grant({
          userId: id,
          type: 'ADJUSTMENT',
          amount: 7,
          description: 'x',
          manager,
        });
        expect(announced).toHaveLength(0);
        throw new Error('the rest of the work failed');
      }),
    ).rejects.toThrow('the rest of the work failed');
    expect(announced).toHaveLength(0);
    expect((await profiles.getOrCreateProfile(id)).credits).toBe(0);

    await runTransaction(ds, async (manager) => {
      await ledger.grant({ userId: id, type: 'ADJUSTMENT', amount: 7, description: 'a', manager });
      await ledger.grant({ userId: id, type: 'ADJUSTMENT', amount: 3, description: 'b', manager });
      expect(announced).toHaveLength(0);
    });
    expect(announced.map((a) => a.movement.balance)).toEqual([7, 10]);
    expect(await Promise.all(announced.map((a) => a.visible))).toEqual([true, true]);
  });

  it('work that swallows a failed statement cannot announce what PostgreSQL rolled back', async () => {
    const { ledger, announced } = recordingLedger();
    const id = await user();
    await expect(
      runTransaction(ds, async (manager) => {
        await ledger.grant({
          userId: id,
          type: 'ADJUSTMENT',
          amount: 5,
          description: 'a',
          manager,
        });
        // Refused by the database, caught here: the transaction is now aborted.
        await ledger
          .deduct({ userId: id, amount: 100, description: 'too much', manager })
          .catch(() => undefined);
      }),
    ).rejects.toThrow(/aborted/);
    expect(announced).toHaveLength(0);
    expect((await profiles.getOrCreateProfile(id)).credits).toBe(0);
  });

  it('a refused deduction and a replayed key announce nothing', async () => {
    const { ledger, announced } = recordingLedger();
    const id = await user();
    await expect(
      ledger.deduct({ userId: id, amount: 1, description: 'too much', idempotencyKey: 'k0' }),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_CREDITS' });
    await ledger.grant({ userId: id, type: 'ADJUSTMENT', amount: 2, description: 'seed' });
    await ledger.deduct({ userId: id, amount: 1, description: 'work', idempotencyKey: 'k1' });
    const replay = await ledger.deduct({
      userId: id,
      amount: 1,
      description: 'work',
      idempotencyKey: 'k1',
    });
    expect(replay.replayed).toBe(true);
    expect(announced.map((a) => a.movement.transaction.type)).toEqual([
      'ADJUSTMENT',
      'CONSUMPTION',
    ]);
  });

  it('400 concurrent movements of one user are each announced once, in commit (seq) order', async () => {
    const { ledger, announced } = recordingLedger();
    const id = await user();
    await ledger.grant({ userId: id, type: 'ADJUSTMENT', amount: 1000, description: 'seed' });
    await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        i % 4 === 0
          ? runTransaction(ds, (manager) =>
              ledger.deduct({ userId: id, amount: 1, description: `tx ${i}`, manager }),
            )
          : i % 4 === 1
            ? ledger.deduct({ userId: id, amount: 100_000, description: 'refused' }).catch(() => 0)
            : ledger.deduct({ userId: id, amount: 1, description: `op ${i}` }),
      ),
    );
    const seqs = announced.map((a) => BigInt(a.movement.transaction.seq));
    expect(seqs).toHaveLength(1 + 300);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
    const balances = announced.map((a) => a.movement.balance);
    expect(balances.at(-1)).toBe(700);
    // Each event's balance is the previous one's less one: none missing, none repeated.
    for (let i = 2; i < balances.length; i++) expect(balances[i]).toBe(balances[i - 1]! - 1);
    expect(new Set(await Promise.all(announced.map((a) => a.visible)))).toEqual(new Set([true]));
  });

  it('a movement in a transaction that cannot report its commit is refused and rolled back', async () => {
    const { ledger, announced } = recordingLedger();
    const id = await user();
    await expect(
      ds.transaction((manager) =>
        ledger.grant({ userId: id, type: 'ADJUSTMENT', amount: 4, description: 'x', manager }),
      ),
    ).rejects.toThrow(/runTransaction/);
    expect(announced).toHaveLength(0);
    expect((await profiles.getOrCreateProfile(id)).credits).toBe(0);
  });
});

describe('Realtime subscriptions', () => {
  const event = (userId: string, seq: number, balance: number): BalanceEvent =>
    ({
      userId,
      balance,
      transaction: { id: randomUUID(), seq: String(seq), userId, createdAt: new Date() },
    }) as unknown as BalanceEvent;

  it('delivers per user, revives dates, and skips an event older than one delivered', async () => {
    const realtime = new Realtime(new InProcessPubSub(silentLogger), silentLogger);
    const mine = realtime.balanceChanges('u1', { bufferSize: 10, onOverflow: () => undefined });
    realtime.publishBalance(event('u2', 1, 1));
    realtime.publishBalance(event('u1', 5, 50));
    realtime.publishBalance(event('u1', 4, 40)); // late: older than 5
    realtime.publishBalance(event('u1', 6, 60));
    const first = await mine.next();
    const second = await mine.next();
    expect([first.value?.balance, second.value?.balance]).toEqual([50, 60]);
    expect(first.value?.transaction.createdAt).toBeInstanceOf(Date);
    await mine.return!();
    expect(realtime.subscriberCount).toBe(0);
  });

  it('a subscriber that takes nothing overflows once: ended, unsubscribed, told', async () => {
    const realtime = new Realtime(new InProcessPubSub(silentLogger), silentLogger);
    let overflows = 0;
    const stuck = realtime.balanceChanges('u', { bufferSize: 3, onOverflow: () => overflows++ });
    for (let seq = 1; seq <= 10; seq++) realtime.publishBalance(event('u', seq, seq));
    expect(overflows).toBe(1);
    expect(realtime.subscriberCount).toBe(0);
    expect(await stuck.next()).toEqual({ value: undefined, done: true });
  });

  it('order updates: one order only, starting with its state; older announcements skipped', async () => {
    const realtime = new Realtime(new InProcessPubSub(silentLogger), silentLogger);
    const order = (id: string, status: string, at: number) =>
      ({ id, userId: 'u', status, updatedAt: new Date(at) }) as never;
    const updates = realtime.orderChanges('u', {
      bufferSize: 10,
      onOverflow: () => undefined,
      orderId: 'o1',
    });
    // Announced while the current state was being read: not newer than it, dropped.
    realtime.publishOrder(order('o1', 'PENDING', 100));
    realtime.publishOrder(order('o2', 'COMPLETED', 150));
    updates.startWith(order('o1', 'PENDING', 100));
    realtime.publishOrder(order('o1', 'COMPLETED', 300));
    realtime.publishOrder(order('o1', 'CANCELLED', 200)); // a late, older announcement
    realtime.publishOrder(order('o1', 'REFUNDED', 400));
    const got: string[] = [];
    for (let i = 0; i < 3; i++)
      got.push(((await updates.next()).value as { order: { status: string } }).order.status);
    expect(got).toEqual(['PENDING', 'COMPLETED', 'REFUNDED']);
    await updates.return!();
    expect(realtime.subscriberCount).toBe(0);
  });

  it('reconnects to Redis with a doubling delay, capped at 5 s', () => {
    expect([1, 2, 3, 4, 7, 50].map(reconnectDelayMs)).toEqual([100, 200, 400, 800, 5000, 5000]);
  });
});

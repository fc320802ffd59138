import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { DomainError } from '../../src/errors';
import { Ledger, ProfileService } from '../../src/ledger';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

/** How long the mixed load runs; SOAK_MS raises it for a longer local soak. */
const DURATION_MS = Number(process.env['SOAK_MS'] ?? 6000);
const USERS = 10;
const WORKERS = 16;

type Op = 'grant' | 'deduct' | 'refund' | 'reserve' | 'capture' | 'release' | 'clawback' | 'adjust';

/** Relative weights of the operations in the mix. */
const MIX: Array<[Op, number]> = [
  ['grant', 12],
  ['deduct', 30],
  ['refund', 10],
  ['reserve', 16],
  ['capture', 12],
  ['release', 8],
  ['clawback', 4],
  ['adjust', 8],
];
const TOTAL_WEIGHT = MIX.reduce((sum, [, w]) => sum + w, 0);

/** Refusals the mix provokes on purpose; anything else fails the test. */
const EXPECTED_REFUSALS = new Set(['INSUFFICIENT_CREDITS', 'RESERVATION_NOT_ACTIVE']);

const rnd = (n: number) => Math.floor(Math.random() * n);
function pickOp(): Op {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const [op, w] of MIX) {
    r -= w;
    if (r < 0) return op;
  }
  return 'deduct';
}

describe('ledger under a mixed concurrent load (ten accounts)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let ledger: Ledger;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 20);
    ledger = new Ledger(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it(
    'sum of balances equals sum of transactions at every check; drift 0; negative only after a clawback',
    async () => {
      const profiles = new ProfileService(ds);
      const users = Array.from({ length: USERS }, () => `soak-${randomUUID()}`);
      /** The balance each user should have, from the movements the ledger reported. */
      const model = new Map<string, number>();
      const consumptions = new Map<string, string[]>();
      const holds = new Map<string, string[]>();
      for (const u of users) {
        await profiles.getOrCreateProfile(u);
        await ledger.grant({ userId: u, type: 'ADJUSTMENT', amount: 1000, description: 'seed' });
        model.set(u, 1000);
        consumptions.set(u, []);
        holds.set(u, []);
      }
      const done: Record<Op, number> = Object.fromEntries(MIX.map(([op]) => [op, 0])) as Record<
        Op,
        number
      >;
      const refused = new Map<string, number>();
      const unexpected: unknown[] = [];
      const moved = (userId: string, amount: number) =>
        model.set(userId, model.get(userId)! + amount);

      async function step(): Promise<void> {
        const userId = users[rnd(USERS)]!;
        const op = pickOp();
        const description = `${op} ${rnd(1e6)}`;
        switch (op) {
          case 'grant': {
            const m = await ledger.grant({
              userId,
              type: 'ADJUSTMENT',
              amount: 1 + rnd(200),
              description,
            });
            moved(userId, m.transaction.amount);
            break;
          }
          case 'deduct': {
            const m = await ledger.deduct({
              userId,
              amount: 1 + rnd(60),
              description,
              idempotencyKey: randomUUID(),
            });
            moved(userId, m.transaction.amount);
            consumptions.get(userId)!.push(m.transaction.id);
            break;
          }
          case 'refund': {
            const list = consumptions.get(userId)!;
            const id = list.splice(rnd(list.length), 1)[0];
            if (!id) return;
            const m = await ledger.refund({ transactionId: id, description });
            moved(userId, m.transaction.amount);
            break;
          }
          case 'reserve': {
            const hold = await ledger.reserve({
              userId,
              amount: 1 + rnd(80),
              description,
              // Short lives, so some lapse mid-run and are settled by later writes.
              ttlSeconds: 2 + rnd(3),
            });
            holds.get(userId)!.push(hold.id);
            break;
          }
          case 'capture':
          case 'release': {
            const list = holds.get(userId)!;
            const id = list.splice(rnd(list.length), 1)[0];
            if (!id) return;
            if (op === 'release') {
              await ledger.release(id);
              break;
            }
            const hold = (await ledger.findReservation(id))!;
            try {
              const m = await ledger.capture({
                reservationId: id,
                amount: 1 + rnd(hold.amount),
              });
              moved(userId, m.transaction.amount);
              consumptions.get(userId)!.push(m.transaction.id);
            } catch (error) {
              // Still held (the balance no longer covers it): give it back to the pool.
              if (error instanceof DomainError && error.code === 'INSUFFICIENT_CREDITS') {
                list.push(id);
              }
              throw error;
            }
            break;
          }
          case 'clawback': {
            const m = await ledger.clawback({ userId, amount: 1 + rnd(400), description });
            moved(userId, m.transaction.amount);
            break;
          }
          case 'adjust': {
            const amount = (1 + rnd(50)) * (Math.random() < 0.5 ? -1 : 1);
            const m = await ledger.adjust({ userId, amount, description });
            moved(userId, m.transaction.amount);
            break;
          }
        }
        done[op]++;
      }

      const deadline = Date.now() + DURATION_MS;
      async function worker(): Promise<void> {
        while (Date.now() < deadline) {
          try {
            await step();
          } catch (error) {
            if (error instanceof DomainError && EXPECTED_REFUSALS.has(error.code)) {
              refused.set(error.code, (refused.get(error.code) ?? 0) + 1);
            } else {
              unexpected.push(error);
            }
          }
        }
      }

      // The checker reads both sums in one statement (one snapshot) while the load runs.
      const checks: Array<{
        balances: number;
        movements: number;
        negativeWithoutClawback: number;
      }> = [];
      async function checker(): Promise<void> {
        while (Date.now() < deadline) {
          const [row] = await ds.query(
            `SELECT
               (SELECT COALESCE(sum(credits), 0) FROM user_profiles WHERE id = ANY($1))::bigint AS balances,
               (SELECT COALESCE(sum(amount), 0) FROM credit_transactions WHERE user_id = ANY($1))::bigint AS movements,
               (SELECT count(*) FROM user_profiles p WHERE p.id = ANY($1) AND p.credits < 0
                  AND NOT EXISTS (SELECT 1 FROM credit_transactions t
                                  WHERE t.user_id = p.id AND t.type = 'CLAWBACK'))::int AS negative
             `,
            [users],
          );
          checks.push({
            balances: Number(row.balances),
            movements: Number(row.movements),
            negativeWithoutClawback: row.negative,
          });
          await new Promise((r) => setTimeout(r, 20));
        }
      }

      await Promise.all([checker(), ...Array.from({ length: WORKERS }, worker)]);

      expect(unexpected).toEqual([]);
      expect(checks.length).toBeGreaterThan(20);
      expect(checks.filter((c) => c.balances !== c.movements)).toEqual([]);
      expect(checks.filter((c) => c.negativeWithoutClawback > 0)).toEqual([]);
      // Every kind of operation really ran, and the refusals really happened.
      for (const [op] of MIX) expect(done[op]).toBeGreaterThan(0);
      expect(refused.get('INSUFFICIENT_CREDITS') ?? 0).toBeGreaterThan(0);

      // Only a clawback ever takes a balance below zero; every other debit kept it at or above.
      const [{ n }] = await ds.query(
        `SELECT count(*)::int AS n FROM credit_transactions
         WHERE user_id = ANY($1) AND amount < 0 AND type <> 'CLAWBACK' AND balance_after < 0`,
        [users],
      );
      expect(n).toBe(0);
      // Balances are exactly what the reported movements add up to.
      const finals: Array<{ id: string; credits: number }> = await ds.query(
        'SELECT id, credits FROM user_profiles WHERE id = ANY($1)',
        [users],
      );
      for (const f of finals) expect(f.credits).toBe(model.get(f.id));
      expect(await ledger.drift()).toEqual([]);
      expect(await ledger.reservedDrift()).toEqual([]);
      // Holds still open are all within their TTL, or lapse and settle now.
      await new Promise((r) => setTimeout(r, 4100));
      await ledger.settleExpiredReservations();
      const [{ reserved }] = await ds.query(
        'SELECT COALESCE(sum(reserved), 0)::int AS reserved FROM user_profiles WHERE id = ANY($1)',
        [users],
      );
      expect(reserved).toBe(0);
      expect(await ledger.reservedDrift()).toEqual([]);

      process.stdout.write(
        `soak: ${DURATION_MS} ms, ${checks.length} checks, ops ${JSON.stringify(done)}, refused ${JSON.stringify(Object.fromEntries(refused))}\n`,
      );
    },
    DURATION_MS + 60_000,
  );
});

import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { DomainError } from '../../src/errors';
import { Ledger, ProfileService, type CreditMovement } from '../../src/ledger';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

/** Settles every promise and sorts outcomes into movements and domain-error codes. */
async function settle(
  tasks: Array<Promise<CreditMovement>>,
): Promise<{ ok: CreditMovement[]; codes: string[]; other: unknown[] }> {
  const results = await Promise.allSettled(tasks);
  const ok: CreditMovement[] = [];
  const codes: string[] = [];
  const other: unknown[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else if (r.reason instanceof DomainError) codes.push(r.reason.code);
    else other.push(r.reason);
  }
  return { ok, codes, other };
}

describe('ledger', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let ledger: Ledger;
  let profiles: ProfileService;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 20);
    ledger = new Ledger(ds);
    profiles = new ProfileService(ds);
  });
  afterEach(async () => {
    // Invariant 1 after every test: balances equal the sums of their transactions.
    expect(await ledger.drift()).toEqual([]);
    expect(await ledger.reservedDrift()).toEqual([]);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  async function userWith(credits: number): Promise<string> {
    const id = `u-${randomUUID()}`;
    await profiles.getOrCreateProfile(id);
    if (credits > 0) {
      await ledger.grant({ userId: id, type: 'ADJUSTMENT', amount: credits, description: 'seed' });
    }
    return id;
  }

  async function balance(userId: string): Promise<number> {
    return (await profiles.findProfile(userId))!.credits;
  }

  async function countRows(userId: string): Promise<number> {
    const rows = await ds.query(
      'SELECT count(*)::int AS n FROM credit_transactions WHERE user_id = $1',
      [userId],
    );
    return rows[0].n;
  }

  describe('invariant 2 and 3: atomic conditional deductions never overdraw', () => {
    it('2,000 concurrent deductions of 1 from 1,000 credits: exactly 1,000 succeed', async () => {
      const userId = await userWith(1000);
      const { ok, codes, other } = await settle(
        Array.from({ length: 2000 }, (_, i) =>
          ledger.deduct({ userId, amount: 1, description: `op ${i}`, idempotencyKey: `k-${i}` }),
        ),
      );
      expect(other).toEqual([]);
      expect(ok).toHaveLength(1000);
      expect(codes).toHaveLength(1000);
      expect(new Set(codes)).toEqual(new Set(['INSUFFICIENT_CREDITS']));
      expect(await balance(userId)).toBe(0);
      // Each success saw a distinct balance from 999 down to 0.
      expect(new Set(ok.map((m) => m.balance)).size).toBe(1000);
      expect(Math.min(...ok.map((m) => m.balance))).toBe(0);
    });

    it('variable amounts in parallel: every refusal exceeded the balance, the rest adds up', async () => {
      const start = 5000;
      const userId = await userWith(start);
      const amounts = Array.from({ length: 400 }, (_, i) => 1 + ((i * 37) % 97));
      const results = await Promise.allSettled(
        amounts.map((amount, i) => ledger.deduct({ userId, amount, description: `var ${i}` })),
      );
      const final = await balance(userId);
      let spent = 0;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') spent += amounts[i]!;
        else {
          expect(r.reason).toMatchObject({ code: 'INSUFFICIENT_CREDITS' });
          // Only deductions ran, so the balance only fell: a refused amount exceeded the
          // balance at its moment, hence also the final one.
          expect(amounts[i]!).toBeGreaterThan(final);
        }
      });
      expect(final).toBe(start - spent);
      expect(final).toBeGreaterThanOrEqual(0);
    });

    it('negative control: a naive read-then-write deduction loses updates under the same load', async () => {
      const userId = await userWith(1000);
      const naive = async () => {
        await ds.transaction(async (m) => {
          const [row] = await m.query('SELECT credits FROM user_profiles WHERE id = $1', [userId]);
          if (row.credits < 1)
            throw new DomainError('INSUFFICIENT_CREDITS', 'Insufficient credits');
          await new Promise((r) => setImmediate(r));
          await m.query('UPDATE user_profiles SET credits = $2 WHERE id = $1', [
            userId,
            row.credits - 1,
          ]);
        });
      };
      const results = await Promise.allSettled(Array.from({ length: 400 }, naive));
      const succeeded = results.filter((r) => r.status === 'fulfilled').length;
      const after = await balance(userId);
      // 400 "successful" deductions but the balance fell by far less: lost updates.
      expect(succeeded).toBe(400);
      expect(1000 - after).toBeLessThan(succeeded);
      // Put the profile back in line with its (untouched) transactions for the drift check.
      await ds.query('UPDATE user_profiles SET credits = 1000 WHERE id = $1', [userId]);
    });
  });

  describe('invariant 6: idempotency keys', () => {
    it('50 concurrent requests with one key make one movement and return one result', async () => {
      const userId = await userWith(100);
      const { ok, codes, other } = await settle(
        Array.from({ length: 50 }, () =>
          ledger.deduct({ userId, amount: 7, description: 'render', idempotencyKey: 'same' }),
        ),
      );
      expect(other).toEqual([]);
      expect(codes).toEqual([]);
      expect(new Set(ok.map((m) => m.transaction.id)).size).toBe(1);
      expect(ok.filter((m) => !m.replayed)).toHaveLength(1);
      expect(new Set(ok.map((m) => m.balance))).toEqual(new Set([93]));
      expect(await balance(userId)).toBe(93);
      expect(await countRows(userId)).toBe(2);
    });

    it('refuses the key with other arguments, and scopes keys per user', async () => {
      const a = await userWith(100);
      const b = await userWith(100);
      await ledger.deduct({ userId: a, amount: 5, description: 'x', idempotencyKey: 'k' });
      await expect(
        ledger.deduct({ userId: a, amount: 6, description: 'x', idempotencyKey: 'k' }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
      await expect(
        ledger.grant({
          userId: a,
          type: 'ADJUSTMENT',
          amount: 5,
          description: 'x',
          idempotencyKey: 'k',
        }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
      const other = await ledger.deduct({
        userId: b,
        amount: 5,
        description: 'x',
        idempotencyKey: 'k',
      });
      expect(other.replayed).toBe(false);
      expect(await balance(a)).toBe(95);
      expect(await balance(b)).toBe(95);
    });

    it('a refused deduction does not bind its key: the retry after a top-up goes through', async () => {
      const userId = await userWith(3);
      await expect(
        ledger.deduct({ userId, amount: 5, description: 'big', idempotencyKey: 'retry' }),
      ).rejects.toMatchObject({ code: 'INSUFFICIENT_CREDITS', message: 'Insufficient credits' });
      await ledger.grant({ userId, type: 'ADJUSTMENT', amount: 10, description: 'top-up' });
      const retried = await ledger.deduct({
        userId,
        amount: 5,
        description: 'big',
        idempotencyKey: 'retry',
      });
      expect(retried).toMatchObject({ balance: 8, replayed: false });
    });
  });

  describe('invariant 4: refunds give back at most what was taken', () => {
    it('refunds in full by default, once', async () => {
      const userId = await userWith(50);
      const used = await ledger.deduct({ userId, amount: 20, description: 'job' });
      const back = await ledger.refund({
        transactionId: used.transaction.id,
        description: 'job failed',
      });
      expect(back.transaction).toMatchObject({
        type: 'REFUND',
        amount: 20,
        refundedTransactionId: used.transaction.id,
      });
      expect(back.balance).toBe(50);
      await expect(
        ledger.refund({ transactionId: used.transaction.id, description: 'again' }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(await balance(userId)).toBe(50);
    });

    it('a keyed refund replays only the same request (amount and description)', async () => {
      const userId = await userWith(50);
      const used = await ledger.deduct({ userId, amount: 20, description: 'job' });
      const transactionId = used.transaction.id;
      const first = await ledger.refund({
        transactionId,
        description: 'failed',
        idempotencyKey: 'r',
      });
      // An omitted amount is the whole consumption: saying so explicitly is the same request.
      await expect(
        ledger.refund({ transactionId, amount: 20, description: 'failed', idempotencyKey: 'r' }),
      ).resolves.toMatchObject({ replayed: true, transaction: { id: first.transaction.id } });
      await expect(
        ledger.refund({ transactionId, description: 'other words', idempotencyKey: 'r' }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
      expect(await balance(userId)).toBe(50);
    });

    it('partial refunds add up to the amount deducted, never more', async () => {
      const userId = await userWith(50);
      const used = await ledger.deduct({ userId, amount: 10, description: 'job' });
      await ledger.refund({ transactionId: used.transaction.id, amount: 4, description: 'part 1' });
      await expect(
        ledger.refund({ transactionId: used.transaction.id, amount: 7, description: 'too much' }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      await ledger.refund({ transactionId: used.transaction.id, amount: 6, description: 'part 2' });
      expect(await ledger.refundedAmount(used.transaction.id)).toBe(10);
      expect(await balance(userId)).toBe(50);
    });

    it('concurrent refunds of one consumption stop at its amount', async () => {
      const userId = await userWith(50);
      const used = await ledger.deduct({ userId, amount: 10, description: 'job' });
      const { ok, codes, other } = await settle(
        Array.from({ length: 30 }, (_, i) =>
          ledger.refund({ transactionId: used.transaction.id, amount: 1, description: `r${i}` }),
        ),
      );
      expect(other).toEqual([]);
      expect(ok).toHaveLength(10);
      expect(new Set(codes)).toEqual(new Set(['BAD_USER_INPUT']));
      expect(await balance(userId)).toBe(50);
    });

    it('refuses refunding anything but a CONSUMPTION, and unknown ids', async () => {
      const userId = await userWith(50);
      const granted = await ledger.grant({
        userId,
        type: 'ADJUSTMENT',
        amount: 5,
        description: 'gift',
      });
      await expect(
        ledger.refund({ transactionId: granted.transaction.id, description: 'no' }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      await expect(
        ledger.refund({ transactionId: randomUUID(), description: 'no' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(
        ledger.refund({ transactionId: 'not-a-uuid', description: 'no' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  describe('clawbacks', () => {
    it('take the full amount below zero, and a negative balance blocks deductions until topped up', async () => {
      const userId = await userWith(100);
      await ledger.deduct({ userId, amount: 80, description: 'spent' });
      const back = await ledger.clawback({ userId, amount: 100, description: 'provider refund' });
      expect(back.balance).toBe(-80);
      await expect(ledger.deduct({ userId, amount: 1, description: 'x' })).rejects.toMatchObject({
        code: 'INSUFFICIENT_CREDITS',
      });
      await ledger.grant({ userId, type: 'ADJUSTMENT', amount: 81, description: 'top-up' });
      await expect(ledger.deduct({ userId, amount: 1, description: 'x' })).resolves.toMatchObject({
        balance: 0,
      });
    });

    it('a grant smaller than the debt still lands: top-ups are never refused', async () => {
      const userId = await userWith(10);
      await ledger.clawback({ userId, amount: 100, description: 'provider refund' });
      const topUp = await ledger.grant({
        userId,
        type: 'ADJUSTMENT',
        amount: 30,
        description: 'a',
      });
      expect(topUp.balance).toBe(-60);
      await expect(ledger.deduct({ userId, amount: 1, description: 'x' })).rejects.toMatchObject({
        code: 'INSUFFICIENT_CREDITS',
      });
    });
  });

  describe('bad input changes nothing', () => {
    it.each([
      ['zero', { amount: 0 }],
      ['negative', { amount: -5 }],
      ['fractional', { amount: 1.5 }],
      ['huge', { amount: 1e12 }],
      ['NaN', { amount: Number.NaN }],
      ['empty description', { description: '  ' }],
      ['long description', { description: 'x'.repeat(501) }],
      ['description with a NUL byte', { description: 'a\u0000b' }],
      ['key with a NUL byte', { idempotencyKey: 'k\u0000' }],
      ['empty key', { idempotencyKey: '' }],
      ['long key', { idempotencyKey: 'k'.repeat(256) }],
    ])('%s is BAD_USER_INPUT', async (_name, override) => {
      const userId = await userWith(100);
      const before = await countRows(userId);
      await expect(
        ledger.deduct({ userId, amount: 1, description: 'ok', idempotencyKey: 'ok', ...override }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(await countRows(userId)).toBe(before);
      expect(await balance(userId)).toBe(100);
    });

    it('an unknown user is NOT_FOUND', async () => {
      await expect(
        ledger.deduct({ userId: 'ghost', amount: 1, description: 'x' }),
      ).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      await expect(
        ledger.deduct({ userId: 'ghost', amount: 1, description: 'x', idempotencyKey: 'k' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  it('the drift check names a user whose balance was changed behind the ledger', async () => {
    const userId = await userWith(10);
    await ds.query('UPDATE user_profiles SET credits = credits + 5 WHERE id = $1', [userId]);
    expect(await ledger.drift()).toEqual([{ userId, credits: 15, transactionSum: 10, drift: 5 }]);
    await ds.query('UPDATE user_profiles SET credits = credits - 5 WHERE id = $1', [userId]);
  });
});

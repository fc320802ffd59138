import { randomUUID } from 'node:crypto';
import {
  AdjustCreditsDocument,
  CaptureReservationDocument,
  CreditDriftDocument,
  DeductCreditsDocument,
  MyCreditsDocument,
  MyHistoryDocument,
  RefundCreditsDocument,
  ReleaseReservationDocument,
  ReservationDocument,
  ReserveCreditsDocument,
  UserCreditsDocument,
} from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

describe('credits over GraphQL', () => {
  let t: TestServer;
  let service: string;
  let admin: string;

  beforeAll(async () => {
    t = await startTestServer();
    service = await t.token('app-backend', 'service');
    admin = await t.token('ops', 'admin');
  });
  afterEach(async () => {
    const drift = await gql(t.url, CreditDriftDocument, { token: admin });
    expect(drift.data?.creditDrift).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A user who has signed in once (so has a profile), topped up by an admin. */
  async function userWith(credits: number): Promise<{ id: string; token: string }> {
    const id = `user-${randomUUID()}`;
    const token = await t.token(id);
    await gql(t.url, MyCreditsDocument, { token });
    if (credits > 0) {
      const res = await gql(t.url, AdjustCreditsDocument, {
        token: admin,
        variables: {
          input: { userId: id, amount: credits, description: 'welcome', idempotencyKey: 'seed' },
        },
      });
      expect(res.errors).toBeUndefined();
    }
    return { id, token };
  }

  async function rows(userId: string): Promise<number> {
    const [{ n }] = await t.server.dataSource.query(
      'SELECT count(*)::int AS n FROM credit_transactions WHERE user_id = $1',
      [userId],
    );
    return n;
  }

  const deduct = (
    token: string | undefined,
    input: { userId: string; amount: number; description?: string; idempotencyKey?: string },
  ) =>
    gql(t.url, DeductCreditsDocument, {
      ...(token ? { token } : {}),
      variables: {
        input: {
          description: 'render video',
          idempotencyKey: randomUUID(),
          ...input,
        },
      },
    });

  describe('who may move credits', () => {
    it('deduct and refund need a service or admin token; adjust and drift an admin one', async () => {
      const user = await userWith(100);
      const none = await deduct(undefined, { userId: user.id, amount: 1 });
      expect(none.status).toBe(401);
      expect(none.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
      // A user cannot spend (or refund) their own credits directly: only the app's backend can.
      const self = await deduct(user.token, { userId: user.id, amount: 1 });
      expect(self.status).toBe(403);
      expect(self.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      const adjust = await gql(t.url, AdjustCreditsDocument, {
        token: service,
        variables: {
          input: { userId: user.id, amount: 5, description: 'x', idempotencyKey: 'x' },
        },
      });
      expect(adjust.status).toBe(403);
      const drift = await gql(t.url, CreditDriftDocument, { token: service });
      expect(drift.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      const reserve = await gql(t.url, ReserveCreditsDocument, {
        token: user.token,
        variables: { input: { userId: user.id, amount: 1, description: 'x', idempotencyKey: 'r' } },
      });
      expect(reserve.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(await rows(user.id)).toBe(1);
    });
  });

  describe('the deduct / refund pattern of an app backend', () => {
    it('deducts before the work, refunds when it fails; the user sees both in their history', async () => {
      const user = await userWith(100);
      const taken = await deduct(service, {
        userId: user.id,
        amount: 30,
        idempotencyKey: 'job-42',
      });
      expect(taken.status).toBe(200);
      expect(taken.data?.deductCredits).toMatchObject({
        balance: 70,
        replayed: false,
        transaction: { type: 'CONSUMPTION', amount: -30, balanceAfter: 70 },
      });
      const consumptionId = taken.data!.deductCredits.transaction.id;
      const back = await gql(t.url, RefundCreditsDocument, {
        token: service,
        variables: {
          input: {
            transactionId: consumptionId,
            description: 'render failed',
            idempotencyKey: 'job-42-refund',
          },
        },
      });
      expect(back.data?.refundCredits).toMatchObject({
        balance: 100,
        transaction: { type: 'REFUND', amount: 30, refundedTransactionId: consumptionId },
      });
      const history = await gql(t.url, MyHistoryDocument, {
        token: user.token,
        variables: { first: 10 },
      });
      expect(history.data?.me.creditTransactions.edges.map((e) => e.node.type)).toEqual([
        'REFUND',
        'CONSUMPTION',
        'ADJUSTMENT',
      ]);
      const me = await gql(t.url, MyCreditsDocument, { token: user.token });
      expect(me.data?.me).toMatchObject({
        credits: 100,
        reservedCredits: 0,
        availableCredits: 100,
      });
    });

    it('INSUFFICIENT_CREDITS answers 200 with the error and moves nothing', async () => {
      const user = await userWith(10);
      const res = await deduct(service, { userId: user.id, amount: 11 });
      expect(res.status).toBe(200);
      expect(res.data).toBeNull();
      expect(res.errors?.[0]).toMatchObject({
        message: 'Insufficient credits',
        extensions: { code: 'INSUFFICIENT_CREDITS' },
      });
      expect(await rows(user.id)).toBe(1);
    });

    it('50 concurrent requests with one idempotency key make one movement', async () => {
      const user = await userWith(100);
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          deduct(service, { userId: user.id, amount: 7, idempotencyKey: 'same-job' }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      const movements = results.map((r) => r.data!.deductCredits);
      expect(new Set(movements.map((m) => m.transaction.id)).size).toBe(1);
      expect(movements.filter((m) => !m.replayed)).toHaveLength(1);
      expect(new Set(movements.map((m) => m.balance))).toEqual(new Set([93]));
      expect(await rows(user.id)).toBe(2);
      const reused = await deduct(service, {
        userId: user.id,
        amount: 8,
        idempotencyKey: 'same-job',
      });
      expect(reused.status).toBe(409);
      expect(reused.errors?.[0]?.extensions?.['code']).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('refund twice, or above the amount deducted, is refused and moves nothing', async () => {
      const user = await userWith(100);
      const taken = await deduct(service, { userId: user.id, amount: 20 });
      const transactionId = taken.data!.deductCredits.transaction.id;
      const refund = (amount?: number) =>
        gql(t.url, RefundCreditsDocument, {
          token: service,
          variables: {
            input: { transactionId, description: 'failed', ...(amount ? { amount } : {}) },
          },
        });
      const above = await refund(21);
      expect(above.status).toBe(400);
      expect(above.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect((await refund()).data?.refundCredits.balance).toBe(100);
      const twice = await refund();
      expect(twice.errors?.[0]).toMatchObject({
        message: 'Refunds would exceed the credits this transaction took',
        extensions: { code: 'BAD_USER_INPUT' },
      });
      const unknown = await gql(t.url, RefundCreditsDocument, {
        token: service,
        variables: { input: { transactionId: randomUUID(), description: 'x' } },
      });
      expect(unknown.status).toBe(404);
      expect(await rows(user.id)).toBe(3);
    });
  });

  describe('bad input is BAD_USER_INPUT and writes nothing', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['zero amount', { amount: 0 }],
      ['negative amount', { amount: -5 }],
      ['amount above the maximum', { amount: 100_000_001 }],
      ['amount beyond a 32-bit Int', { amount: 2 ** 31 }],
      ['fractional amount', { amount: 1.5 }],
      ['amount as a string', { amount: '5' }],
      ['empty description', { description: '' }],
      ['blank description', { description: '   ' }],
      ['description of 501 characters', { description: 'd'.repeat(501) }],
      ['description with a NUL byte', { description: 'render\u0000' }],
      ['user id with a NUL byte', { userId: 'a\u0000b' }],
      ['empty idempotency key', { idempotencyKey: '' }],
      ['idempotency key of 256 characters', { idempotencyKey: 'k'.repeat(256) }],
      ['missing idempotency key', { idempotencyKey: undefined }],
      ['an unknown field', { bonus: 1 }],
    ];
    it.each(cases)('%s', async (_name, override) => {
      const user = await userWith(50);
      const input: Record<string, unknown> = {
        userId: user.id,
        amount: 1,
        description: 'ok',
        idempotencyKey: randomUUID(),
        ...override,
      };
      const res = await gql(t.url, DeductCreditsDocument, {
        token: service,
        variables: { input } as never,
      });
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(await rows(user.id)).toBe(1);
      const me = await gql(t.url, MyCreditsDocument, { token: user.token });
      expect(me.data?.me.credits).toBe(50);
    });

    it('an unknown user is NOT_FOUND (404)', async () => {
      const res = await deduct(service, { userId: `ghost-${randomUUID()}`, amount: 1 });
      expect(res.status).toBe(404);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    });

    it('malformed JSON is a 400 and writes nothing', async () => {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${service}` },
        body: '{"query": "mutation { deductCredits(',
      });
      expect(res.status).toBe(400);
    });
  });

  describe('admin adjustments', () => {
    it('add and remove with a reason; a removal may not take more than is spendable', async () => {
      const user = await userWith(0);
      const adjust = (amount: number, key: string) =>
        gql(t.url, AdjustCreditsDocument, {
          token: admin,
          variables: {
            input: {
              userId: user.id,
              amount,
              description: 'support ticket 17',
              idempotencyKey: key,
            },
          },
        });
      expect((await adjust(40, 'a')).data?.adjustCredits.balance).toBe(40);
      expect((await adjust(-15, 'b')).data?.adjustCredits).toMatchObject({
        balance: 25,
        transaction: { type: 'ADJUSTMENT', amount: -15, description: 'support ticket 17' },
      });
      const over = await adjust(-26, 'c');
      expect(over.errors?.[0]?.extensions?.['code']).toBe('INSUFFICIENT_CREDITS');
      const zero = await adjust(0, 'd');
      expect(zero.status).toBe(400);
      expect(
        t.logs.some((l) => l['msg'] === 'admin credit adjustment' && l['admin'] === 'ops'),
      ).toBe(true);
    });
  });

  describe('reservations', () => {
    it('reserve, capture part, and the rest returns; the profile shows what is held', async () => {
      const user = await userWith(100);
      const held = await gql(t.url, ReserveCreditsDocument, {
        token: service,
        variables: {
          input: { userId: user.id, amount: 60, description: '4K render', idempotencyKey: 'r-1' },
        },
      });
      expect(held.errors).toBeUndefined();
      const hold = held.data!.reserveCredits;
      expect(hold).toMatchObject({ amount: 60, status: 'ACTIVE', capturedAmount: null });
      // Default TTL: 15 minutes.
      const ttl = (Date.parse(hold.expiresAt) - Date.now()) / 1000;
      expect(ttl).toBeGreaterThan(890);
      expect(ttl).toBeLessThanOrEqual(900);
      const during = await gql(t.url, UserCreditsDocument, {
        token: service,
        variables: { id: user.id },
      });
      expect(during.data?.userProfile).toMatchObject({
        credits: 100,
        reservedCredits: 60,
        availableCredits: 40,
      });
      const spend = await deduct(service, { userId: user.id, amount: 41 });
      expect(spend.errors?.[0]?.extensions?.['code']).toBe('INSUFFICIENT_CREDITS');

      const captured = await gql(t.url, CaptureReservationDocument, {
        token: service,
        variables: { input: { reservationId: hold.id, amount: 35 } },
      });
      expect(captured.data?.captureReservation).toMatchObject({
        balance: 65,
        reservation: { status: 'CAPTURED', capturedAmount: 35 },
        transaction: { type: 'CONSUMPTION', amount: -35, reservationId: hold.id },
      });
      const after = await gql(t.url, MyCreditsDocument, { token: user.token });
      expect(after.data?.me).toMatchObject({
        credits: 65,
        reservedCredits: 0,
        availableCredits: 65,
      });
      const lookedUp = await gql(t.url, ReservationDocument, {
        token: service,
        variables: { id: hold.id },
      });
      expect(lookedUp.data?.reservation?.status).toBe('CAPTURED');
      const release = await gql(t.url, ReleaseReservationDocument, {
        token: service,
        variables: { input: { reservationId: hold.id } },
      });
      expect(release.status).toBe(409);
      expect(release.errors?.[0]?.extensions).toMatchObject({
        code: 'RESERVATION_NOT_ACTIVE',
        reservationStatus: 'CAPTURED',
      });
    });

    it('release gives all back; an expired hold cannot be captured (409)', async () => {
      const user = await userWith(30);
      const reserve = (key: string, ttlSeconds?: number) =>
        gql(t.url, ReserveCreditsDocument, {
          token: service,
          variables: {
            input: {
              userId: user.id,
              amount: 30,
              description: 'job',
              idempotencyKey: key,
              ...(ttlSeconds ? { ttlSeconds } : {}),
            },
          },
        });
      const a = (await reserve('a')).data!.reserveCredits;
      const released = await gql(t.url, ReleaseReservationDocument, {
        token: service,
        variables: { input: { reservationId: a.id } },
      });
      expect(released.data?.releaseReservation.status).toBe('RELEASED');
      const b = (await reserve('b', 2)).data!.reserveCredits;
      await new Promise((r) => setTimeout(r, 2100));
      const late = await gql(t.url, CaptureReservationDocument, {
        token: service,
        variables: { input: { reservationId: b.id } },
      });
      expect(late.status).toBe(409);
      expect(late.errors?.[0]).toMatchObject({
        message: 'Reservation expired',
        extensions: { code: 'RESERVATION_NOT_ACTIVE' },
      });
      const me = await gql(t.url, MyCreditsDocument, { token: user.token });
      expect(me.data?.me).toMatchObject({ credits: 30, availableCredits: 30 });
      expect(await rows(user.id)).toBe(1);
    });

    it.each([
      ['ttl of 0', { ttlSeconds: 0 }],
      ['ttl above a day', { ttlSeconds: 86_401 }],
      ['zero amount', { amount: 0 }],
    ])('reserve with %s is BAD_USER_INPUT', async (_name, override) => {
      const user = await userWith(10);
      const res = await gql(t.url, ReserveCreditsDocument, {
        token: service,
        variables: {
          input: { userId: user.id, amount: 1, description: 'x', idempotencyKey: 'k', ...override },
        },
      });
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    });
  });

  it('creditDrift names a user whose balance was changed behind the ledger', async () => {
    const user = await userWith(10);
    const ds = t.server.dataSource;
    await ds.query('UPDATE user_profiles SET credits = credits + 3 WHERE id = $1', [user.id]);
    try {
      const res = await gql(t.url, CreditDriftDocument, { token: admin });
      expect(res.data?.creditDrift).toEqual([
        { userId: user.id, credits: 13, transactionSum: 10, drift: 3 },
      ]);
    } finally {
      await ds.query('UPDATE user_profiles SET credits = credits - 3 WHERE id = $1', [user.id]);
    }
  });
});

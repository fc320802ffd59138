import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { signToken } from '../../src/auth';
import { Ledger } from '../../src/ledger';
import {
  DeductCreditsDocument,
  MyCreditsDocument,
  ReservationDocument,
  ReserveCreditsDocument,
  UserCreditsDocument,
} from '../generated/graphql';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';
import { gql } from '../support/graphql';
import { freePort, startProcess } from '../support/process';
import { TEST_JWT_SECRET } from '../support/server';

/**
 * A worker reserves credits, then its service process dies (SIGKILL: no shutdown hook runs,
 * no timer survives). Once the TTL has passed, a fresh process on the same database shows
 * the credits spendable again and lets them be spent: nothing had to be alive at expiry.
 */
describe('an expired reservation after the process that made it is gone', () => {
  let db: TestDatabase;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await db?.drop();
  });

  async function start(): Promise<string> {
    const port = await freePort();
    const started = await startProcess({
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      NODE_ENV: 'test',
    });
    children.push(started.child);
    return `http://127.0.0.1:${port}`;
  }

  it('returns its credits: another instance sees them available and can spend them', async () => {
    const userId = `crash-${randomUUID()}`;
    const user = await signToken({ secret: TEST_JWT_SECRET, subject: userId, role: 'user' });
    const service = await signToken({ secret: TEST_JWT_SECRET, subject: 'app', role: 'service' });

    const first = await start();
    await gql(first, MyCreditsDocument, { token: user });
    const ds = await openTestDataSource(db.url, 2);
    try {
      await new Ledger(ds).grant({ userId, type: 'ADJUSTMENT', amount: 50, description: 'seed' });
    } finally {
      await ds.destroy();
    }
    const held = await gql(first, ReserveCreditsDocument, {
      token: service,
      variables: {
        input: { userId, amount: 50, description: 'video', ttlSeconds: 2, idempotencyKey: 'v-1' },
      },
    });
    expect(held.errors).toBeUndefined();
    const reservationId = held.data!.reserveCredits.id;
    const during = await gql(first, UserCreditsDocument, {
      token: service,
      variables: { id: userId },
    });
    expect(during.data?.userProfile).toMatchObject({ credits: 50, availableCredits: 0 });

    const victim = children[0]!;
    const exited = new Promise((resolve) => victim.once('exit', resolve));
    victim.kill('SIGKILL');
    await exited;
    const waitUntil = Date.parse(held.data!.reserveCredits.expiresAt) + 200;
    await new Promise((r) => setTimeout(r, Math.max(0, waitUntil - Date.now())));

    const second = await start();
    const after = await gql(second, UserCreditsDocument, {
      token: service,
      variables: { id: userId },
    });
    expect(after.data?.userProfile).toMatchObject({
      credits: 50,
      reservedCredits: 0,
      availableCredits: 50,
    });
    const hold = await gql(second, ReservationDocument, {
      token: service,
      variables: { id: reservationId },
    });
    expect(hold.data?.reservation?.status).toBe('EXPIRED');
    const spend = await gql(second, DeductCreditsDocument, {
      token: service,
      variables: { input: { userId, amount: 50, description: 'all of it', idempotencyKey: 'd-1' } },
    });
    expect(spend.errors).toBeUndefined();
    expect(spend.data?.deductCredits.balance).toBe(0);

    const check = await openTestDataSource(db.url, 2);
    try {
      const ledger = new Ledger(check);
      expect(await ledger.drift()).toEqual([]);
      expect(await ledger.reservedDrift()).toEqual([]);
    } finally {
      await check.destroy();
    }
  }, 120_000);
});

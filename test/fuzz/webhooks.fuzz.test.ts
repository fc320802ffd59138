import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server';
import { createFixtures, type Fixtures } from './fixtures';
import { NASTY_STRINGS } from './graphql-documents';
import {
  assertHealthy,
  BOUND_MS,
  clip,
  failureKind,
  Findings,
  fuzzParameters,
  fuzzTimeout,
  printedAs,
  send,
  settle,
  writeLog,
  type RawRequest,
  type RawResponse,
  type WriteLog,
} from './harness';
import {
  deliveryArbitrary,
  materialize,
  sign,
  wellFormedEvent,
  type Delivery,
} from './webhook-bodies';

/**
 * Random deliveries to the payment callback. Properties of every answer:
 *  - answered within BOUND_MS, and /healthz still answers afterwards;
 *  - a delivery without a right signature (none, forged, stale) is never accepted: 401, or 413
 *    when the body is over the 64 KB limit (read before anything else);
 *  - a rightly signed delivery is never answered 401;
 *  - a refused delivery (any 4xx) changed no row of any table;
 *  - no 5xx, except the one 500 API.md documents ("applying failed, the provider retries"),
 *    allowed ONLY when all of these hold, each checked:
 *      1. the delivery is rightly signed and fresh;
 *      2. the body is a well-formed event of one of API.md's six types, every documented
 *         field of its `data` of the documented kind (webhook-bodies.ts, wellFormedEvent);
 *      3. it refers to something Tally does not know yet: checkout.completed an order with
 *         that id and checkout; subscription.* a subscription with that provider id;
 *         refund.created a payment (an order's or a renewal's) with that transaction id.
 *         (checkout.cancelled of an unknown order is a no-op, so never a 500.) A retry can
 *         only succeed once that thing exists: this is what the provider's retry is for;
 *      4. the event is stored as FAILED (provider "mock", its id), and nothing else changed.
 *    Two more are documented (README, Payments): a checkout.completed whose amount or
 *    currency differs from its known order's, and a refund.created in another currency than
 *    its known payment, are refused loudly and stored FAILED for an operator.
 *    Anything else that fails to apply (an Object.prototype `type`, a value the database
 *    refuses) is a finding: the
 *    provider would retry it forever, or the server broke on input.
 *
 * GET /api/payment/callback (the browser's redirect): 303, 400 or 404 only, within the bound,
 * and a 4xx changed nothing.
 */

/** Condition 3's question for each type: the row the event names, as [sql, its fields]. */
const SUBSCRIPTION_REFERENT: [string, string[]] = [
  `SELECT 1 FROM subscriptions WHERE provider = 'mock' AND provider_subscription_id = $1`,
  ['subscription_id'],
];
const EVENT_REFERENTS: Record<string, [string, string[]]> = {
  'checkout.completed': [
    `SELECT 1 FROM orders WHERE id::text = $1 AND checkout_id = $2`,
    ['order_id', 'checkout_id'],
  ],
  'subscription.renewed': SUBSCRIPTION_REFERENT,
  'subscription.past_due': SUBSCRIPTION_REFERENT,
  'subscription.cancelled': SUBSCRIPTION_REFERENT,
  'refund.created': [
    `SELECT 1 FROM orders WHERE provider = 'mock' AND provider_transaction_id = $1
     UNION ALL
     SELECT 1 FROM subscription_payments WHERE provider = 'mock' AND provider_transaction_id = $1`,
    ['transaction_id'],
  ],
};

/** Runs of each property in the bounded (CI) run; FUZZ_RUNS replaces them all. */
const DELIVERY_RUNS = 2000;
const REDIRECT_RUNS = 800;

describe('fuzzing the payment callback', () => {
  let t: TestServer;
  let fixtures: Fixtures;
  let writes: WriteLog;
  let findings: Findings;

  beforeAll(async () => {
    t = await startTestServer();
    fixtures = await createFixtures(t);
    writes = await writeLog(t.server.dataSource);
  }, 120_000);
  beforeEach(() => {
    findings = new Findings();
  });
  afterEach(async () => {
    await assertHealthy(t.url);
    findings.report();
  });
  afterAll(async () => {
    await t?.close();
  });

  const query = (sql: string, params: unknown[]) =>
    t.server.dataSource.query(sql, params) as Promise<Array<Record<string, unknown>>>;

  /** Condition 3: does the event name something Tally does not know (yet)? */
  async function referent(event: {
    type: string;
    data: Record<string, unknown>;
  }): Promise<'unknown' | 'known' | 'none'> {
    const question = EVENT_REFERENTS[event.type];
    if (!question) return 'none';
    const [sql, fields] = question;
    const params = fields.map((f) => String(event.data[f]));
    // No row can hold a NUL: such a name is unknown (and PostgreSQL refuses it as a parameter).
    if (params.some((p) => p.includes('\u0000'))) return 'unknown';
    return (await query(sql, params)).length === 0 ? 'unknown' : 'known';
  }

  async function exchange(
    request: RawRequest,
  ): Promise<{ res?: RawResponse; changed: string[]; error?: string }> {
    const before = await writes.mark();
    let res: RawResponse | undefined;
    let error: string | undefined;
    try {
      res = await send(t.url, request);
    } catch (e) {
      error = String(e);
      await settle(t.url);
    }
    const changed = await writes.since(before);
    return { ...(res ? { res } : {}), changed, ...(error ? { error } : {}) };
  }

  async function checkDelivery(delivery: Delivery) {
    const { res, changed, error } = await exchange({
      method: 'POST',
      path: '/api/payment/callback',
      headers: delivery.headers,
      body: delivery.body,
    });
    const failures: string[] = [];
    const kinds: string[] = [];
    const fail = (kind: string, message: string) => {
      kinds.push(kind);
      failures.push(message);
    };
    if (!res) fail('[bound] no answer', `[bound] ${error}`);
    else {
      const status = res.status;
      if (res.ms > BOUND_MS) fail('[bound]', `[bound] ${res.ms.toFixed(0)} ms > ${BOUND_MS} ms`);
      const unsigned =
        delivery.signing === 'none' ||
        delivery.signing === 'forged' ||
        delivery.signing === 'stale';
      if (unsigned && status !== 401 && status !== 413) {
        fail(
          `[unsigned refused] ${delivery.signing} → ${status}`,
          `[unsigned refused] a ${delivery.signing} signature answered ${status}`,
        );
      }
      if (delivery.signing === 'valid' && status === 401) {
        fail('[signed accepted] 401', `[signed accepted] a right signature answered 401`);
      }
      if (status >= 400 && status < 500 && changed.length > 0) {
        fail(
          `[nothing written] ${status} ${changed.join(', ')}`,
          `[nothing written] refused with ${status} but changed: ${changed.join(', ')}`,
        );
      }
      if (status >= 500) {
        const why = await whyNot500(delivery, changed);
        if (why) {
          const type = (delivery.json as { type?: unknown } | undefined)?.type;
          fail(
            `${failureKind(`[no 5xx] ${status}`, why)} type=${clip(type, 40)}`,
            `[no 5xx] ${status} not the documented one: ${why}`,
          );
        }
      }
    }
    if (failures.length > 0) {
      findings.fail(
        kinds,
        `${failures.join('\n')}\nPOST /api/payment/callback (${delivery.signing})\n` +
          `headers: ${clip(delivery.headers, 600)}\nbody: ${clip(delivery.body, 2500)}\n` +
          `→ ${res ? `${res.status} in ${res.ms.toFixed(0)} ms: ${clip(res.text, 600)}` : error}\nchanged: ${changed.join(', ') || 'nothing'}`,
      );
    }
  }

  /** Undefined when a 500 is the documented one (see the header); else what rules it out. */
  async function whyNot500(delivery: Delivery, changed: string[]): Promise<string | undefined> {
    // A `mixed` delivery the server did not refuse carried a right signature for its timestamp.
    if (delivery.signing !== 'valid' && delivery.signing !== 'mixed') return 'not rightly signed';
    const event = wellFormedEvent(delivery.json);
    if (!event) return 'not a well-formed event of a documented type';
    // Checked before the referent: an event that cannot even be stored is the plainer fault.
    const stored = await query(
      `SELECT status FROM webhook_events WHERE provider = 'mock' AND event_id = $1`,
      [event.id.includes('\u0000') ? '' : event.id],
    );
    if (stored[0]?.['status'] !== 'FAILED') {
      return `it is not stored as FAILED (${JSON.stringify(stored)})`;
    }
    const others = changed.filter((table) => table !== 'webhook_events');
    if (others.length > 0) return `it changed ${others.join(', ')}`;
    const about = await referent(event);
    if (about === 'none') return `a ${event.type} never waits for anything`;
    if (about === 'known' && !(await mismatchedPayment(event))) {
      return `a well-formed ${event.type} about something known`;
    }
    return undefined;
  }

  /**
   * README (Payments): a payment that does not match its order's price is refused loudly,
   * stored FAILED with "does not match order" for an operator: the one documented 500 about
   * a known order. Its amount or currency must really differ, and the error must say so.
   */
  /** README (Refunds): a refund in another currency than its payment is not applied. */
  async function refundInAnotherCurrency(event: {
    id: string;
    data: Record<string, unknown>;
  }): Promise<boolean> {
    const [payment] = await query(
      `SELECT currency FROM orders WHERE provider = 'mock' AND provider_transaction_id = $1
       UNION ALL
       SELECT currency FROM subscription_payments WHERE provider = 'mock' AND provider_transaction_id = $1`,
      [String(event.data['transaction_id'])],
    );
    const [stored] = await query(
      `SELECT last_error FROM webhook_events WHERE provider = 'mock' AND event_id = $1`,
      [event.id],
    );
    return (
      payment !== undefined &&
      payment['currency'] !== event.data['currency'] &&
      /is in [A-Z]{3}, its payment .* in [A-Z]{3}: not applied/.test(
        String(stored?.['last_error'] ?? ''),
      )
    );
  }

  async function mismatchedPayment(event: {
    id: string;
    type: string;
    data: Record<string, unknown>;
  }): Promise<boolean> {
    if (event.type === 'refund.created') return refundInAnotherCurrency(event);
    if (event.type !== 'checkout.completed') return false;
    const [order] = await query(
      `SELECT amount_minor, currency FROM orders WHERE id = $1 AND checkout_id = $2`,
      [String(event.data['order_id']), String(event.data['checkout_id'])],
    );
    const differs =
      order !== undefined &&
      (order['amount_minor'] !== event.data['amount'] ||
        order['currency'] !== event.data['currency']);
    const [stored] = await query(
      `SELECT last_error FROM webhook_events WHERE provider = 'mock' AND event_id = $1`,
      [event.id],
    );
    return differs && /does not match order/.test(String(stored?.['last_error'] ?? ''));
  }

  it('control: the documented 500 is told apart; a forged delivery is refused and stores nothing', async () => {
    const event = {
      id: `evt_control_${Date.now()}`,
      type: 'subscription.past_due',
      created_at: new Date().toISOString(),
      data: { subscription_id: 'sub_not_yet_created' },
    };
    const body = JSON.stringify(event);
    const at = Math.floor(Date.now() / 1000);
    const forged = await exchange({
      method: 'POST',
      path: '/api/payment/callback',
      headers: {
        'content-type': 'application/json',
        'mock-signature': sign('not-the-secret', body, at),
      },
      body,
    });
    expect(forged.res?.status).toBe(401);
    expect(forged.changed).toEqual([]);
    const signed: Delivery = {
      body,
      json: event,
      signing: 'valid',
      headers: {
        'content-type': 'application/json',
        'mock-signature': sign(t.config.mockWebhookSecret, body, at),
      },
    };
    const applied = await exchange({
      method: 'POST',
      path: '/api/payment/callback',
      headers: signed.headers,
      body,
    });
    expect(applied.res?.status).toBe(500);
    expect(applied.changed).toEqual(['webhook_events']);
    expect(await whyNot500(signed, applied.changed)).toBeUndefined();
    // The same 500 for something known, or with anything else written, is not the documented one.
    expect(
      await whyNot500({ ...signed, json: { ...event, type: 'toString' } }, applied.changed),
    ).toBeDefined();
    expect(await whyNot500(signed, ['webhook_events', 'orders'])).toBe('it changed orders');
  });

  it(
    'POST: random bodies and headers, signed and not',
    async () => {
      await fc.assert(
        fc.asyncProperty(deliveryArbitrary(fixtures.provider), async (plan) => {
          await checkDelivery(materialize(plan, t.config.mockWebhookSecret));
        }),
        fuzzParameters('POST /api/payment/callback', DELIVERY_RUNS),
      );
    },
    fuzzTimeout(DELIVERY_RUNS),
  );

  it(
    'GET: random query strings on the redirect back from checkout',
    async () => {
      const orders = fixtures.provider.orders;
      const value = (known: string[]) =>
        fc.oneof(
          fc.constantFrom(...known),
          fc.constantFrom(
            ...NASTY_STRINGS,
            '00000000-0000-4000-8000-000000000000',
            'x'.repeat(300),
          ),
          fc.string({ maxLength: 30 }),
        );
      // Percent-encodes the UTF-8 bytes (encodeURIComponent throws on a lone surrogate).
      const encode = (v: string) =>
        [...Buffer.from(v, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      const param = (name: string, known: string[]) =>
        fc.oneof(
          value(known).map((v) => [`${name}=${encode(v)}`]),
          fc
            .tuple(value(known), value(known))
            .map(([a, b]) => [`${name}=${encode(a)}`, `${name}=${encode(b)}`]),
          fc.constantFrom(
            [],
            [name],
            [`${name}[]=x`],
            [`${name}[a]=1`],
            [`${name}=%`],
            [`${name}=%00`],
          ),
        );
      await fc.assert(
        fc.asyncProperty(
          fc
            .tuple(
              param(
                'order_id',
                orders.map((o) => o.orderId),
              ),
              param(
                'checkout_id',
                orders.map((o) => o.checkoutId),
              ),
              param('status', ['success', 'cancel', 'paid']),
              fc.constantFrom([], ['utm=1'], ['__proto__[x]=1'], ['constructor=1']),
            )
            .chain((parts) =>
              fc.shuffledSubarray(parts.flat(), { minLength: 0, maxLength: parts.flat().length }),
            )
            .map((parts) => printedAs({ path: `/api/payment/callback?${parts.join('&')}` })),
          async ({ path }) => {
            const { res, changed, error } = await exchange({ method: 'GET', path });
            const problems: string[] = [];
            if (!res) problems.push(`[bound] ${error}`);
            else {
              if (![303, 400, 404].includes(res.status))
                problems.push(`[303, 400 or 404] answered ${res.status}`);
              if (res.ms > BOUND_MS) problems.push(`[bound] ${res.ms.toFixed(0)} ms`);
              if (res.status >= 400 && changed.length > 0) {
                problems.push(`[nothing written] ${res.status} but changed: ${changed.join(', ')}`);
              }
            }
            if (problems.length > 0) {
              findings.fail(
                problems.map((p) => failureKind('[redirect]', p)),
                `${problems.join('\n')}\nGET ${path}\n→ ${res ? `${res.status}: ${clip(res.text, 500)}` : error}`,
              );
            }
          },
        ),
        fuzzParameters('GET /api/payment/callback', REDIRECT_RUNS),
      );
    },
    fuzzTimeout(REDIRECT_RUNS),
  );
});

import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import type { ProviderFacts } from './fixtures';
import { choiceFrom, NASTY_STRINGS, type Choice } from './graphql-documents';

/**
 * Random deliveries to `POST /api/payment/callback` for the mock provider: garbage, JSON of
 * any shape, and mock-provider events (API.md, "The mock provider") with random, unknown and
 * Object.prototype `type`s and random `data`, naming real orders, payments and subscriptions
 * of the fixtures or unknown ones; signed rightly, with a stale or future timestamp, with the
 * wrong secret, not at all, or with duplicate headers.
 */

/** Names every plain object answers to: a lookup table keyed by `type` must not. */
const PROTOTYPE_NAMES = [
  'toString',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupGetter__',
];

/**
 * Stands for a value new on every execution (event, transaction, refund ids): written into
 * the body by `materialize`, so a run replayed while shrinking sends new ids again and is
 * not answered as a duplicate of its own earlier attempt.
 */
export const FRESH = 'f0f0f0f0f0f0';
const freshUuid = `00000000-0000-4000-8000-${FRESH}`;

/** How the delivery was signed, by construction. */
export type Signing =
  /** One header: a fresh timestamp and the right digest (maybe among junk digests). */
  | 'valid'
  /** No header. */
  | 'none'
  /** No right digest anywhere (wrong secret, another body, junk, malformed). */
  | 'forged'
  /** The right digest for a timestamp outside the 300 s tolerance. */
  | 'stale'
  /** Duplicate headers mixing right and wrong: any answer but a 5xx. */
  | 'mixed';

export interface Delivery {
  body: string;
  headers: Record<string, string | string[]>;
  signing: Signing;
  /** The event the body encodes, when it is JSON. */
  json?: unknown;
}

export function sign(secret: string, body: string, t: number): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

function isoAround(c: Choice): unknown {
  const now = Date.now();
  return c.pick<unknown>([
    new Date(now).toISOString(),
    new Date(now + 30 * 86_400_000).toISOString(),
    new Date(now - 30 * 86_400_000).toISOString(),
    new Date(now + 60 * 86_400_000).toISOString(),
    '2020-01-01T00:00:00+02:00',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
    '2024-02-30T00:00:00Z',
    'yesterday',
    '',
    0,
    null,
  ]);
}

/**
 * A value for one `data` field, of its documented kind, naming a known or a new thing; with
 * `garbage`, sometimes of another kind altogether.
 */
function fieldValue(
  c: Choice,
  field: string,
  facts: ProviderFacts,
  order: ProviderFacts['orders'][number],
  garbage: boolean,
): unknown {
  if (garbage && c.chance(12)) {
    return c.pick<unknown>([
      ...NASTY_STRINGS.slice(0, 12),
      'x'.repeat(65),
      0,
      -1,
      1.5,
      2 ** 31,
      Number.MAX_SAFE_INTEGER,
      1e300,
      true,
      null,
      [],
      {},
    ]);
  }
  switch (field) {
    case 'order_id':
      return c.chance(60) ? order.orderId : c.pick([freshUuid, 'not-a-uuid']);
    case 'checkout_id':
      return c.chance(70)
        ? order.checkoutId
        : c.pick([`mck_${FRESH}`, facts.orders[0]!.checkoutId]);
    case 'transaction_id':
      return c.chance(50) ? c.pick(facts.transactionIds) : `txn_fuzz_${FRESH}`;
    case 'subscription_id':
      return c.chance(60) && facts.subscriptionIds.length
        ? c.pick(facts.subscriptionIds)
        : `sub_fuzz_${FRESH}`;
    case 'refund_id':
      return c.chance(20) ? 'ref_fuzz_same' : `ref_fuzz_${FRESH}`;
    case 'amount':
      return c.chance(50)
        ? order.amount
        : c.pick([
            1,
            100,
            order.amount + 1,
            2 ** 31 - 1,
            2 ** 31,
            2 ** 40,
            Number.MAX_SAFE_INTEGER,
          ]);
    case 'currency':
      return c.chance(70) ? order.currency : c.pick(['EUR', 'usd', 'US', 'USDX', '']);
    case 'cancel_at_period_end':
      return c.chance(50);
    default:
      return isoAround(c);
  }
}

function eventData(c: Choice, type: string, facts: ProviderFacts): unknown {
  if (c.chance(5)) return c.pick<unknown>([[], 'data', null, 42, { nested: { deep: [1, 2, 3] } }]);
  // hasOwn: `type` may well be "toString" or "__proto__".
  const rules = Object.hasOwn(DATA_RULES, type)
    ? DATA_RULES[type]!
    : c.pick(Object.values(DATA_RULES));
  // Half the events are as a provider sends them (every required field, of its kind): only
  // those reach the code that applies them.
  const providerLike = c.chance(50);
  const order = c.pick(facts.orders);
  const data: Record<string, unknown> = {};
  for (const [field, { required }] of Object.entries(rules)) {
    const present = providerLike ? required || c.chance(50) : c.chance(required ? 92 : 50);
    if (present) data[field] = fieldValue(c, field, facts, order, !providerLike);
  }
  if (c.chance(5)) data[c.pick(['extra', 'constructor', 'status'])] = c.pick<unknown>([1, 'x', {}]);
  return data;
}

function eventType(c: Choice): unknown {
  switch (c.int(0, 9)) {
    case 0:
      return c.pick(PROTOTYPE_NAMES);
    case 1:
      return c.pick<unknown>([
        'payout.paid',
        '',
        'checkout',
        'CHECKOUT.COMPLETED',
        'x'.repeat(101),
        42,
        null,
        ['checkout.completed'],
      ]);
    case 2:
      return c.pick(NASTY_STRINGS);
    default:
      return c.pick(Object.keys(DATA_RULES));
  }
}

/** A mock-provider event as JSON text (an own `__proto__` key needs the text to say so). */
function eventBody(c: Choice, facts: ProviderFacts): { text: string; json: unknown } {
  const type = eventType(c);
  const event: Record<string, unknown> = {
    id: c.chance(88)
      ? `evt_fuzz_${FRESH}`
      : c.pick<unknown>([...facts.eventIds, '', 'x'.repeat(256), 'evt_\u0000', 42, null]),
    type,
    created_at: c.chance(85) ? new Date().toISOString() : isoAround(c),
    data: eventData(c, typeof type === 'string' ? type : 'checkout.completed', facts),
  };
  for (const key of ['id', 'type', 'created_at', 'data']) if (c.chance(3)) delete event[key];
  let text = JSON.stringify(event);
  if (c.chance(3)) text = text.replace(/^\{/, '{"__proto__":{"type":"checkout.completed"},');
  if (c.chance(2))
    text = text.replace(/^\{/, `{"padding":"${'x'.repeat(c.pick([60_000, 65_400, 66_000]))}",`);
  return { text, json: JSON.parse(text) as unknown };
}

function body(c: Choice, facts: ProviderFacts): { text: string; json?: unknown } {
  switch (c.int(0, 9)) {
    case 0:
      return { text: c.text(c.pick([10, 200])) };
    case 1:
      return {
        text: c.pick([
          '',
          '{',
          '{"id": "evt_broken", ',
          'null',
          '[]',
          '"event"',
          '1e400',
          '\ufeff{}',
        ]),
      };
    case 2: {
      const value = c.pick<unknown>([
        {},
        [],
        { type: 'checkout.completed' },
        { id: 1, type: 2, data: 3 },
        { data: { order_id: null } },
      ]);
      return { text: JSON.stringify(value), json: value };
    }
    default:
      return eventBody(c, facts);
  }
}

function junkDigest(c: Choice): string {
  return c.pick([
    '0'.repeat(64),
    'f'.repeat(64),
    'zz',
    '',
    'ABCDEF'.repeat(10) + 'abcd',
    'x'.repeat(3000),
  ]);
}

/** How to sign: chosen now, computed at sending time (the clock matters). */
interface SigningPlan {
  signing: Signing;
  headers(secret: string, text: string, now: number): Record<string, string | string[]>;
}

function signature(c: Choice): SigningPlan {
  const offset = c.int(-290, 290);
  const plan = (signing: Signing, headers: SigningPlan['headers']): SigningPlan => ({
    signing,
    headers,
  });
  const digestOf = (secret: string, text: string, t: number) =>
    sign(secret, text, t).split('v1=')[1]!;
  switch (c.int(0, 11)) {
    case 0:
      return plan('none', () => ({}));
    case 1:
      return plan('forged', (_s, text, now) => ({
        'mock-signature': sign('not-the-secret', text, now + offset),
      }));
    case 2:
      return plan('forged', (secret, text, now) => ({
        'mock-signature': sign(secret, `${text} `, now + offset),
      }));
    case 3: {
      const junk = junkDigest(c);
      const variant = c.int(0, 9);
      return plan('forged', (secret, text, now) => {
        const t = now + offset;
        const right = digestOf(secret, text, t);
        return {
          'mock-signature': [
            '',
            't=,v1=',
            `t=${t}`,
            `v1=${junk}`,
            `t=${t},v1=${junk}`,
            `t=${'9'.repeat(13)},v1=${right}`,
            `t=-${t},v1=${right}`,
            `t=${t}.5,v1=${right}`,
            'x'.repeat(3000),
            '=,=,=,',
          ][variant]!,
        };
      });
    }
    case 4: {
      const away = c.pick([-301 - c.int(0, 10_000), 302 + c.int(0, 10_000), -(10 ** 9)]);
      return plan('stale', (secret, text, now) => ({
        'mock-signature': sign(secret, text, now + away),
      }));
    }
    case 5: {
      const skew = c.int(0, 2);
      return plan('mixed', (secret, text, now) => ({
        'mock-signature': [
          sign(secret, text, now + offset),
          sign('not-the-secret', text, now + offset + skew),
        ],
      }));
    }
    case 6: {
      // Short junk only: a header over 2,048 characters is refused whatever it holds.
      const junk = c.pick(['0'.repeat(64), 'zz', '', 'ABCDEF'.repeat(10) + 'abcd']);
      return plan('valid', (secret, text, now) => ({
        'Mock-Signature': `${sign(secret, text, now + offset)},v1=${junk}`,
        'x-mock-signature': sign(secret, text, now + offset),
      }));
    }
    case 7:
      return plan('valid', (secret, text, now) => ({
        'mock-signature': ` ${sign(secret, text, now + offset).replace(',', ' , ')} `,
      }));
    default:
      return plan('valid', (secret, text, now) => ({
        'mock-signature': sign(secret, text, now + offset),
      }));
  }
}

/** A delivery as generated: the body with FRESH in it, and how it will be signed. */
export interface DeliveryPlan {
  text: string;
  signing: SigningPlan;
  contentType: string | undefined;
}

export function deliveryPlan(c: Choice, facts: ProviderFacts): DeliveryPlan {
  const { text } = body(c, facts);
  const signing = signature(c);
  const contentType = c.pick<string | undefined>([
    'application/json',
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json; charset=latin1',
    undefined,
  ]);
  return { text, signing, contentType };
}

let executions = 0;

/** The bytes and headers to send now: FRESH made unique, signed with the clock of now. */
export function materialize(plan: DeliveryPlan, secret: string): Delivery {
  executions += 1;
  const nonce = (Date.now() * 1000 + (executions % 1000)).toString(16).padStart(12, '0').slice(-12);
  const text = plan.text.split(FRESH).join(nonce);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const headers = plan.signing.headers(secret, text, Math.floor(Date.now() / 1000));
  if (plan.contentType) headers['content-type'] = plan.contentType;
  return {
    body: text,
    headers,
    signing: plan.signing.signing,
    ...(json !== undefined ? { json } : {}),
  };
}

export function deliveryArbitrary(facts: ProviderFacts): fc.Arbitrary<DeliveryPlan> {
  return fc.gen().map((g) => {
    const plan = deliveryPlan(choiceFrom(g), facts);
    Object.defineProperty(plan, fc.toStringMethod, {
      value: () =>
        `${plan.signing.signing} ${plan.contentType ?? '(no content type)'} ${plan.text.slice(0, 1500)}`,
    });
    return plan;
  });
}

// ---------------------------------------------------------------------------------------
// The test's own reading of API.md: which events are well formed

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isText = (v: unknown) => typeof v === 'string' && v.length > 0;
const isIso = (v: unknown) =>
  typeof v === 'string' &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) &&
  !Number.isNaN(Date.parse(v));
const isAmount = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
const isCurrency = (v: unknown) => typeof v === 'string' && /^[A-Z]{3}$/.test(v);

const DATA_RULES: Record<
  string,
  Record<string, { required: boolean; ok: (v: unknown) => boolean }>
> = {
  'checkout.completed': {
    checkout_id: { required: true, ok: isText },
    order_id: { required: true, ok: (v) => typeof v === 'string' && UUID.test(v) },
    transaction_id: { required: true, ok: isText },
    amount: { required: true, ok: isAmount },
    currency: { required: true, ok: isCurrency },
    subscription_id: { required: false, ok: isText },
    period_start: { required: false, ok: isIso },
    period_end: { required: false, ok: isIso },
  },
  'checkout.cancelled': {
    checkout_id: { required: true, ok: isText },
    order_id: { required: true, ok: (v) => typeof v === 'string' && UUID.test(v) },
  },
  'subscription.renewed': {
    subscription_id: { required: true, ok: isText },
    transaction_id: { required: true, ok: isText },
    period_start: { required: true, ok: isIso },
    period_end: { required: true, ok: isIso },
    amount: { required: false, ok: isAmount },
    currency: { required: false, ok: isCurrency },
  },
  'subscription.past_due': { subscription_id: { required: true, ok: isText } },
  'subscription.cancelled': {
    subscription_id: { required: true, ok: isText },
    cancel_at_period_end: { required: true, ok: (v) => typeof v === 'boolean' },
    ends_at: { required: true, ok: isIso },
  },
  'refund.created': {
    refund_id: { required: true, ok: isText },
    transaction_id: { required: true, ok: isText },
    amount: { required: true, ok: isAmount },
    currency: { required: true, ok: isCurrency },
  },
};

/** A well-formed event of one of API.md's types, as a provider would send it; else undefined. */
export function wellFormedEvent(
  json: unknown,
): { id: string; type: string; data: Record<string, unknown> } | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const e = json as Record<string, unknown>;
  if (!isText(e['id']) || typeof e['type'] !== 'string' || typeof e['created_at'] !== 'string') {
    return undefined;
  }
  const rules = Object.hasOwn(DATA_RULES, e['type']) ? DATA_RULES[e['type']] : undefined;
  const data = e['data'];
  if (!rules || data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  for (const [field, rule] of Object.entries(rules)) {
    const value = (data as Record<string, unknown>)[field];
    if (value === undefined ? rule.required : !rule.ok(value)) return undefined;
  }
  return { id: e['id'] as string, type: e['type'], data: data as Record<string, unknown> };
}

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../src/observability';
import { PaddleProvider, type ParsedWebhook } from '../../src/providers';
import { FakePaddle } from '../support/fake-paddle';

/**
 * Paddle's own notification samples (test/fixtures/paddle/notifications; where each came
 * from: test/fixtures/paddle/SOURCES.md), each signed as Paddle signs its body and read by
 * the adapter. `it.failing` marks what today's adapter gets wrong, named by its issue-15
 * point: such a test passes while the adapter is wrong, fails once it is fixed, and then
 * becomes a plain `it`.
 *
 * The files stay as shipped. Where no sample exists for a case (none carries custom_data,
 * none is a chargeback), the case is derived from a sample here, in code, and says so.
 */

const DIR = path.join(__dirname, '..', 'fixtures', 'paddle', 'notifications');
const SAMPLES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();

interface Sample {
  event_id: string;
  event_type: string;
  occurred_at: string;
  data: Record<string, unknown>;
}

// Only signs: never started, and the adapter's API client is never called here.
const fake = new FakePaddle('pdl_sdbx_apikey_fixtures', 'pdl_ntfset_fixtures_0123456789', {});
const provider = new PaddleProvider({
  apiKey: fake.apiKey,
  webhookSecret: fake.webhookSecret,
  priceIds: {},
  apiUrl: 'http://127.0.0.1:9',
  publicUrl: () => 'https://billing.example.com',
  logger: silentLogger,
});

const raw = (name: string): Buffer => readFileSync(path.join(DIR, `${name}.json`));
const sample = (name: string): Sample => JSON.parse(raw(name).toString('utf8')) as Sample;
/** A body delivered as Paddle delivers it: signed now, over its exact bytes. */
const deliver = (body: Buffer): ParsedWebhook =>
  provider.parseWebhook(body, {
    'content-type': 'application/json',
    'paddle-signature': fake.sign(body.toString('utf8')),
  });
const parse = (name: string) => deliver(raw(name)).event;
/** A sample changed here (the file stays as shipped), serialised again and signed. */
const parseEdited = (name: string, edit: (s: Sample) => void) => {
  const s = sample(name);
  edit(s);
  return deliver(Buffer.from(JSON.stringify(s))).event;
};

/** What Tally's createCheckout puts on a transaction, and Paddle copies to later ones. */
const TALLY_CUSTOM_DATA = { order_id: '0b7f3c9e-5a41-4d8e-9a0c-6f2d1e8b4c17', user_id: 'u7' };
const withTallyData = (s: Sample) => {
  s.data['custom_data'] = TALLY_CUSTOM_DATA;
};

describe('Paddle’s own notification samples', () => {
  it('SOURCES.md names every sample file, and every file it names is here', () => {
    const sources = readFileSync(path.join(DIR, '..', 'SOURCES.md'), 'utf8');
    const named = new Set(
      [...sources.matchAll(/`([a-z_]+\.[a-z_]+(?:\.[a-z0-9-]+)?)\.json`/g)].map((m) => m[1]),
    );
    expect([...named].sort()).toEqual(SAMPLES);
  });

  describe.each(SAMPLES)('%s', (name) => {
    it('is accepted: authentic, well-formed, its id, type and date kept, no card details stored', () => {
      const s = sample(name);
      const parsed = deliver(raw(name));
      expect(parsed.type).toBe(s.event_type);
      expect(parsed.event.eventId).toBe(s.event_id);
      expect(parsed.event.occurredAt).toEqual(new Date(s.occurred_at));
      const stored = JSON.stringify(parsed.payload);
      expect(stored).not.toMatch(/"(last4|cardholder_name|email)"/);
    });
  });

  describe('transactions', () => {
    it.each([
      'transaction.completed.web',
      'transaction.completed.web-subscription',
      'transaction.paid.api',
      'transaction.payment_failed.web',
      'transaction.payment_failed.subscription-recurring',
      'transaction.created.web',
      'transaction.created.subscription-recurring',
      'transaction.updated.api',
      'transaction.updated.subscription-recurring-full-discount',
    ])('%s as shipped (custom_data null, or not completed): ignored', (name) => {
      expect(parse(name)).toEqual({
        kind: 'ignored',
        eventId: sample(name).event_id,
        type: sample(name).event_type,
        occurredAt: expect.any(Date),
      });
    });

    // Derived: no sample carries custom_data. With Tally's order id it is Tally's checkout.
    it('a web checkout, with Tally’s order id: its completion, amount before tax', () => {
      // Three tax-exclusive items (3000×10 + 10000 + 19900 = 59900), tax 5315 on top.
      expect(parseEdited('transaction.completed.web', withTallyData)).toEqual({
        kind: 'checkout.completed',
        eventId: 'evt_01h8e1jxjnw9ra6zarhnz1a7y1',
        orderId: TALLY_CUSTOM_DATA.order_id,
        checkoutId: 'txn_01h8dzxgkvdwemdhbpcapj2tbj',
        transactionId: 'txn_01h8dzxgkvdwemdhbpcapj2tbj',
        amountMinor: 59900,
        currency: 'USD',
        occurredAt: new Date('2023-08-22T07:15:45.366Z'),
      });
    });

    it('a web checkout that starts a subscription, with Tally’s order id: completion and period', () => {
      expect(parseEdited('transaction.completed.web-subscription', withTallyData)).toMatchObject({
        kind: 'checkout.completed',
        orderId: TALLY_CUSTOM_DATA.order_id,
        checkoutId: 'txn_01hv8wptq8987qeep44cyrewp9',
        amountMinor: 59900,
        currency: 'USD',
        subscription: {
          providerSubscriptionId: 'sub_01hv8x29kz0t586xy6zn1a62ny',
          periodStart: new Date('2024-04-12T10:18:47.635Z'),
          periodEnd: new Date('2024-05-12T10:18:47.635Z'),
        },
      });
    });

    it('a subscription_recurring transaction.completed: a renewal of its subscription', () => {
      // Point 3 (other currency): the price is USD 1000 (tax_mode external), charged as
      // GBP 792 + 158 tax. The adapter passes GBP through; comparing it is billing's part.
      expect(parse('transaction.completed.subscription-recurring-gbp')).toEqual({
        kind: 'subscription.renewed',
        eventId: 'evt_01hywqk7y8qfzj69z3pdvz34qt',
        transactionId: 'txn_01hywqfe6yxhxcsfb4ays8mqt3',
        amountMinor: 792,
        currency: 'GBP',
        providerSubscriptionId: 'sub_01hszn787vc5vkkdah3rtd4nft',
        periodStart: new Date('2024-05-27T09:52:50.189Z'),
        periodEnd: new Date('2024-06-27T09:52:50.189Z'),
        occurredAt: new Date('2024-05-27T09:55:06.825Z'),
      });
      expect(parse('transaction.completed.subscription-recurring')).toMatchObject({
        kind: 'subscription.renewed',
        transactionId: 'txn_01hfyd09vas8qwq6jw7k6yd9rg',
        amountMinor: 55000,
        currency: 'GBP',
        providerSubscriptionId: 'sub_01gyswnfgtehe0f6mvggzza8qk',
      });
    });

    // Point 1 (later transactions with copied custom_data), derived: Paddle copies the
    // subscription's custom_data (Tally's order id) to its renewals. A renewal stays one.
    it('a renewal carrying the copied order id is still a renewal, not the order’s completion', () => {
      for (const name of [
        'transaction.completed.subscription-recurring-gbp',
        'transaction.completed.subscription-recurring',
      ]) {
        expect(parseEdited(name, withTallyData).kind).toBe('subscription.renewed');
      }
    });

    // Point 1, derived: only transaction.completed is read, so other events of later
    // transactions carrying the copied order id are ignored (created/updated of another
    // origin, a renewal's failed payment).
    it.each([
      'transaction.created.subscription-recurring',
      'transaction.updated.api',
      'transaction.payment_failed.subscription-recurring',
    ])('%s with the copied order id: ignored', (name) => {
      expect(parseEdited(name, withTallyData).kind).toBe('ignored');
    });

    // Point 7 (paid without subscription_id): transaction.paid precedes completed and, for
    // a plan, comes before Paddle makes the subscription. Today transaction.paid is ignored
    // outright, so nothing is credited from it.
    it('transaction.paid with Tally’s order id: ignored (completion waits for .completed)', () => {
      expect(parseEdited('transaction.paid.api', withTallyData).kind).toBe('ignored');
    });

    // Point 4 (discounts), derived: Paddle sends transaction.completed with the same entity
    // as the shipped transaction.updated (status completed). The renewal was 100% discounted
    // (subtotal 792, discount 792, grand_total 0): it charged nothing, but the adapter reads
    // the subtotal and reports 792.
    it.failing('a fully discounted renewal charged 0, not its subtotal', () => {
      const event = parseEdited('transaction.updated.subscription-recurring-full-discount', (s) => {
        s.event_type = 'transaction.completed';
      });
      expect(event).toMatchObject({ kind: 'subscription.renewed', amountMinor: 0 });
    });
  });

  describe('subscriptions', () => {
    it('subscription.created: ignored (the completed transaction carries what Tally needs)', () => {
      expect(parse('subscription.created').kind).toBe('ignored');
    });

    it('subscription.canceled: ended at canceled_at', () => {
      expect(parse('subscription.canceled')).toEqual({
        kind: 'subscription.cancelled',
        eventId: 'evt_01h7jk37p1ezj1k5b4kt83t35j',
        providerSubscriptionId: 'sub_01h7ht5z5wdg9pz18jx1fagp8k',
        cancelAtPeriodEnd: false,
        endsAt: new Date('2024-01-11T08:34:01.787Z'), // sent with nanoseconds: …01.787929969Z
        occurredAt: new Date('2023-08-11T15:23:01.697Z'),
      });
    });

    it.each([
      ['subscription.past_due', 'sub_01h7ht5z5wdg9pz18jx1fagp8k'],
      ['subscription.updated.past-due', 'sub_01gyssnczp81czs49zcprm6hfv'],
    ])('%s: past due', (name, subscriptionId) => {
      expect(parse(name)).toMatchObject({
        kind: 'subscription.past_due',
        providerSubscriptionId: subscriptionId,
      });
    });

    it('subscription.updated with a scheduled cancel: cancelled at the period’s end', () => {
      expect(parse('subscription.updated.scheduled-cancel')).toMatchObject({
        kind: 'subscription.cancelled',
        providerSubscriptionId: 'sub_01h04vsc0qhwtsbsxh3422wjs4',
        cancelAtPeriodEnd: true,
        endsAt: new Date('2024-10-12T07:20:50.520Z'),
      });
    });

    // A resume starts a billing period whose charge arrives as a subscription_recurring
    // transaction.completed (a renewal, which resumes a PAUSED subscription in billing);
    // subscription.resumed itself is not read. Whether it must be is point 6's to decide.
    it('subscription.resumed: ignored', () => {
      expect(parse('subscription.resumed').kind).toBe('ignored');
    });

    // Point 6 (withdrawn cancellation): an active subscription with scheduled_change null is
    // what Paddle sends when a scheduled cancellation is withdrawn; it is ignored, so a
    // cancel-at-period-end Tally recorded stays.
    it.failing(
      'subscription.updated without scheduled_change tells Tally nothing is scheduled',
      () => {
        expect(parse('subscription.updated.no-scheduled-change')).toMatchObject({
          providerSubscriptionId: 'sub_01h7ht5z5wdg9pz18jx1fagp8k',
        });
      },
    );

    // Point 6 (paused): a paused subscription is not live (API.md), yet subscription.paused
    // is ignored and the subscription stays live in Tally.
    it.failing('subscription.paused is read (the subscription stops being live)', () => {
      const event = parse('subscription.paused');
      expect(event.kind).not.toBe('ignored');
      expect(event).toMatchObject({ providerSubscriptionId: 'sub_01h7ht5z5wdg9pz18jx1fagp8k' });
    });

    // Point 6 (paused): a pause scheduled for the period's end is to a pause what a
    // scheduled cancel is to a cancellation; today it is ignored.
    it.failing('subscription.updated with a scheduled pause is read', () => {
      const event = parse('subscription.updated.scheduled-pause');
      expect(event.kind).not.toBe('ignored');
      expect(event).toMatchObject({ providerSubscriptionId: 'sub_01hn0epy6nc46wt9hw92pp2kmt' });
    });
  });

  describe('adjustments', () => {
    it('a refund pending approval: ignored', () => {
      expect(parse('adjustment.created.refund-pending').kind).toBe('ignored');
    });

    it('an approved refund: refunded before tax (subtotal 92 of total 100, tax 8)', () => {
      expect(parse('adjustment.updated.refund-approved')).toEqual({
        kind: 'refund',
        eventId: 'evt_01h8c6wz4ac017hxdehrgdvpz4',
        refundId: 'adj_01h8c6tbrkpdd7vx61w7b1r0ap',
        transactionId: 'txn_01h8bxpvx398a7zbawb77y0kp5',
        amountMinor: 92,
        currency: 'USD',
        occurredAt: new Date('2023-08-21T14:10:08.650Z'),
      });
    });

    // Point 9 (chargebacks), derived: no SDK ships a chargeback sample. Paddle records one as
    // an adjustment with action 'chargeback' (its status set to 'approved' here); the adapter
    // reads only action 'refund', so the disputed payment's credits stay.
    it.failing('a chargeback is read like a refund of its transaction', () => {
      const event = parseEdited('adjustment.created.refund-pending', (s) => {
        s.data['action'] = 'chargeback';
        s.data['status'] = 'approved';
      });
      expect(event).toMatchObject({
        kind: 'refund',
        transactionId: 'txn_01h8bxpvx398a7zbawb77y0kp5',
      });
    });
  });
});

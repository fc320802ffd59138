import { z } from 'zod';
import { WebhookPayloadError, type ProviderEvent } from '../types';

/**
 * The adapter's reading of the mock's webhooks: each payload checked by a zod schema, then
 * translated into Tally's `ProviderEvent`. What is not well formed is a WebhookPayloadError
 * (400); an authentic event of a type Tally does not act on is `ignored`.
 */

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const mockEventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(100),
  created_at: z.string().max(64),
  data: z.record(z.string(), z.unknown()),
});
/** The envelope of a mock webhook, checked. */
export type MockEnvelope = z.infer<typeof mockEventSchema>;

/** Amounts fit PostgreSQL's integer columns: a larger one is a malformed event, not a 500. */
const minorUnits = z.number().int().positive().max(2_147_483_647);
const currency = z.string().regex(/^[A-Z]{3}$/);
const providerId = z.string().min(1).max(64);
/** A period ends after it starts (a CHECK of the database too): a malformed event otherwise. */
// zod runs this even when a field failed to parse (then it is no Date): that case is refused
// by the field's own check.
const periodOrdered = (d: { period_start?: unknown; period_end?: unknown }) =>
  !(d.period_start instanceof Date && d.period_end instanceof Date) ||
  d.period_end.getTime() > d.period_start.getTime();

const dataSchemas = {
  'checkout.completed': z
    .object({
      checkout_id: providerId,
      order_id: z.uuid(),
      transaction_id: providerId,
      amount: minorUnits,
      currency,
      subscription_id: providerId.optional(),
      period_start: isoDate.optional(),
      period_end: isoDate.optional(),
    })
    .refine(periodOrdered),
  'checkout.cancelled': z.object({ checkout_id: providerId, order_id: z.uuid() }),
  'subscription.renewed': z
    .object({
      subscription_id: providerId,
      transaction_id: providerId,
      period_start: isoDate,
      period_end: isoDate,
      amount: minorUnits.optional(),
      currency: currency.optional(),
    })
    .refine(periodOrdered),
  'subscription.past_due': z.object({ subscription_id: providerId }),
  'subscription.cancelled': z.object({
    subscription_id: providerId,
    cancel_at_period_end: z.boolean(),
    ends_at: isoDate,
  }),
  'refund.created': z.object({
    refund_id: providerId,
    transaction_id: providerId,
    amount: minorUnits,
    currency,
  }),
} as const;

type DataSchemas = typeof dataSchemas;
type KnownType = keyof DataSchemas;
type Normalisers = {
  [T in KnownType]: (eventId: string, data: z.infer<DataSchemas[T]>) => ProviderEvent;
};

/** One translation per event type Tally acts on, from its checked data. */
const normalisers: Normalisers = {
  'checkout.completed': (eventId, c) => ({
    kind: 'checkout.completed',
    eventId,
    orderId: c.order_id,
    checkoutId: c.checkout_id,
    transactionId: c.transaction_id,
    amountMinor: c.amount,
    currency: c.currency,
    ...(c.subscription_id && c.period_start && c.period_end
      ? {
          subscription: {
            providerSubscriptionId: c.subscription_id,
            periodStart: c.period_start,
            periodEnd: c.period_end,
          },
        }
      : {}),
  }),
  'checkout.cancelled': (eventId, c) => ({
    kind: 'checkout.cancelled',
    eventId,
    orderId: c.order_id,
    checkoutId: c.checkout_id,
  }),
  'subscription.renewed': (eventId, r) => ({
    kind: 'subscription.renewed',
    eventId,
    providerSubscriptionId: r.subscription_id,
    transactionId: r.transaction_id,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    ...(r.amount !== undefined && r.currency !== undefined
      ? { amountMinor: r.amount, currency: r.currency }
      : {}),
  }),
  'subscription.past_due': (eventId, p) => ({
    kind: 'subscription.past_due',
    eventId,
    providerSubscriptionId: p.subscription_id,
  }),
  'subscription.cancelled': (eventId, c) => ({
    kind: 'subscription.cancelled',
    eventId,
    providerSubscriptionId: c.subscription_id,
    cancelAtPeriodEnd: c.cancel_at_period_end,
    endsAt: c.ends_at,
  }),
  'refund.created': (eventId, r) => ({
    kind: 'refund',
    eventId,
    refundId: r.refund_id,
    transactionId: r.transaction_id,
    amountMinor: r.amount,
    currency: r.currency,
  }),
};

/** Checks a mock event's envelope. Throws WebhookPayloadError. */
export function readMockEnvelope(json: unknown): MockEnvelope {
  const envelope = mockEventSchema.safeParse(json);
  if (!envelope.success) throw new WebhookPayloadError('not a mock provider event');
  return envelope.data;
}

/** A checked envelope as Tally's event, dated when the mock says it happened. */
export function normaliseMockEvent(envelope: MockEnvelope): ProviderEvent {
  const at = new Date(envelope.created_at);
  const occurredAt = Number.isNaN(at.getTime()) ? undefined : at;
  const event = normaliseData(envelope.id, envelope.type, envelope.data);
  return occurredAt ? { ...event, occurredAt } : event;
}

function normaliseData(
  eventId: string,
  type: string,
  data: Record<string, unknown>,
): ProviderEvent {
  // Own keys only: `toString` or `__proto__` is an unknown type, not a prototype's member.
  if (!Object.hasOwn(dataSchemas, type)) return { kind: 'ignored', eventId, type };
  const known = type as KnownType;
  const parsed = dataSchemas[known].safeParse(data);
  if (!parsed.success) throw new WebhookPayloadError(`malformed ${type} data`);
  // The schema and the translation are looked up by the same key: their types agree.
  const normalise = normalisers[known] as (eventId: string, data: unknown) => ProviderEvent;
  return normalise(eventId, parsed.data);
}

import { z } from 'zod';
import { WebhookPayloadError, type ProviderEvent, type ProviderPeriod } from '../types';

/**
 * Paddle's webhook payloads as Paddle documents them (snake_case), only the fields Tally
 * reads, and their translation into Tally's `ProviderEvent`. Vendor types stop here.
 */

const money = z.string().regex(/^-?\d{1,15}$/);
const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
export const paddleEnvelope = z.object({
  event_id: z.string().min(1).max(255),
  event_type: z.string().min(1).max(100),
  occurred_at: z.string().max(64),
  data: z.record(z.string(), z.unknown()),
});
export type PaddleEnvelope = z.infer<typeof paddleEnvelope>;

const transactionData = z.object({
  id: z.string().min(1).max(255),
  status: z.string(),
  origin: z.string().nullable().optional(),
  subscription_id: z.string().nullable().optional(),
  currency_code: z.string().regex(/^[A-Z]{3}$/),
  custom_data: z.record(z.string(), z.unknown()).nullable().optional(),
  billing_period: z.object({ starts_at: isoDate, ends_at: isoDate }).nullable().optional(),
  details: z.object({ totals: z.object({ subtotal: money, grand_total: money }) }),
});
const subscriptionData = z.object({
  id: z.string().min(1).max(255),
  status: z.string(),
  current_billing_period: z.object({ starts_at: isoDate, ends_at: isoDate }).nullable().optional(),
  scheduled_change: z.object({ action: z.string(), effective_at: isoDate }).nullable().optional(),
  canceled_at: isoDate.nullable().optional(),
});
const adjustmentData = z.object({
  id: z.string().min(1).max(255),
  action: z.string(),
  status: z.string(),
  transaction_id: z.string().min(1).max(255),
  currency_code: z.string().regex(/^[A-Z]{3}$/),
  totals: z.object({ subtotal: money, total: money }),
});

/** An event's data read with its type's schema; WebhookPayloadError when it does not fit. */
function read<T>(schema: z.ZodType<T>, envelope: PaddleEnvelope): T {
  const result = schema.safeParse(envelope.data);
  if (!result.success) throw new WebhookPayloadError(`malformed ${envelope.event_type} data`);
  return result.data;
}

/**
 * A completed transaction: a renewal when Paddle's subscription billing made it, else the
 * payment of the order named in its custom data (ignored without one).
 */
function fromTransaction(
  eventId: string,
  type: string,
  t: z.infer<typeof transactionData>,
): ProviderEvent {
  const period: ProviderPeriod | undefined =
    t.subscription_id && t.billing_period
      ? {
          providerSubscriptionId: t.subscription_id,
          periodStart: t.billing_period.starts_at,
          periodEnd: t.billing_period.ends_at,
        }
      : undefined;
  const amountMinor = Number(t.details.totals.subtotal);
  if (t.origin === 'subscription_recurring' && period) {
    return {
      kind: 'subscription.renewed',
      eventId,
      transactionId: t.id,
      amountMinor,
      currency: t.currency_code,
      ...period,
    };
  }
  const orderId = t.custom_data?.['order_id'];
  if (typeof orderId !== 'string') return { kind: 'ignored', eventId, type };
  return {
    kind: 'checkout.completed',
    eventId,
    orderId,
    checkoutId: t.id,
    transactionId: t.id,
    amountMinor,
    currency: t.currency_code,
    ...(period ? { subscription: period } : {}),
  } satisfies ProviderEvent;
}

/** A subscription ended now (Paddle has no cancellation that is not at once or scheduled). */
function cancelledNow(eventId: string, s: z.infer<typeof subscriptionData>): ProviderEvent {
  return {
    kind: 'subscription.cancelled',
    eventId,
    providerSubscriptionId: s.id,
    cancelAtPeriodEnd: false,
    endsAt: s.canceled_at ?? new Date(),
  };
}

/** An update that matters to Tally: past due, cancelled, or a cancellation scheduled. */
function fromSubscriptionUpdate(
  eventId: string,
  type: string,
  s: z.infer<typeof subscriptionData>,
): ProviderEvent {
  if (s.status === 'past_due') {
    return { kind: 'subscription.past_due', eventId, providerSubscriptionId: s.id };
  }
  if (s.status === 'canceled') return cancelledNow(eventId, s);
  if (s.scheduled_change?.action === 'cancel') {
    return {
      kind: 'subscription.cancelled',
      eventId,
      providerSubscriptionId: s.id,
      cancelAtPeriodEnd: true,
      endsAt: s.scheduled_change.effective_at,
    };
  }
  return { kind: 'ignored', eventId, type };
}

/** An approved refund adjustment; other adjustments are ignored. */
function fromAdjustment(
  eventId: string,
  type: string,
  a: z.infer<typeof adjustmentData>,
): ProviderEvent {
  if (a.action !== 'refund' || a.status !== 'approved') return { kind: 'ignored', eventId, type };
  return {
    kind: 'refund',
    eventId,
    refundId: a.id,
    transactionId: a.transaction_id,
    amountMinor: Number(a.totals.subtotal),
    currency: a.currency_code,
  };
}

/** A checked Paddle event as Tally's event (without its date: see parseStoredEvent). */
export function normalisePaddleEvent(envelope: PaddleEnvelope): ProviderEvent {
  const { event_id: eventId, event_type: type } = envelope;
  switch (type) {
    case 'transaction.completed':
      return fromTransaction(eventId, type, read(transactionData, envelope));
    case 'subscription.past_due':
      return {
        kind: 'subscription.past_due',
        eventId,
        providerSubscriptionId: read(subscriptionData, envelope).id,
      };
    case 'subscription.canceled':
      return cancelledNow(eventId, read(subscriptionData, envelope));
    case 'subscription.updated':
      return fromSubscriptionUpdate(eventId, type, read(subscriptionData, envelope));
    case 'adjustment.created':
    case 'adjustment.updated':
      return fromAdjustment(eventId, type, read(adjustmentData, envelope));
    default:
      // subscription.created and the rest: the transaction.completed that starts a
      // subscription carries everything Tally needs.
      return { kind: 'ignored', eventId, type };
  }
}

/**
 * What is stored of a Paddle event: its envelope and data minus the customer's personal
 * details (Paddle includes addresses, emails and card details on some events).
 */
export function sanitise(event: PaddleEnvelope): unknown {
  const drop = new Set(['customer', 'address', 'business', 'billing_details', 'payments', 'email']);
  const clean = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(clean);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([key]) => !drop.has(key))
          .map(([key, v]) => [key, clean(v)]),
      );
    }
    return value;
  };
  return clean(event);
}

import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { MockPayment, MockRenewal } from '../../entities';
import type { Logger } from '../../observability';
import { hmacHex, verifyTimestampedSignature } from '../signature';
import {
  WebhookPayloadError,
  type CheckoutRequest,
  type CheckoutSession,
  type ParsedWebhook,
  type PaymentProvider,
  type PaymentVerification,
  type ProviderEvent,
} from '../types';

/** Seconds either side of `t` within which a Mock-Signature is accepted. */
export const MOCK_SIGNATURE_TOLERANCE_SECONDS = 300;
export const MOCK_SIGNATURE_HEADER = 'mock-signature';

/** A refusal of a dashboard action, as a real provider would refuse it. */
export class MockProviderRefusal extends Error {
  override readonly name = 'MockProviderRefusal';
  constructor(
    message: string,
    readonly status: 404 | 409 | 400,
  ) {
    super(message);
  }
}

export interface MockProviderOptions {
  dataSource: DataSource;
  webhookSecret: string;
  /** The base URL browsers reach this server at (checkout pages, the redirect back). */
  publicUrl: () => string;
  /** Where webhooks are delivered: this server's own callback route. */
  webhookUrl: () => string;
  logger: Logger;
}

/** A webhook as the mock sends it. */
export interface MockEvent {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const MONTH_MS = 30 * 24 * 3600 * 1000;

/** Signs a body as the mock provider does: `t=<unix>,v1=<hex HMAC(secret, t + "." + body)>`. */
export function mockSignature(secret: string, body: string, at = Date.now()): string {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${hmacHex(secret, `${t}.${body}`)}`;
}

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const mockEventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(100),
  created_at: z.string().max(64),
  data: z.record(z.string(), z.unknown()),
});
/** Amounts fit PostgreSQL's integer columns: a larger one is a malformed event, not a 500. */
const minorUnits = z.number().int().positive().max(2_147_483_647);
/** A period ends after it starts (a CHECK of the database too): a malformed event otherwise. */
// zod runs this even when a field failed to parse (then it is no Date): that case is refused
// by the field's own check.
const periodOrdered = (d: { period_start?: unknown; period_end?: unknown }) =>
  !(d.period_start instanceof Date && d.period_end instanceof Date) ||
  d.period_end.getTime() > d.period_start.getTime();

const dataSchemas = {
  'checkout.completed': z
    .object({
      checkout_id: z.string().min(1).max(64),
      order_id: z.uuid(),
      transaction_id: z.string().min(1).max(64),
      amount: minorUnits,
      currency: z.string().regex(/^[A-Z]{3}$/),
      subscription_id: z.string().min(1).max(64).optional(),
      period_start: isoDate.optional(),
      period_end: isoDate.optional(),
    })
    .refine(periodOrdered),
  'checkout.cancelled': z.object({
    checkout_id: z.string().min(1).max(64),
    order_id: z.uuid(),
  }),
  'subscription.renewed': z
    .object({
      subscription_id: z.string().min(1).max(64),
      transaction_id: z.string().min(1).max(64),
      period_start: isoDate,
      period_end: isoDate,
      amount: minorUnits.optional(),
      currency: z
        .string()
        .regex(/^[A-Z]{3}$/)
        .optional(),
    })
    .refine(periodOrdered),
  'subscription.past_due': z.object({ subscription_id: z.string().min(1).max(64) }),
  'subscription.cancelled': z.object({
    subscription_id: z.string().min(1).max(64),
    cancel_at_period_end: z.boolean(),
    ends_at: isoDate,
  }),
  'refund.created': z.object({
    refund_id: z.string().min(1).max(64),
    transaction_id: z.string().min(1).max(64),
    amount: minorUnits,
    currency: z.string().regex(/^[A-Z]{3}$/),
  }),
} as const;

/** What a refund of `payment` takes: all that is left by default, never more; as a provider refuses. */
function refundAmount(
  payment: { amountMinor: number; refundedMinor: number },
  requested: number | undefined,
): number {
  const left = payment.amountMinor - payment.refundedMinor;
  if (left === 0) throw new MockProviderRefusal('Payment already refunded', 409);
  const amount = requested ?? left;
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new MockProviderRefusal('amount must be a positive integer', 400);
  }
  if (amount > left) {
    throw new MockProviderRefusal(`amount exceeds the ${left} left to refund`, 409);
  }
  return amount;
}

/**
 * A hosted payment provider that runs inside Tally, for development and tests: checkout
 * pages with Pay and Cancel, signed webhooks over real HTTP, and the dashboard's actions
 * (refund, renew, past due, cancel). Its state is in the database, so a restart loses
 * nothing. config refuses it when NODE_ENV=production.
 */
export class MockProvider implements PaymentProvider {
  readonly name = 'mock' as const;

  constructor(private readonly options: MockProviderOptions) {}

  async createCheckout(request: CheckoutRequest): Promise<CheckoutSession> {
    const checkoutId = id('mck');
    await this.options.dataSource.getRepository(MockPayment).insert({
      checkoutId,
      orderId: request.orderId,
      productName: request.product.name,
      recurring: request.product.kind === 'SUBSCRIPTION',
      amountMinor: request.product.priceMinor,
      currency: request.product.currency,
    });
    return { checkoutId, url: `${this.options.publicUrl()}/mock-checkout/${checkoutId}` };
  }

  async verifyPayment(checkoutId: string): Promise<PaymentVerification> {
    const row = await this.find(checkoutId);
    if (!row) return { status: 'failed' };
    if (row.status === 'OPEN') return { status: 'pending' };
    if (row.status === 'CANCELLED') return { status: 'cancelled' };
    return {
      status: 'paid',
      transactionId: row.transactionId!,
      amountMinor: row.amountMinor,
      currency: row.currency,
      ...(row.subscriptionId
        ? {
            subscription: {
              providerSubscriptionId: row.subscriptionId,
              periodStart: row.periodStart!,
              periodEnd: row.periodEnd!,
            },
          }
        : {}),
    };
  }

  parseWebhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): ParsedWebhook {
    verifyTimestampedSignature(
      headers[MOCK_SIGNATURE_HEADER],
      rawBody,
      this.options.webhookSecret,
      {
        separator: ',',
        timestampKey: 't',
        digestKey: 'v1',
        joiner: '.',
        toleranceSeconds: MOCK_SIGNATURE_TOLERANCE_SECONDS,
      },
    );
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new WebhookPayloadError('body is not JSON');
    }
    const envelope = mockEventSchema.safeParse(json);
    if (!envelope.success) throw new WebhookPayloadError('not a mock provider event');
    return {
      event: this.normalise(envelope.data),
      type: envelope.data.type,
      payload: envelope.data,
    };
  }

  parseStoredEvent(payload: unknown): ProviderEvent {
    const envelope = mockEventSchema.safeParse(payload);
    if (!envelope.success) throw new WebhookPayloadError('not a mock provider event');
    return this.normalise(envelope.data);
  }

  async cancelSubscription(providerSubscriptionId: string, atPeriodEnd: boolean): Promise<void> {
    const row = await this.options.dataSource
      .getRepository(MockPayment)
      .findOneBy({ subscriptionId: providerSubscriptionId });
    if (!row) throw new MockProviderRefusal('No such subscription', 404);
    await this.cancelSubscriptionOf(row.checkoutId, atPeriodEnd);
  }

  // ---- the dashboard and the clock: each sends its webhook and returns it ----

  /** The customer pays. With `sendWebhook: false` the delivery is lost. */
  async pay(checkoutId: string, options: { sendWebhook?: boolean } = {}): Promise<MockEvent> {
    const row = await this.require(checkoutId);
    const start = new Date();
    const paid = await this.options.dataSource.query(
      `UPDATE mock_payments SET status = 'PAID', transaction_id = $2, subscription_id = $3,
         subscription_status = $4, period_start = $5, period_end = $6, updated_at = now()
       WHERE checkout_id = $1 AND status = 'OPEN' RETURNING checkout_id`,
      [
        checkoutId,
        id('txn'),
        row.recurring ? id('sub') : null,
        row.recurring ? 'ACTIVE' : null,
        row.recurring ? start : null,
        row.recurring ? new Date(start.getTime() + MONTH_MS) : null,
      ],
    );
    if ((paid as [unknown[], number])[1] === 0) {
      throw new MockProviderRefusal(`Checkout is ${row.status.toLowerCase()}, not open`, 409);
    }
    const now = (await this.require(checkoutId))!;
    const event = this.event('checkout.completed', {
      checkout_id: now.checkoutId,
      order_id: now.orderId,
      transaction_id: now.transactionId,
      amount: now.amountMinor,
      currency: now.currency,
      ...(now.subscriptionId
        ? {
            subscription_id: now.subscriptionId,
            period_start: now.periodStart!.toISOString(),
            period_end: now.periodEnd!.toISOString(),
          }
        : {}),
    });
    if (options.sendWebhook !== false) await this.deliver(event);
    return event;
  }

  /** The customer gives up on the checkout page. */
  async cancel(checkoutId: string): Promise<MockEvent> {
    const row = await this.require(checkoutId);
    const result = (await this.options.dataSource.query(
      `UPDATE mock_payments SET status = 'CANCELLED', updated_at = now()
       WHERE checkout_id = $1 AND status = 'OPEN' RETURNING checkout_id`,
      [checkoutId],
    )) as [unknown[], number];
    if (result[1] === 0) {
      throw new MockProviderRefusal(`Checkout is ${row.status.toLowerCase()}, not open`, 409);
    }
    const event = this.event('checkout.cancelled', {
      checkout_id: row.checkoutId,
      order_id: row.orderId,
    });
    await this.deliver(event);
    return event;
  }

  /**
   * A refund from the dashboard: all of what is left by default, never more. Of the
   * checkout's first payment, or of one of its renewals when `transactionId` names one.
   */
  async refund(
    checkoutId: string,
    amountMinor?: number,
    transactionId?: string,
  ): Promise<MockEvent> {
    const row = await this.require(checkoutId);
    if (row.status !== 'PAID') throw new MockProviderRefusal('Checkout is not paid', 409);
    if (transactionId !== undefined && transactionId !== row.transactionId) {
      return this.refundRenewal(row, transactionId, amountMinor);
    }
    const amount = refundAmount(row, amountMinor);
    const result = (await this.options.dataSource.query(
      `UPDATE mock_payments SET refunded_minor = refunded_minor + $2, updated_at = now()
       WHERE checkout_id = $1 AND refunded_minor + $2 <= amount_minor RETURNING checkout_id`,
      [checkoutId, amount],
    )) as [unknown[], number];
    if (result[1] === 0) throw new MockProviderRefusal('Refund exceeds the payment', 409);
    const event = this.event('refund.created', {
      refund_id: id('ref'),
      transaction_id: row.transactionId,
      amount,
      currency: row.currency,
    });
    await this.deliver(event);
    return event;
  }

  private async refundRenewal(
    row: MockPayment,
    transactionId: string,
    amountMinor: number | undefined,
  ): Promise<MockEvent> {
    const renewal = await this.options.dataSource
      .getRepository(MockRenewal)
      .findOneBy({ transactionId, checkoutId: row.checkoutId });
    if (!renewal) throw new MockProviderRefusal('No such payment of this checkout', 404);
    const amount = refundAmount(renewal, amountMinor);
    const result = (await this.options.dataSource.query(
      `UPDATE mock_renewals SET refunded_minor = refunded_minor + $2
       WHERE transaction_id = $1 AND refunded_minor + $2 <= amount_minor RETURNING transaction_id`,
      [transactionId, amount],
    )) as [unknown[], number];
    if (result[1] === 0) throw new MockProviderRefusal('Refund exceeds the payment', 409);
    const event = this.event('refund.created', {
      refund_id: id('ref'),
      transaction_id: transactionId,
      amount,
      currency: renewal.currency,
    });
    await this.deliver(event);
    return event;
  }

  /** The clock reaches the end of the period: the next one is charged. */
  async renew(checkoutId: string): Promise<MockEvent> {
    const row = await this.requireSubscription(checkoutId);
    const start = row.periodEnd!;
    const end = new Date(start.getTime() + MONTH_MS);
    await this.options.dataSource.query(
      `UPDATE mock_payments SET period_start = $2, period_end = $3, subscription_status = 'ACTIVE',
         updated_at = now() WHERE checkout_id = $1`,
      [checkoutId, start, end],
    );
    const transactionId = id('txn');
    await this.options.dataSource.getRepository(MockRenewal).insert({
      transactionId,
      checkoutId,
      amountMinor: row.amountMinor,
      currency: row.currency,
    });
    const event = this.event('subscription.renewed', {
      subscription_id: row.subscriptionId,
      transaction_id: transactionId,
      period_start: start.toISOString(),
      period_end: end.toISOString(),
      amount: row.amountMinor,
      currency: row.currency,
    });
    await this.deliver(event);
    return event;
  }

  /** A renewal charge failed. */
  async pastDue(checkoutId: string): Promise<MockEvent> {
    const row = await this.requireSubscription(checkoutId);
    await this.options.dataSource.query(
      `UPDATE mock_payments SET subscription_status = 'PAST_DUE', updated_at = now()
       WHERE checkout_id = $1`,
      [checkoutId],
    );
    const event = this.event('subscription.past_due', { subscription_id: row.subscriptionId });
    await this.deliver(event);
    return event;
  }

  /** Cancels the subscription now or at the end of its period. */
  async cancelSubscriptionOf(checkoutId: string, atPeriodEnd = true): Promise<MockEvent> {
    const row = await this.requireSubscription(checkoutId);
    const endsAt = atPeriodEnd ? row.periodEnd! : new Date();
    await this.options.dataSource.query(
      `UPDATE mock_payments SET subscription_status = CASE WHEN $2 THEN subscription_status ELSE 'CANCELLED' END,
         updated_at = now() WHERE checkout_id = $1`,
      [checkoutId, atPeriodEnd],
    );
    const event = this.event('subscription.cancelled', {
      subscription_id: row.subscriptionId,
      cancel_at_period_end: atPeriodEnd,
      ends_at: endsAt.toISOString(),
    });
    await this.deliver(event);
    return event;
  }

  async find(checkoutId: string): Promise<MockPayment | null> {
    if (!/^mck_[0-9a-f]{24}$/.test(checkoutId)) return null;
    return this.options.dataSource.getRepository(MockPayment).findOneBy({ checkoutId });
  }

  private async require(checkoutId: string): Promise<MockPayment> {
    const row = await this.find(checkoutId);
    if (!row) throw new MockProviderRefusal('No such checkout', 404);
    return row;
  }

  private async requireSubscription(checkoutId: string): Promise<MockPayment> {
    const row = await this.require(checkoutId);
    if (!row.subscriptionId || row.status !== 'PAID') {
      throw new MockProviderRefusal('No active subscription for this checkout', 409);
    }
    return row;
  }

  private event(type: string, data: Record<string, unknown>): MockEvent {
    return { id: id('evt'), type, created_at: new Date().toISOString(), data };
  }

  /**
   * Posts a signed webhook to this server. Like a real provider it retries a failed delivery
   * a few times, later, in the background; the first attempt is awaited.
   */
  private async deliver(event: MockEvent, attempt = 1): Promise<void> {
    const body = JSON.stringify(event);
    let status = 0;
    try {
      const res = await fetch(this.options.webhookUrl(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [MOCK_SIGNATURE_HEADER]: mockSignature(this.options.webhookSecret, body),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      await res.arrayBuffer();
    } catch (error) {
      this.options.logger.warn({ err: error, eventId: event.id }, 'mock webhook delivery failed');
    }
    if (status >= 200 && status < 300) return;
    if (attempt < 4) {
      setTimeout(() => void this.deliver(event, attempt + 1), 500 * 2 ** attempt).unref();
    }
  }

  private normalise(envelope: z.infer<typeof mockEventSchema>): ProviderEvent {
    const at = new Date(envelope.created_at);
    const occurredAt = Number.isNaN(at.getTime()) ? undefined : at;
    const event = this.normaliseData(envelope.id, envelope.type, envelope.data);
    return occurredAt ? { ...event, occurredAt } : event;
  }

  private normaliseData(
    eventId: string,
    type: string,
    data: Record<string, unknown>,
  ): ProviderEvent {
    // Own keys only: `toString` or `__proto__` is an unknown type, not a prototype's member.
    if (!Object.hasOwn(dataSchemas, type)) return { kind: 'ignored', eventId, type };
    const parsed = dataSchemas[type as keyof typeof dataSchemas].safeParse(data);
    if (!parsed.success) throw new WebhookPayloadError(`malformed ${type} data`);
    const d = parsed.data as Record<string, unknown>;
    switch (type) {
      case 'checkout.completed': {
        const c = d as z.infer<(typeof dataSchemas)['checkout.completed']>;
        return {
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
        };
      }
      case 'checkout.cancelled': {
        const c = d as z.infer<(typeof dataSchemas)['checkout.cancelled']>;
        return {
          kind: 'checkout.cancelled',
          eventId,
          orderId: c.order_id,
          checkoutId: c.checkout_id,
        };
      }
      case 'subscription.renewed': {
        const r = d as z.infer<(typeof dataSchemas)['subscription.renewed']>;
        return {
          kind: 'subscription.renewed',
          eventId,
          providerSubscriptionId: r.subscription_id,
          transactionId: r.transaction_id,
          periodStart: r.period_start,
          periodEnd: r.period_end,
          ...(r.amount !== undefined && r.currency !== undefined
            ? { amountMinor: r.amount, currency: r.currency }
            : {}),
        };
      }
      case 'subscription.past_due': {
        const p = d as z.infer<(typeof dataSchemas)['subscription.past_due']>;
        return {
          kind: 'subscription.past_due',
          eventId,
          providerSubscriptionId: p.subscription_id,
        };
      }
      case 'subscription.cancelled': {
        const c = d as z.infer<(typeof dataSchemas)['subscription.cancelled']>;
        return {
          kind: 'subscription.cancelled',
          eventId,
          providerSubscriptionId: c.subscription_id,
          cancelAtPeriodEnd: c.cancel_at_period_end,
          endsAt: c.ends_at,
        };
      }
      default: {
        const r = d as z.infer<(typeof dataSchemas)['refund.created']>;
        return {
          kind: 'refund',
          eventId,
          refundId: r.refund_id,
          transactionId: r.transaction_id,
          amountMinor: r.amount,
          currency: r.currency,
        };
      }
    }
  }
}

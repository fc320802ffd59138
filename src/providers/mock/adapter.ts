import type { MockPayment } from '../../entities';
import { verifyTimestampedSignature } from '../signature';
import {
  WebhookPayloadError,
  type CheckoutRequest,
  type CheckoutSession,
  type ParsedWebhook,
  type PaymentProvider,
  type PaymentVerification,
  type ProviderEvent,
  type ProviderRoute,
} from '../types';
import { normaliseMockEvent, readMockEnvelope } from './events';
import { MOCK_CHECKOUT_PATH, MockFake, MockProviderRefusal, type MockFakeOptions } from './fake';
import { MOCK_SIGNATURE_HEADER, MOCK_SIGNATURE_TOLERANCE_SECONDS } from './wire';

export type MockProviderOptions = MockFakeOptions;

/** What the fake's record of a checkout says of its payment, in the port's terms. */
function verificationOf(row: MockPayment | null): PaymentVerification {
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

/**
 * The mock provider behind Tally's provider port: it translates between the port and the
 * fake provider backend (./fake), which plays the hosted provider: checkout pages, payments,
 * subscriptions, signed webhooks. config refuses it when NODE_ENV=production.
 */
export class MockProvider implements PaymentProvider {
  readonly name = 'mock' as const;
  /** The provider's side, which tests drive as a provider's dashboard and clock. */
  readonly fake: MockFake;
  private readonly webhookSecret: string;

  /** The fake's webhook retries wait for `fake.start()` (createPaymentProvider calls it). */
  constructor(options: MockProviderOptions) {
    this.fake = new MockFake(options);
    this.webhookSecret = options.webhookSecret;
  }

  async createCheckout(request: CheckoutRequest): Promise<CheckoutSession> {
    return this.fake.store.open({
      orderId: request.orderId,
      productName: request.product.name,
      recurring: request.product.kind === 'SUBSCRIPTION',
      amountMinor: request.product.priceMinor,
      currency: request.product.currency,
    });
  }

  async verifyPayment(checkoutId: string): Promise<PaymentVerification> {
    return verificationOf(await this.fake.store.find(checkoutId));
  }

  parseWebhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): ParsedWebhook {
    verifyTimestampedSignature(headers[MOCK_SIGNATURE_HEADER], rawBody, this.webhookSecret, {
      separator: ',',
      timestampKey: 't',
      digestKey: 'v1',
      joiner: '.',
      toleranceSeconds: MOCK_SIGNATURE_TOLERANCE_SECONDS,
    });
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new WebhookPayloadError('body is not JSON');
    }
    const envelope = readMockEnvelope(json);
    return { event: normaliseMockEvent(envelope), type: envelope.type, payload: envelope };
  }

  parseStoredEvent(payload: unknown): ProviderEvent {
    return normaliseMockEvent(readMockEnvelope(payload));
  }

  async cancelSubscription(providerSubscriptionId: string, atPeriodEnd: boolean): Promise<void> {
    const row = await this.fake.store.findBySubscription(providerSubscriptionId);
    if (!row) throw new MockProviderRefusal('No such subscription', 404);
    await this.fake.dashboard.cancelSubscription(row.checkoutId, atPeriodEnd);
  }

  /** The fake's checkout pages and dashboard routes. */
  routes(): ProviderRoute[] {
    return [{ path: MOCK_CHECKOUT_PATH, router: this.fake.router() }];
  }

  /** Stops the fake's webhook retries. */
  async close(): Promise<void> {
    await this.fake.stop();
  }
}

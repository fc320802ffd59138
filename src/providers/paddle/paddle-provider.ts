import { Environment, Paddle } from '@paddle/paddle-node-sdk';
import type { Logger } from '../../observability';
import { verifyTimestampedSignature } from '../signature';
import {
  WebhookPayloadError,
  type CheckoutRequest,
  type CheckoutSession,
  type ParsedWebhook,
  type PaymentProvider,
  type PaymentStatus,
  type PaymentVerification,
  type ProviderEvent,
  type ProviderRoute,
} from '../types';
import { normalisePaddleEvent, paddleEnvelope, sanitise } from './events';
import { paddleCheckoutRoutes } from './routes';

export const PADDLE_SIGNATURE_HEADER = 'paddle-signature';
/** Where Tally serves the page that opens Paddle.js on a transaction. */
export const PADDLE_CHECKOUT_PATH = '/paddle-checkout';
/**
 * Seconds either side of `ts` within which a Paddle-Signature is accepted. Paddle's own SDK
 * allows 5; deliveries queued behind a slow consumer need more, and a replayed body still
 * cannot be re-signed without the secret.
 */
export const PADDLE_SIGNATURE_TOLERANCE_SECONDS = 60;
/** How long one Paddle API call may take (by default) before it fails: PROVIDER_ERROR. */
const CALL_TIMEOUT_MS = 10_000;

export interface PaddleProviderOptions {
  apiKey: string;
  webhookSecret: string;
  /** Paddle price id by catalog product id. */
  priceIds: Record<string, string>;
  /** Base URL of the Paddle API (sandbox, production, or a fake in tests). */
  apiUrl: string;
  /** Where Tally serves the Paddle.js checkout page (`…/paddle-checkout`). */
  publicUrl: () => string;
  /** Paddle.js's client-side token for that page; without it the page answers 503. */
  clientToken?: string | undefined;
  /** Paddle.js in the sandbox; default: unless apiUrl is Paddle's production API. */
  sandbox?: boolean;
  logger: Logger;
  /** Milliseconds one API call may take; default 10 s. */
  timeoutMs?: number;
}

/** Paddle's transaction statuses, as Tally reads them. */
function paymentStatusOf(status: string): PaymentStatus {
  if (status === 'completed' || status === 'paid') return 'paid';
  if (status === 'canceled') return 'cancelled';
  if (status === 'past_due') return 'failed';
  return 'pending'; // draft, ready, billed
}

async function withTimeout<T>(what: string, call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Paddle ${what} timed out`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Paddle Billing through its official SDK. A checkout is a Paddle transaction carrying the
 * order id in custom data; the buyer pays on Tally's own page, which opens Paddle.js on that
 * transaction (`/paddle-checkout?_ptxn=…`: set it as the default payment link in Paddle).
 * Amounts are compared before tax: Paddle's prices must equal the catalog's, tax-exclusive.
 */
export class PaddleProvider implements PaymentProvider {
  readonly name = 'paddle' as const;
  private readonly paddle: Paddle;
  private readonly timeoutMs: number;

  constructor(private readonly options: PaddleProviderOptions) {
    // The SDK takes a base URL where an environment name goes: the fake API in tests.
    const environment =
      options.apiUrl === 'https://api.paddle.com'
        ? Environment.production
        : options.apiUrl === 'https://sandbox-api.paddle.com'
          ? Environment.sandbox
          : (options.apiUrl as Environment);
    this.paddle = new Paddle(options.apiKey, { environment });
    this.timeoutMs = options.timeoutMs ?? CALL_TIMEOUT_MS;
  }

  async createCheckout(request: CheckoutRequest): Promise<CheckoutSession> {
    const priceId = this.options.priceIds[request.product.id];
    if (!priceId) throw new Error(`no Paddle price for product ${request.product.id}`);
    const transaction = await withTimeout(
      'transactions.create',
      this.paddle.transactions.create({
        items: [{ priceId, quantity: 1 }],
        customData: { order_id: request.orderId, user_id: request.userId },
      }),
      this.timeoutMs,
    );
    const url = new URL(PADDLE_CHECKOUT_PATH, this.options.publicUrl());
    url.searchParams.set('_ptxn', transaction.id);
    return { checkoutId: transaction.id, url: url.toString() };
  }

  async verifyPayment(checkoutId: string): Promise<PaymentVerification> {
    const transaction = await withTimeout(
      'transactions.get',
      this.paddle.transactions.get(checkoutId),
      this.timeoutMs,
    );
    const status = paymentStatusOf(transaction.status);
    if (status !== 'paid') return { status };
    const period = transaction.billingPeriod;
    return {
      status,
      transactionId: transaction.id,
      amountMinor: Number(transaction.details?.totals?.subtotal ?? Number.NaN),
      currency: transaction.currencyCode,
      ...(transaction.subscriptionId && period
        ? {
            subscription: {
              providerSubscriptionId: transaction.subscriptionId,
              periodStart: new Date(period.startsAt),
              periodEnd: new Date(period.endsAt),
            },
          }
        : {}),
    };
  }

  parseWebhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): ParsedWebhook {
    // During a secret rotation Paddle sends one h1 per active secret: any may match.
    verifyTimestampedSignature(
      headers[PADDLE_SIGNATURE_HEADER],
      rawBody,
      this.options.webhookSecret,
      {
        separator: ';',
        timestampKey: 'ts',
        digestKey: 'h1',
        joiner: ':',
        toleranceSeconds: PADDLE_SIGNATURE_TOLERANCE_SECONDS,
      },
    );
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new WebhookPayloadError('body is not JSON');
    }
    const event = this.parseStoredEvent(json);
    const parsed = paddleEnvelope.parse(json);
    return { event, type: parsed.event_type, payload: sanitise(parsed) };
  }

  parseStoredEvent(payload: unknown): ProviderEvent {
    const parsedEnvelope = paddleEnvelope.safeParse(payload);
    if (!parsedEnvelope.success) throw new WebhookPayloadError('not a Paddle event');
    const event = normalisePaddleEvent(parsedEnvelope.data);
    const at = new Date(parsedEnvelope.data.occurred_at);
    return Number.isNaN(at.getTime()) ? event : { ...event, occurredAt: at };
  }

  async cancelSubscription(providerSubscriptionId: string, atPeriodEnd: boolean): Promise<void> {
    await withTimeout(
      'subscriptions.cancel',
      this.paddle.subscriptions.cancel(providerSubscriptionId, {
        effectiveFrom: atPeriodEnd ? 'next_billing_period' : 'immediately',
      }),
      this.timeoutMs,
    );
  }

  /** The page Paddle's checkout links open (set it as the default payment link in Paddle). */
  routes(): ProviderRoute[] {
    const router = paddleCheckoutRoutes({
      clientToken: this.options.clientToken,
      sandbox: this.options.sandbox ?? this.options.apiUrl !== 'https://api.paddle.com',
    });
    return [{ path: PADDLE_CHECKOUT_PATH, router }];
  }
}

/**
 * The payment provider port: what billing needs from a hosted-checkout provider, in Tally's
 * own terms. Each adapter (mock/, paddle/) translates to and from its vendor's API; vendor
 * types never leave the adapter.
 */
import type { RequestHandler } from 'express';

/** What a provider says about a checkout when asked directly (never from a query string). */
export type PaymentStatus = 'paid' | 'pending' | 'failed' | 'cancelled';

export interface CheckoutProduct {
  id: string;
  name: string;
  kind: 'CREDIT_PACK' | 'SUBSCRIPTION';
  priceMinor: number;
  currency: string;
  interval: 'MONTH' | 'YEAR' | null;
}

export interface CheckoutRequest {
  orderId: string;
  userId: string;
  product: CheckoutProduct;
}

export interface CheckoutSession {
  /** The provider's id for this checkout, stored on the order. */
  checkoutId: string;
  /** Where to send the user's browser. */
  url: string;
}

/** A subscription period as a provider reports it. */
export interface ProviderPeriod {
  providerSubscriptionId: string;
  periodStart: Date;
  periodEnd: Date;
}

export interface PaymentVerification {
  status: PaymentStatus;
  /** The provider's payment id, once paid. */
  transactionId?: string;
  amountMinor?: number;
  currency?: string;
  /** For a subscription checkout that is paid: its first period. */
  subscription?: ProviderPeriod;
}

/**
 * Webhook events, normalised. `eventId` is the provider's, unique per provider; `occurredAt`
 * is when the provider says it happened (events can arrive late and out of order).
 */
export type ProviderEvent = ProviderEventBody & { occurredAt?: Date };

type ProviderEventBody =
  | {
      kind: 'checkout.completed';
      eventId: string;
      orderId: string;
      checkoutId: string;
      transactionId: string;
      amountMinor: number;
      currency: string;
      subscription?: ProviderPeriod;
    }
  | { kind: 'checkout.cancelled'; eventId: string; orderId: string; checkoutId: string }
  | ({
      kind: 'subscription.renewed';
      eventId: string;
      /** The renewal's own payment: refunds name it. */
      transactionId: string;
      /** What the renewal charged; absent in events stored before it was carried. */
      amountMinor?: number;
      currency?: string;
    } & ProviderPeriod)
  | { kind: 'subscription.past_due'; eventId: string; providerSubscriptionId: string }
  | {
      kind: 'subscription.cancelled';
      eventId: string;
      providerSubscriptionId: string;
      cancelAtPeriodEnd: boolean;
      endsAt: Date;
    }
  | {
      kind: 'refund';
      eventId: string;
      refundId: string;
      transactionId: string;
      amountMinor: number;
      currency: string;
    }
  /** A well-formed, authentic event of a type Tally does not act on. */
  | { kind: 'ignored'; eventId: string; type: string };

/** A verified webhook: its normalised event and the payload to store (already sanitised). */
export interface ParsedWebhook {
  event: ProviderEvent;
  /** The provider's event type, as sent. */
  type: string;
  payload: unknown;
}

/** HTTP routes a provider serves on Tally's own server: a checkout page, a fake's dashboard. */
export interface ProviderRoute {
  /** Where they are mounted, e.g. `/paddle-checkout`. */
  path: string;
  router: RequestHandler;
}

export interface PaymentProvider {
  readonly name: 'mock' | 'paddle';
  /** Opens a hosted checkout for a pending order. PROVIDER_ERROR when the provider fails. */
  createCheckout(request: CheckoutRequest): Promise<CheckoutSession>;
  /** Asks the provider for the checkout's state. */
  verifyPayment(checkoutId: string): Promise<PaymentVerification>;
  /**
   * Checks the signature over the raw body (before anything else), then parses it.
   * Throws WebhookSignatureError or WebhookPayloadError.
   */
  parseWebhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): ParsedWebhook;
  /**
   * Re-reads an event stored after its signature was verified (for a replay): the same
   * normalisation as parseWebhook, without the signature. Throws WebhookPayloadError.
   */
  parseStoredEvent(payload: unknown): ProviderEvent;
  /** Cancels a subscription now or at the end of its period. */
  cancelSubscription(providerSubscriptionId: string, atPeriodEnd: boolean): Promise<void>;
  /** The routes it serves on Tally's server, mounted at their paths; none when absent. */
  routes?(): ProviderRoute[];
  /** Stops what it runs in the background (the mock's webhook retries); the server calls it on close. */
  close?(): Promise<void>;
}

/** The signature is missing, malformed, wrong or outside the time tolerance: 401. */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
}

/** The body is authentic but not a payload we can read: 400. */
export class WebhookPayloadError extends Error {
  override readonly name = 'WebhookPayloadError';
}

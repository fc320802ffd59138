import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Paddle Billing API (the real one cannot be reached from here):
 * the endpoints Tally's adapter calls, answering with Paddle's documented envelopes
 * (`{ data, meta }`, errors as `{ error: { type, code, detail } }`), plus the "dashboard"
 * that completes, renews, refunds and cancels, producing webhooks signed as Paddle signs
 * them (`Paddle-Signature: ts=…;h1=HMAC-SHA256(secret, ts + ":" + body)`).
 */
export interface FakePrice {
  amount: number;
  currency: string;
  recurring: boolean;
}

export interface Delivery {
  body: Buffer;
  headers: Record<string, string>;
}

interface FakeTransaction {
  id: string;
  status: string;
  origin: string;
  custom_data: Record<string, unknown> | null;
  currency_code: string;
  subscription_id: string | null;
  billing_period: { starts_at: string; ends_at: string } | null;
  amount: number;
  price_id: string;
  created_at: string;
}

const id = (prefix: string) => `${prefix}_${randomBytes(13).toString('hex')}`;
const MONTH_MS = 30 * 24 * 3600 * 1000;

export class FakePaddle {
  /** 'ok'; 'error' answers 500; 'hang' never answers (a timeout). */
  /** `echo`: refuses every call with an error that repeats the credentials it was sent. */
  mode: 'ok' | 'error' | 'hang' | 'echo' = 'ok';
  readonly requests: Array<{ method: string; path: string; body: unknown }> = [];
  private readonly transactions = new Map<string, FakeTransaction>();
  private readonly subscriptions = new Map<
    string,
    {
      status: string;
      scheduled_cancel: boolean;
      period: { starts_at: string; ends_at: string };
      price_id: string;
      custom_data: Record<string, unknown> | null;
    }
  >();
  private server!: Server;
  url = '';

  constructor(
    readonly apiKey: string,
    readonly webhookSecret: string,
    readonly prices: Record<string, FakePrice>,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Signs a body as Paddle does. */
  sign(body: string, at = Date.now(), secrets: string[] = [this.webhookSecret]): string {
    const ts = Math.floor(at / 1000);
    return [
      `ts=${ts}`,
      ...secrets.map((s) => `h1=${createHmac('sha256', s).update(`${ts}:${body}`).digest('hex')}`),
    ].join(';');
  }

  /** A signed webhook delivery of an event. */
  delivery(eventType: string, data: Record<string, unknown>, at?: number): Delivery {
    const body = JSON.stringify({
      event_id: id('evt'),
      event_type: eventType,
      occurred_at: new Date().toISOString(),
      notification_id: id('ntf'),
      data,
    });
    return {
      body: Buffer.from(body),
      headers: { 'content-type': 'application/json', 'paddle-signature': this.sign(body, at) },
    };
  }

  // ---- the dashboard and the clock ----

  /** The buyer pays: the transaction completes (and a subscription starts for a plan). */
  complete(transactionId: string): Delivery {
    const t = this.transactions.get(transactionId)!;
    t.status = 'completed';
    if (this.prices[t.price_id]!.recurring) {
      const start = new Date();
      t.billing_period = {
        starts_at: start.toISOString(),
        ends_at: new Date(start.getTime() + MONTH_MS).toISOString(),
      };
      t.subscription_id = id('sub');
      this.subscriptions.set(t.subscription_id, {
        status: 'active',
        scheduled_cancel: false,
        period: t.billing_period,
        price_id: t.price_id,
        custom_data: t.custom_data,
      });
    }
    return this.delivery('transaction.completed', this.transactionJson(t, true));
  }

  /** The next period is charged: a recurring transaction completes. */
  renew(subscriptionId: string): Delivery {
    const s = this.subscriptions.get(subscriptionId)!;
    const starts = new Date(s.period.ends_at);
    s.period = {
      starts_at: starts.toISOString(),
      ends_at: new Date(starts.getTime() + MONTH_MS).toISOString(),
    };
    const t: FakeTransaction = {
      id: id('txn'),
      status: 'completed',
      origin: 'subscription_recurring',
      custom_data: s.custom_data,
      currency_code: this.prices[s.price_id]!.currency,
      subscription_id: subscriptionId,
      billing_period: s.period,
      amount: this.prices[s.price_id]!.amount,
      price_id: s.price_id,
      created_at: new Date().toISOString(),
    };
    this.transactions.set(t.id, t);
    return this.delivery('transaction.completed', this.transactionJson(t, true));
  }

  refund(transactionId: string, amount?: number): Delivery {
    const t = this.transactions.get(transactionId)!;
    const value = String(amount ?? t.amount);
    return this.delivery('adjustment.created', {
      id: id('adj'),
      action: 'refund',
      status: 'approved',
      transaction_id: t.id,
      subscription_id: t.subscription_id,
      customer_id: 'ctm_fake',
      reason: 'requested by customer',
      currency_code: t.currency_code,
      totals: {
        subtotal: value,
        tax: '0',
        total: value,
        fee: '0',
        earnings: value,
        currency_code: t.currency_code,
      },
      items: [],
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
  }

  subscriptionEvent(
    subscriptionId: string,
    type: 'subscription.updated' | 'subscription.past_due' | 'subscription.canceled',
  ): Delivery {
    const s = this.subscriptions.get(subscriptionId)!;
    return this.delivery(type, this.subscriptionJson(subscriptionId, s));
  }

  subscriptionState(subscriptionId: string) {
    return this.subscriptions.get(subscriptionId);
  }

  // ---- the API ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body: unknown = raw ? JSON.parse(raw) : undefined;
    const path = (req.url ?? '/').split('?')[0]!;
    this.requests.push({ method: req.method ?? '', path, body });
    if (this.mode === 'hang') return; // never answers
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    const error = (status: number, code: string, detail: string) =>
      send(status, {
        error: {
          type: 'request_error',
          code,
          detail,
          documentation_url: 'https://developer.paddle.com',
        },
        meta: { request_id: id('req') },
      });
    if (this.mode === 'error') return error(500, 'internal_error', 'Something went wrong');
    if (this.mode === 'echo') {
      return error(400, 'bad_request', `rejected credentials: ${req.headers['authorization']}`);
    }
    if (req.headers['authorization'] !== `bearer ${this.apiKey}`) {
      return error(403, 'forbidden', 'You do not have permission');
    }
    let match: RegExpExecArray | null;
    if (req.method === 'POST' && path === '/transactions') {
      const b = body as {
        items?: Array<{ price_id?: string; quantity?: number }>;
        custom_data?: Record<string, unknown>;
      };
      const priceId = b.items?.[0]?.price_id;
      const price = priceId ? this.prices[priceId] : undefined;
      if (!price || b.items?.[0]?.quantity !== 1) return error(400, 'bad_request', 'Invalid items');
      const t: FakeTransaction = {
        id: id('txn'),
        status: 'ready',
        origin: 'api',
        custom_data: b.custom_data ?? null,
        currency_code: price.currency,
        subscription_id: null,
        billing_period: null,
        amount: price.amount,
        price_id: priceId!,
        created_at: new Date().toISOString(),
      };
      this.transactions.set(t.id, t);
      return send(201, { data: this.transactionJson(t, false), meta: { request_id: id('req') } });
    }
    if (req.method === 'GET' && (match = /^\/transactions\/([^/]+)$/.exec(path))) {
      const t = this.transactions.get(match[1]!);
      if (!t) return error(404, 'not_found', 'Transaction not found');
      return send(200, { data: this.transactionJson(t, false), meta: { request_id: id('req') } });
    }
    if (req.method === 'POST' && (match = /^\/subscriptions\/([^/]+)\/cancel$/.exec(path))) {
      const s = this.subscriptions.get(match[1]!);
      if (!s) return error(404, 'not_found', 'Subscription not found');
      const effective = (body as { effective_from?: string } | undefined)?.effective_from;
      if (effective === 'immediately') s.status = 'canceled';
      else s.scheduled_cancel = true;
      return send(200, {
        data: this.subscriptionJson(match[1]!, s),
        meta: { request_id: id('req') },
      });
    }
    return error(404, 'not_found', `No route ${req.method} ${path}`);
  }

  private transactionJson(t: FakeTransaction, withCustomer: boolean): Record<string, unknown> {
    const amount = String(t.amount);
    return {
      id: t.id,
      status: t.status,
      customer_id: withCustomer ? 'ctm_fake' : null,
      address_id: null,
      business_id: null,
      custom_data: t.custom_data,
      origin: t.origin,
      collection_mode: 'automatic',
      subscription_id: t.subscription_id,
      invoice_id: null,
      invoice_number: null,
      billing_details: null,
      billing_period: t.billing_period,
      currency_code: t.currency_code,
      discount_id: null,
      created_at: t.created_at,
      updated_at: new Date().toISOString(),
      billed_at: t.status === 'completed' ? new Date().toISOString() : null,
      items: [{ price_id: t.price_id, quantity: 1 }],
      details: {
        tax_rates_used: [],
        totals: {
          subtotal: amount,
          tax: '0',
          discount: '0',
          total: amount,
          grand_total: amount,
          fee: null,
          credit: '0',
          credit_to_balance: '0',
          balance: '0',
          earnings: null,
          currency_code: t.currency_code,
        },
        line_items: [],
      },
      payments: [],
      checkout: { url: null },
      ...(withCustomer ? { customer: { id: 'ctm_fake', email: 'buyer@example.com' } } : {}),
    };
  }

  private subscriptionJson(
    subscriptionId: string,
    s: {
      status: string;
      scheduled_cancel: boolean;
      period: { starts_at: string; ends_at: string };
      price_id: string;
      custom_data: Record<string, unknown> | null;
    },
  ): Record<string, unknown> {
    return {
      id: subscriptionId,
      status: s.status,
      customer_id: 'ctm_fake',
      address_id: 'add_fake',
      currency_code: this.prices[s.price_id]!.currency,
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      collection_mode: 'automatic',
      billing_cycle: { interval: 'month', frequency: 1 },
      current_billing_period: s.period,
      scheduled_change: s.scheduled_cancel
        ? { action: 'cancel', effective_at: s.period.ends_at, resume_at: null }
        : null,
      canceled_at: s.status === 'canceled' ? new Date().toISOString() : null,
      items: [],
      custom_data: s.custom_data,
    };
  }
}

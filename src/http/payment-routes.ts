import express, { type Request, type Response, type Router } from 'express';
import type { Billing, RedirectOutcome, WebhookOutcome } from '../billing';
import {
  HTTP_STATUS,
  isDatabaseUnavailable,
  isDomainError,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  type DomainCode,
} from '../errors';
import type { RateLimit } from '../ratelimit';

/** Largest webhook body accepted; providers' events are a few kilobytes. */
export const MAX_WEBHOOK_BYTES = 64 * 1024;

/** The error code each webhook outcome answers with; its status is errors/'s one table. */
const WEBHOOK_CODE: Readonly<Record<WebhookOutcome['kind'], DomainCode | null>> = {
  applied: null,
  duplicate: null,
  ignored: null,
  bad_signature: 'UNAUTHENTICATED',
  bad_payload: 'BAD_USER_INPUT',
  failed: 'INTERNAL_SERVER_ERROR',
  unavailable: 'SERVICE_UNAVAILABLE',
};

/** A webhook outcome as metric labels: the event kind, the outcome, the condition's code. */
export function webhookMetricLabels(outcome: WebhookOutcome): {
  kind: string;
  outcome: 'processed' | 'duplicate' | 'ignored' | 'failed' | 'rejected';
  code?: string | undefined;
} {
  if (outcome.kind === 'bad_signature' || outcome.kind === 'bad_payload') {
    return { kind: 'unknown', outcome: 'rejected' };
  }
  const kind = outcome.eventKind;
  switch (outcome.kind) {
    case 'applied':
      return { kind, outcome: 'processed' };
    case 'duplicate':
      return { kind, outcome: 'duplicate' };
    case 'ignored':
      return { kind, outcome: 'ignored', code: outcome.code };
    case 'failed':
      return { kind, outcome: 'failed', code: outcome.code };
    case 'unavailable':
      return { kind, outcome: 'failed', code: 'SERVICE_UNAVAILABLE' };
  }
}

/** What the payment routes tell the outside (metrics). */
export interface PaymentRouteHooks {
  /** A webhook delivery was answered: its event kind, its outcome, how long it took. */
  webhookHandled?: (outcome: WebhookOutcome, seconds: number) => void;
}

/** A webhook outcome as an HTTP answer: status, JSON body, and Retry-After when asked. */
function webhookResponse(outcome: WebhookOutcome): {
  status: number;
  body: Record<string, unknown>;
  retryAfterSeconds?: number;
} {
  const code = WEBHOOK_CODE[outcome.kind];
  const status = code ? HTTP_STATUS[code] : 200;
  switch (outcome.kind) {
    case 'bad_signature':
      return { status, body: { error: 'invalid signature' } };
    case 'bad_payload':
      return { status, body: { error: outcome.reason } };
    case 'failed':
      return {
        status,
        body: { error: 'event not applied', code: outcome.code, retry: outcome.retry },
      };
    case 'unavailable':
      return {
        status,
        body: { error: 'database unavailable; retry' },
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      };
    case 'duplicate':
      return { status, body: { received: true, duplicate: true, status: outcome.status } };
    case 'ignored':
      return { status, body: { received: true, duplicate: false, status: 'IGNORED' } };
    case 'applied':
      return { status, body: { received: true, duplicate: false, status: 'PROCESSED' } };
  }
}

/** Where the browser goes after its redirect back: the provider's word, else what it asked. */
function redirectTarget(
  outcome: RedirectOutcome,
  urls: { successUrl: string; cancelUrl: string },
): string {
  const settledAs =
    outcome.kind === 'paid' ? 'success' : outcome.kind === 'cancelled' ? 'cancel' : outcome.asked;
  const url = new URL(settledAs === 'success' ? urls.successUrl : urls.cancelUrl);
  url.searchParams.set('order_id', outcome.orderId);
  return url.toString();
}

function page(res: Response, status: number, title: string, text: string): void {
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
        `<body style="font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto"><h1>${escape(title)}</h1><p>${escape(text)}</p></body></html>`,
    );
}

/** Counts one request against its client IP; false (429 sent) when over the limit. */
async function withinLimit(req: Request, res: Response, limit?: RateLimit): Promise<boolean> {
  try {
    await limit?.consume(req.ip ?? 'unknown');
    return true;
  } catch (error) {
    if (isDomainError(error) && error.code === 'RATE_LIMITED') {
      res
        .status(HTTP_STATUS.RATE_LIMITED)
        .set('Retry-After', String(error.retryAfterSeconds ?? 60))
        .json({ error: error.message, retryAfter: error.retryAfterSeconds });
      return false;
    }
    throw error;
  }
}

/** The redirect's failures as pages: the user's own errors, the provider's, the database's. */
function redirectFailure(res: Response, error: unknown): void {
  if (
    isDomainError(error) &&
    ['BAD_USER_INPUT', 'NOT_FOUND', 'PROVIDER_ERROR'].includes(error.code)
  ) {
    page(res, HTTP_STATUS[error.code], 'Payment', error.message);
    return;
  }
  if (isDatabaseUnavailable(error)) {
    res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    page(
      res,
      HTTP_STATUS.SERVICE_UNAVAILABLE,
      'Payment',
      'We could not check your payment just now. Reload in a moment.',
    );
    return;
  }
  throw error;
}

/**
 * `/api/payment/callback`: GET is the user's redirect back from the hosted checkout, POST the
 * provider's webhooks (raw body: the signature covers its exact bytes). The one place
 * billing's outcomes become statuses and redirects.
 */
export function paymentRoutes(options: {
  billing: Billing;
  urls: { successUrl: string; cancelUrl: string };
  limit?: RateLimit | undefined;
  hooks?: PaymentRouteHooks;
}): Router {
  const { billing, urls, limit, hooks } = options;
  const router = express.Router();
  router.get('/', async (req: Request, res: Response) => {
    // Browsers coming back from the checkout: every request counts, before any work.
    if (!(await withinLimit(req, res, limit))) return;
    try {
      const outcome = await billing.handleRedirect({
        orderId: req.query['order_id'],
        checkoutId: req.query['checkout_id'],
        status: req.query['status'],
      });
      res.redirect(303, redirectTarget(outcome, urls));
    } catch (error) {
      redirectFailure(res, error);
    }
  });
  router.post(
    '/',
    express.raw({ type: () => true, limit: MAX_WEBHOOK_BYTES }),
    async (req: Request, res: Response) => {
      const started = performance.now();
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const outcome = await billing.receiveWebhook({ rawBody, headers: req.headers });
      hooks?.webhookHandled?.(outcome, (performance.now() - started) / 1000);
      const answer = webhookResponse(outcome);
      if (answer.retryAfterSeconds !== undefined) {
        res.set('Retry-After', String(answer.retryAfterSeconds));
      }
      // Only refused signatures count against the sender's IP. The provider's verified
      // deliveries are never limited, however many a burst or a retry storm brings: refusing
      // them would only delay payments. Forgers meet the limit after their first refusals.
      if (outcome.kind === 'bad_signature' && !(await withinLimit(req, res, limit))) return;
      res.status(answer.status).json(answer.body);
    },
  );
  return router;
}

/** The default SUCCESS_URL and CANCEL_URL pages, for apps that have none of their own. */
export function checkoutResultRoutes(): Router {
  const router = express.Router();
  router.get('/success', (_req, res) =>
    page(res, 200, 'Thank you', 'Your payment went through; your credits arrive in a moment.'),
  );
  router.get('/cancel', (_req, res) => page(res, 200, 'Payment cancelled', 'Nothing was charged.'));
  return router;
}

import express, { type Request, type Response, type Router } from 'express';
import type { PaymentService } from '../billing';
import { isDatabaseUnavailable, isDomainError, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../errors';
import type { RateLimit } from '../ratelimit';

/** Largest webhook body accepted; providers' events are a few kilobytes. */
export const MAX_WEBHOOK_BYTES = 64 * 1024;

const STATUS_BY_CODE: Record<string, number> = {
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  PROVIDER_ERROR: 502,
};

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

/**
 * `/api/payment/callback`: GET is the user's redirect back from the hosted checkout, POST the
 * provider's webhooks (raw body: the signature covers its exact bytes).
 */
export function paymentRoutes(payments: PaymentService, limit?: RateLimit): Router {
  const router = express.Router();

  /** Counts one request against its client IP; false (429 sent) when over the limit. */
  const withinLimit = async (req: Request, res: Response): Promise<boolean> => {
    try {
      await limit?.consume(req.ip ?? 'unknown');
      return true;
    } catch (error) {
      if (isDomainError(error) && error.code === 'RATE_LIMITED') {
        res
          .status(429)
          .set('Retry-After', String(error.retryAfterSeconds ?? 60))
          .json({ error: error.message, retryAfter: error.retryAfterSeconds });
        return false;
      }
      throw error;
    }
  };

  router.get('/', async (req: Request, res: Response) => {
    // Browsers coming back from the checkout: every request counts, before any work.
    if (!(await withinLimit(req, res))) return;
    try {
      const { location } = await payments.handleRedirect({
        orderId: req.query['order_id'],
        checkoutId: req.query['checkout_id'],
        status: req.query['status'],
      });
      res.redirect(303, location);
    } catch (error) {
      if (isDomainError(error) && STATUS_BY_CODE[error.code]) {
        page(res, STATUS_BY_CODE[error.code]!, 'Payment', error.message);
        return;
      }
      if (isDatabaseUnavailable(error)) {
        res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
        page(res, 503, 'Payment', 'We could not check your payment just now. Reload in a moment.');
        return;
      }
      throw error;
    }
  });

  router.post(
    '/',
    express.raw({ type: () => true, limit: MAX_WEBHOOK_BYTES }),
    async (req: Request, res: Response) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const outcome = await payments.handleWebhook(body, req.headers);
      if (outcome.retryAfterSeconds !== undefined) {
        res.set('Retry-After', String(outcome.retryAfterSeconds));
      }
      // Only refused signatures count against the sender's IP. The provider's verified
      // deliveries are never limited, however many a burst or a retry storm brings: refusing
      // them would only delay payments. Forgers meet the limit after their first refusals.
      if (outcome.status === 401 && !(await withinLimit(req, res))) return;
      res.status(outcome.status).json(outcome.body);
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

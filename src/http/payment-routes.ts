import express, { type Request, type Response, type Router } from 'express';
import type { PaymentService } from '../billing';
import { isDomainError } from '../errors';
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

  // Per client IP, before any work: a flood of forged callbacks costs a counter, nothing more.
  router.use(async (req: Request, res: Response, next) => {
    try {
      await limit?.consume(req.ip ?? 'unknown');
      next();
    } catch (error) {
      if (isDomainError(error) && error.code === 'RATE_LIMITED') {
        res
          .status(429)
          .set('Retry-After', String(error.retryAfterSeconds ?? 60))
          .json({ error: error.message, retryAfter: error.retryAfterSeconds });
        return;
      }
      next(error);
    }
  });

  router.get('/', async (req: Request, res: Response) => {
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
      throw error;
    }
  });

  router.post(
    '/',
    express.raw({ type: () => true, limit: MAX_WEBHOOK_BYTES }),
    async (req: Request, res: Response) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const outcome = await payments.handleWebhook(body, req.headers);
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

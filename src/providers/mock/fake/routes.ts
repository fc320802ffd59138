import express, { type Request, type Response, type Router } from 'express';
import type { MockEvent } from '../wire';
import type { MockDashboard } from './dashboard';
import { checkoutPage } from './page';
import { MockProviderRefusal } from './refusal';
import type { MockStore } from './store';

/** One dashboard action: from the checkout id and the JSON (or form) body to the event sent. */
type Action = (checkoutId: string, body: Record<string, unknown>) => Promise<MockEvent>;

/** `…/refund`'s body: `amount` (minor units) and `transaction_id` (a renewal's payment). */
function refundInput(body: Record<string, unknown>): { amount?: number; transactionId?: string } {
  const { amount, transaction_id: transactionId } = body;
  if (amount !== undefined && (typeof amount !== 'number' || !Number.isSafeInteger(amount))) {
    throw new MockProviderRefusal('amount must be an integer (minor units)', 400);
  }
  if (
    transactionId !== undefined &&
    (typeof transactionId !== 'string' || transactionId.length === 0 || transactionId.length > 64)
  ) {
    throw new MockProviderRefusal('transaction_id must be a payment id of this checkout', 400);
  }
  return { amount, transactionId };
}

/** The routes under `/<checkoutId>/`, each one action of the dashboard, clock or customer. */
function actions(dashboard: MockDashboard): Record<string, Action> {
  return {
    pay: (id, body) => dashboard.pay(id, { sendWebhook: body['sendWebhook'] !== false }),
    cancel: (id) => dashboard.cancel(id),
    refund: (id, body) => {
      const { amount, transactionId } = refundInput(body);
      return dashboard.refund(id, amount, transactionId);
    },
    renew: (id) => dashboard.renew(id),
    'past-due': (id) => dashboard.pastDue(id),
    'cancel-subscription': (id, body) =>
      dashboard.cancelSubscription(id, body['atPeriodEnd'] !== false),
    'end-period': (id) => dashboard.endPeriod(id),
  };
}

/** The page's buttons send the browser back to Tally's redirect callback with these. */
const REDIRECTS: Record<string, 'success' | 'cancel'> = { pay: 'success', cancel: 'cancel' };

/**
 * Runs one action for a request: answers `{ event }`, the webhook it sent, or, for a button of
 * the page (a form post), 303 to Tally's redirect callback; a refusal answers its status.
 */
async function respond(
  req: Request,
  res: Response,
  action: Action,
  backTo: { publicUrl: () => string; status: 'success' | 'cancel' | undefined },
): Promise<void> {
  let event: MockEvent;
  try {
    const body = req.body && typeof req.body === 'object' ? req.body : {};
    const checkoutId = req.params['checkoutId'];
    event = await action(
      typeof checkoutId === 'string' ? checkoutId : '',
      body as Record<string, unknown>,
    );
  } catch (error) {
    if (!(error instanceof MockProviderRefusal)) throw error;
    res.status(error.status).json({ error: error.message });
    return;
  }
  if (backTo.status && req.is('application/x-www-form-urlencoded') !== false) {
    const back = new URL('/api/payment/callback', backTo.publicUrl());
    back.searchParams.set('order_id', String(event.data['order_id']));
    back.searchParams.set('checkout_id', String(event.data['checkout_id']));
    back.searchParams.set('status', backTo.status);
    res.redirect(303, back.toString());
    return;
  }
  res.json({ event });
}

/**
 * The fake provider's HTTP side, mounted at `base`: the hosted checkout page (Pay, Cancel)
 * and the routes tests use in place of a provider's dashboard and clock.
 */
export function mockFakeRouter(options: {
  store: MockStore;
  dashboard: MockDashboard;
  base: string;
  publicUrl: () => string;
}): Router {
  const router = express.Router();
  router.use(express.json({ limit: '4kb' }), express.urlencoded({ extended: false, limit: '4kb' }));
  router.get('/:checkoutId', async (req, res) => {
    const row = await options.store.find(req.params['checkoutId'] ?? '');
    if (!row) {
      res.status(404).type('text/plain').send('No such checkout');
      return;
    }
    res.type('html').send(checkoutPage(row, options.base));
  });
  for (const [name, action] of Object.entries(actions(options.dashboard))) {
    router.post(`/:checkoutId/${name}`, (req, res) =>
      respond(req, res, action, { publicUrl: options.publicUrl, status: REDIRECTS[name] }),
    );
  }
  return router;
}

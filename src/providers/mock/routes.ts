import express, { type Request, type Response, type Router } from 'express';
import { MockProviderRefusal, type MockEvent, type MockProvider } from './mock-provider';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function money(minor: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(minor / 100);
}

/**
 * The mock provider's HTTP side: the hosted checkout page (Pay, Cancel) and the routes tests
 * use in place of a provider's dashboard and clock. Each action answers `{ event }`, the
 * webhook it sent; the page's buttons send the browser back to Tally's redirect callback.
 */
export function mockCheckoutRoutes(provider: MockProvider, publicUrl: () => string): Router {
  const router = express.Router();
  router.use(express.json({ limit: '4kb' }), express.urlencoded({ extended: false, limit: '4kb' }));

  const fromPage = (req: Request) => req.is('application/x-www-form-urlencoded') !== false;

  async function act(
    req: Request,
    res: Response,
    action: () => Promise<MockEvent>,
    redirectStatus?: 'success' | 'cancel',
  ): Promise<void> {
    try {
      const event = await action();
      if (redirectStatus && fromPage(req)) {
        const back = new URL('/api/payment/callback', publicUrl());
        back.searchParams.set('order_id', String(event.data['order_id']));
        back.searchParams.set('checkout_id', String(event.data['checkout_id']));
        back.searchParams.set('status', redirectStatus);
        res.redirect(303, back.toString());
        return;
      }
      res.json({ event });
    } catch (error) {
      if (error instanceof MockProviderRefusal) {
        res.status(error.status).json({ error: error.message });
        return;
      }
      throw error;
    }
  }

  router.get('/:checkoutId', async (req, res) => {
    const row = await provider.find(req.params['checkoutId'] ?? '');
    if (!row) {
      res.status(404).type('text/plain').send('No such checkout');
      return;
    }
    const id = escapeHtml(row.checkoutId);
    const open = row.status === 'OPEN';
    res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mock checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
.card{border:1px solid #ccc;border-radius:8px;padding:1.5rem}button{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem}
.note{color:#666;font-size:.85rem}</style></head>
<body><div class="card">
<p class="note">Mock payment provider: no money moves.</p>
<h1 id="product">${escapeHtml(row.productName)}</h1>
<p id="price">${escapeHtml(money(row.amountMinor, row.currency))}${row.recurring ? ' a month' : ''}</p>
${
  open
    ? `<form method="post" action="/mock-checkout/${id}/pay" style="display:inline"><button id="pay" type="submit">Pay</button></form>
<form method="post" action="/mock-checkout/${id}/cancel" style="display:inline"><button id="cancel" type="submit">Cancel</button></form>`
    : `<p id="status">This checkout is ${escapeHtml(row.status.toLowerCase())}.</p>`
}
</div></body></html>`);
  });

  router.post('/:checkoutId/pay', (req, res) =>
    act(
      req,
      res,
      () =>
        provider.pay(req.params['checkoutId'] ?? '', {
          sendWebhook: (req.body as { sendWebhook?: unknown })?.sendWebhook !== false,
        }),
      'success',
    ),
  );
  router.post('/:checkoutId/cancel', (req, res) =>
    act(req, res, () => provider.cancel(req.params['checkoutId'] ?? ''), 'cancel'),
  );
  router.post('/:checkoutId/refund', (req, res) => {
    const { amount, transaction_id: transactionId } = (req.body ?? {}) as {
      amount?: unknown;
      transaction_id?: unknown;
    };
    if (amount !== undefined && (typeof amount !== 'number' || !Number.isSafeInteger(amount))) {
      res.status(400).json({ error: 'amount must be an integer (minor units)' });
      return;
    }
    if (
      transactionId !== undefined &&
      (typeof transactionId !== 'string' || transactionId.length === 0 || transactionId.length > 64)
    ) {
      res.status(400).json({ error: 'transaction_id must be a payment id of this checkout' });
      return;
    }
    return act(req, res, () =>
      provider.refund(req.params['checkoutId'] ?? '', amount, transactionId),
    );
  });
  router.post('/:checkoutId/renew', (req, res) =>
    act(req, res, () => provider.renew(req.params['checkoutId'] ?? '')),
  );
  router.post('/:checkoutId/past-due', (req, res) =>
    act(req, res, () => provider.pastDue(req.params['checkoutId'] ?? '')),
  );
  router.post('/:checkoutId/cancel-subscription', (req, res) =>
    act(req, res, () =>
      provider.cancelSubscriptionOf(
        req.params['checkoutId'] ?? '',
        (req.body as { atPeriodEnd?: unknown })?.atPeriodEnd !== false,
      ),
    ),
  );
  return router;
}

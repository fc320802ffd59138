import express, { type Router } from 'express';

/**
 * The page Paddle's checkout links point at (`…/paddle-checkout?_ptxn=txn_…`): it loads
 * Paddle.js with the client-side token, which opens the checkout for that transaction. Set
 * `<PUBLIC_URL>/paddle-checkout` as the default payment link in Paddle's checkout settings.
 */
export function paddleCheckoutRoutes(options: {
  clientToken: string | undefined;
  sandbox: boolean;
}): Router {
  const router = express.Router();
  router.get('/', (req, res) => {
    const txn = req.query['_ptxn'];
    if (typeof txn !== 'string' || !/^txn_[a-z0-9]{6,64}$/.test(txn)) {
      res.status(400).type('text/plain').send('Missing or malformed _ptxn');
      return;
    }
    if (!options.clientToken) {
      res.status(503).type('text/plain').send('Paddle checkout is not configured (client token)');
      return;
    }
    const config = JSON.stringify({ token: options.clientToken, sandbox: options.sandbox });
    res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="https://cdn.paddle.com/paddle/v2/paddle.js"></script></head>
<body><noscript>The checkout needs JavaScript.</noscript>
<script>
  const config = ${config.replace(/</g, '\\u003c')};
  if (config.sandbox) Paddle.Environment.set('sandbox');
  Paddle.Initialize({ token: config.token });
</script></body></html>`);
  });
  return router;
}

import path from 'node:path';
import express from 'express';
import { premiumWorkRoutes, type PremiumWorkOptions } from './backend';
import { DIST_DIR, WEB_DIR } from './build';

/** The example app's web server: its pages, its config for the SPA, and its backend. */
export function createExampleApp(options: PremiumWorkOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // The page may talk to itself and to Tally (HTTP and WebSocket), and nowhere else.
    const tally = new URL(options.tallyUrl());
    const ws = `${tally.protocol === 'https:' ? 'wss' : 'ws'}://${tally.host}`;
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; connect-src 'self' ${tally.origin} ${ws}; style-src 'self'; img-src 'self' data:`,
    );
    next();
  });
  app.get('/config.json', (_req, res) => {
    res.json({ tallyUrl: options.tallyUrl(), premiumCost: options.cost });
  });
  app.use('/api', premiumWorkRoutes(options));
  const index = path.join(WEB_DIR, 'index.html');
  // The SPA's routes: the home page, and where Tally's redirect callback sends the user back.
  for (const route of ['/', '/checkout/success', '/checkout/cancel']) {
    app.get(route, (_req, res) => res.sendFile(index));
  }
  app.get('/style.css', (_req, res) => res.sendFile(path.join(WEB_DIR, 'style.css')));
  app.use(express.static(DIST_DIR, { index: false }));
  return app;
}

/**
 * `npm run example`: builds the SPA, starts Tally (unless TALLY_URL names a running one) and
 * serves the example app on its own origin, http://localhost:5173 by default.
 *
 * Only this runner imports Tally's code, to start it in the same process for convenience.
 * The app itself (web/, backend.ts) talks to Tally over HTTP and WebSocket, like any client.
 */
import 'reflect-metadata';
import 'dotenv/config';
import type { AddressInfo } from 'node:net';
import { loadConfig, DEV_JWT_SECRET } from '../../../src/config';
import { createLogger } from '../../../src/observability';
import { startTally } from '../../../src/server';
import { createExampleApp } from './app';
import { buildSpa } from './build';

async function main(): Promise<void> {
  const port = Number(process.env['EXAMPLE_PORT'] ?? 5173);
  const origin = `http://localhost:${port}`;
  let tallyUrl = process.env['TALLY_URL'];
  let stopTally = async () => undefined as void;

  if (!tallyUrl) {
    // A Tally of the example's own, beside any `npm start` (port 4000, .data/postgres): its
    // redirect after checkout comes back to this app, and its CORS lets this app in.
    const tallyPort = process.env['EXAMPLE_TALLY_PORT'] ?? '4100';
    const config = loadConfig({
      ...process.env,
      PORT: tallyPort,
      PUBLIC_URL: `http://localhost:${tallyPort}`,
      EMBEDDED_PG_DATA_DIR: process.env['EXAMPLE_PG_DATA_DIR'] ?? '.data/example-postgres',
      SUCCESS_URL: process.env['SUCCESS_URL'] ?? `${origin}/checkout/success`,
      CANCEL_URL: process.env['CANCEL_URL'] ?? `${origin}/checkout/cancel`,
      CORS_ORIGINS: process.env['CORS_ORIGINS'] ?? `${origin},http://127.0.0.1:${port}`,
      // The app's sign-in page asks Tally for development tokens, even with a JWT_SECRET set.
      DEV_TOKENS: process.env['DEV_TOKENS'] ?? 'true',
    });
    if (config.isProduction) throw new Error('the example app is for development only');
    const tally = await startTally({
      config,
      logger: createLogger(config.logLevel, { pretty: process.stdout.isTTY }),
    });
    tallyUrl = config.publicUrl;
    stopTally = () => tally.close();
  }

  const started = Date.now();
  await buildSpa();
  const app = createExampleApp({
    tallyUrl: () => tallyUrl,
    jwtSecret: process.env['JWT_SECRET'] ?? DEV_JWT_SECRET,
    cost: 10,
  });
  const server = app.listen(port, () => {
    const { port: actual } = server.address() as AddressInfo;
    process.stdout.write(
      `\nExample app (built in ${Date.now() - started} ms): http://localhost:${actual}\n` +
        `Tally: ${tallyUrl}\n\n`,
    );
  });
  const stop = () => {
    server.close();
    void stopTally().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

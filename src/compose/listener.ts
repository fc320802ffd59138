import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../config';

/** A listening HTTP server that answers 503 until the application is attached. */
export interface Listener {
  httpServer: Server;
  /** The port it listens on (the ephemeral one when PORT=0). */
  port: number;
  /** Hands every later request to `app`; called once, when everything is composed. */
  attach(app: RequestListener): void;
  /** Stops listening (a start that failed after listening). */
  close(): Promise<void>;
}

/** Seconds a client is told to wait before retrying a server that is still starting. */
const STARTING_RETRY_AFTER_SECONDS = 1;

/**
 * Listens before anything else is built, so the port is known first and every part (the
 * provider's URLs, the redirect targets, CORS) is composed with its final values: nothing
 * is fixed up after listening. Until `attach`, every request gets 503 `{"error":"starting"}`
 * (a WebSocket upgrade too: without an 'upgrade' listener Node hands it to 'request').
 */
export async function listenStarting(config: Pick<AppConfig, 'port' | 'host'>): Promise<Listener> {
  const starting: RequestListener = (_req, res) => {
    res
      .writeHead(503, {
        'content-type': 'application/json; charset=utf-8',
        'retry-after': String(STARTING_RETRY_AFTER_SECONDS),
      })
      .end(JSON.stringify({ error: 'starting' }));
  };
  const httpServer = createServer(starting);
  httpServer.requestTimeout = 30_000;
  httpServer.headersTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  let attached = false;
  return {
    httpServer,
    port: (httpServer.address() as AddressInfo).port,
    attach(app) {
      if (attached) throw new Error('the application is already attached');
      attached = true;
      httpServer.off('request', starting);
      httpServer.on('request', app);
    },
    async close() {
      if (!httpServer.listening) return;
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

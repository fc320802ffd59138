import type { Server } from 'node:http';
import type { Database } from '../db';
import type { GraphQLHttp } from '../graphql';
import type { Scheduler } from '../jobs';
import type { Logger } from '../observability';
import type { PaymentProvider } from '../providers';
import type { RateLimits } from '../ratelimit';
import type { Realtime } from '../realtime';

/**
 * The server's graceful stop, in order: drain HTTP and close the WebSockets, stop the jobs,
 * then the limits, pub/sub and the database. Idempotent: every call gets the same promise.
 */
export function closer(parts: {
  httpServer: Server;
  graphql: GraphQLHttp;
  scheduler: Scheduler;
  provider: PaymentProvider;
  limits: RateLimits;
  realtime: Realtime;
  database: Database;
  logger: Logger;
}): () => Promise<void> {
  const { httpServer, graphql, scheduler, provider, limits, realtime, database, logger } = parts;
  let closing: Promise<void> | undefined;
  const close = async () => {
    // Node closes idle keep-alive sockets once, when the drain starts; a socket whose
    // request finishes later would then hold the drain open until the grace period.
    const sweep = setInterval(() => httpServer.closeIdleConnections(), 100);
    sweep.unref();
    // Apollo's drain plugin stops accepting, waits for in-flight requests (closing idle
    // keep-alive sockets), and our plugin (compose/graphql.ts) closes the WebSockets.
    try {
      await graphql.apollo.stop();
    } finally {
      clearInterval(sweep);
    }
    logger.debug('HTTP drained');
    if (httpServer.listening) {
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    }
    await scheduler.stop();
    // Before the database: the mock provider's webhook retries use it.
    await provider.close?.();
    await limits.close();
    await realtime.close();
    await database.close();
    logger.debug('database closed');
  };
  return () => (closing ??= close());
}

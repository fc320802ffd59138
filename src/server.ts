import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { signToken, TokenVerifier } from './auth';
import { BillingQueries, CheckoutService, PaymentService } from './billing';
import type { AppConfig } from './config';
import { openDatabase, poolStats, type Database } from './db';
import { buildTallySchema, createGraphQLHttp, createGraphQLWs } from './graphql';
import {
  clientAddressResolver,
  createHttpApp,
  DEV_TOKEN_SECONDS,
  originAllowed,
  type OriginPolicy,
} from './http';
import { Ledger, ProfileService } from './ledger';
import { Metrics, silentLogger, type Logger } from './observability';
import {
  createPaymentProvider,
  MockProvider,
  mockCheckoutRoutes,
  paddleCheckoutRoutes,
} from './providers';
import { createRateLimits } from './ratelimit';
import { createPubSub, Realtime } from './realtime';
import { scheduledJobs, startScheduler, type Scheduler } from './jobs';

export interface TallyServer {
  /** Base URL the server listens on, e.g. http://127.0.0.1:4000. */
  url: string;
  port: number;
  httpServer: Server;
  dataSource: DataSource;
  database: Database;
  scheduler: Scheduler;
  /** Live updates: what subscribers on this instance receive. */
  realtime: Realtime;
  /** Open WebSocket connections on this instance. */
  readonly webSocketConnections: number;
  /** Finishes in-flight requests, closes sockets and the database. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  config: AppConfig;
  logger?: Logger;
  /** An already open database; otherwise one is opened from the config. */
  database?: Database;
}

/** The composition root: builds every part from the config and starts listening. */
export async function startTally(options: StartOptions): Promise<TallyServer> {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const database = options.database ?? (await openDatabase(config, logger));
  const { dataSource } = database;

  try {
    const metrics = new Metrics({ collectDefaults: config.nodeEnv !== 'test' });
    const verifier = new TokenVerifier({
      secret: config.jwt.secret,
      jwksUrl: config.jwt.jwksUrl,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      maxLifetimeSeconds: config.jwt.maxLifetimeSeconds,
    });
    // The public URL: PUBLIC_URL, or this server's own once it listens on an ephemeral port.
    let publicUrl = config.publicUrl;
    let ownUrl = config.publicUrl;
    const provider = createPaymentProvider({
      config,
      dataSource,
      logger,
      publicUrl: () => publicUrl,
      webhookUrl: () => `${ownUrl}/api/payment/callback`,
    });
    const limits = createRateLimits(config, logger, (limit) => metrics.rateLimited.inc({ limit }));
    const profiles = new ProfileService(dataSource);
    // Live updates and metrics, told only after the database commits what they describe.
    const realtime = new Realtime(createPubSub(config.redisUrl, logger), logger);
    const ledger = new Ledger(dataSource, {
      afterCommit: (movement) => {
        metrics.ledgerMovements.inc({ type: movement.transaction.type });
        realtime.publishBalance({
          userId: movement.transaction.userId,
          balance: movement.balance,
          transaction: movement.transaction,
        });
      },
    });
    const billing = new BillingQueries(dataSource);
    // Read by PaymentService on each redirect (fixed up below once the port is known).
    const resultUrls = { successUrl: config.successUrl, cancelUrl: config.cancelUrl };
    const payments = new PaymentService(dataSource, ledger, provider, logger, resultUrls, {
      orderChanged: (order) => {
        if (order.status === 'COMPLETED') metrics.payments.inc({ outcome: 'completed' });
        if (order.status === 'CANCELLED') metrics.payments.inc({ outcome: 'cancelled' });
        realtime.publishOrder(order);
      },
      paymentFailed: () => metrics.payments.inc({ outcome: 'failed' }),
      refunded: (kind) => metrics.refunds.inc({ kind }),
      secondSubscription: () => metrics.subscriptionConflicts.inc(),
      webhookHandled: (kind, outcome, seconds) => {
        metrics.webhookEvents.inc({ kind, outcome });
        if (outcome !== 'rejected') metrics.webhookSeconds.observe({ kind }, seconds);
      },
    });
    const checkout = new CheckoutService(
      dataSource,
      profiles,
      provider,
      logger,
      limits.checkout,
      (outcome) => {
        metrics.checkouts.inc({ outcome });
        // A checkout the provider could not start is a failed payment attempt.
        if (outcome === 'provider_error') metrics.payments.inc({ outcome: 'failed' });
      },
    );
    const services = { profiles, ledger, checkout, payments, billing, realtime };
    const schema = await buildTallySchema();
    // The port this server listens on, once it does.
    const listening: { port?: number } = {};
    const origins: OriginPolicy = {
      allowed: config.corsOrigins,
      publicUrl: () => publicUrl,
      loopbackPort: () => (config.isProduction ? undefined : listening.port),
    };
    const clientAddress = clientAddressResolver(config.trustProxy);
    const httpServer = createServer();
    httpServer.requestTimeout = 30_000;
    httpServer.headersTimeout = 15_000;

    const ws = createGraphQLWs({
      schema,
      httpServer,
      path: '/graphql',
      services,
      verifier,
      logger,
      limits: config.graphql,
      websocket: config.websocket,
      originAllowed: (origin) => originAllowed(origin, origins),
      clientAddress,
    });
    const graphql = await createGraphQLHttp({
      schema,
      httpServer,
      services,
      verifier,
      logger,
      metrics,
      limits: config.graphql,
      stopGracePeriodMs: Math.max(500, config.shutdownTimeoutMs - 1500),
      plugins: [
        {
          async serverWillStart() {
            return {
              async drainServer() {
                logger.debug('closing WebSockets');
                await ws.dispose();
                logger.debug('WebSockets closed');
              },
            };
          },
        },
      ],
    });
    const app = createHttpApp({
      logger,
      metrics,
      origins,
      // Never in production, and by default only with the public development secret:
      // anyone could sign in as anyone (see config's devTokens).
      issueDevToken:
        config.devTokens && config.jwt.secret
          ? (userId) =>
              signToken({
                secret: config.jwt.secret!,
                subject: userId,
                role: 'user',
                expiresIn: `${DEV_TOKEN_SECONDS}s`,
                issuer: config.jwt.issuer,
                audience: config.jwt.audience,
              })
          : undefined,
      metricsToken: config.metricsToken,
      metricsEnabled: config.metricsEnabled,
      playground: config.graphql.playground,
      trustProxy: config.trustProxy,
      graphql: graphql.middleware,
      ready: async () => {
        await dataSource.query('SELECT 1');
        return true;
      },
      payments,
      callbackLimit: limits.callback,
      mounts:
        provider instanceof MockProvider
          ? [{ path: '/mock-checkout', router: mockCheckoutRoutes(provider, () => publicUrl) }]
          : [
              {
                path: '/paddle-checkout',
                router: paddleCheckoutRoutes({
                  clientToken: config.paddle?.clientToken,
                  sandbox: config.paymentEnv !== 'production',
                }),
              },
            ],
    });
    httpServer.on('request', app);

    const scheduler = await startScheduler({
      databaseUrl: database.url,
      logger,
      jobs: scheduledJobs({
        jobs: config.jobs,
        reconcile: (olderThanMinutes) => payments.reconcileStuckOrders(olderThanMinutes),
        ledger,
        profiles,
        metrics,
        logger,
      }),
      onRun: (job, outcome) => metrics.jobRuns.inc({ job, outcome }),
      pollSeconds: config.jobs.pollSeconds,
    });
    // Read when /metrics is scraped.
    const pool = () => poolStats(dataSource);
    metrics.gauge(
      'tally_db_pool_connections',
      'Database pool connections open',
      () => pool().total,
    );
    metrics.gauge('tally_db_pool_idle', 'Database pool connections idle', () => pool().idle);
    metrics.gauge(
      'tally_db_pool_waiting',
      'Requests waiting for a database connection',
      () => pool().waiting,
    );
    metrics.gauge(
      'tally_websocket_connections',
      'Open WebSocket connections',
      () => ws.connections,
    );
    metrics.gauge(
      'tally_realtime_subscribers',
      'Live subscriptions on this instance',
      () => realtime.subscriberCount,
    );

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
    const port = (httpServer.address() as AddressInfo).port;
    listening.port = port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    ownUrl = `http://${host}:${port}`;
    if (config.port === 0 && /:0$/.test(publicUrl)) {
      const placeholder = publicUrl;
      publicUrl = ownUrl;
      for (const key of ['successUrl', 'cancelUrl'] as const) {
        if (resultUrls[key].startsWith(`${placeholder}/`)) {
          resultUrls[key] = publicUrl + resultUrls[key].slice(placeholder.length);
        }
      }
    }

    let closing: Promise<void> | undefined;
    return {
      url: `http://${host}:${port}`,
      port,
      httpServer,
      dataSource,
      database,
      scheduler,
      realtime,
      get webSocketConnections() {
        return ws.connections;
      },
      close() {
        closing ??= (async () => {
          // Node closes idle keep-alive sockets once, when the drain starts; a socket whose
          // request finishes later would then hold the drain open until the grace period.
          const sweep = setInterval(() => httpServer.closeIdleConnections(), 100);
          sweep.unref();
          // Apollo's drain plugin stops accepting, waits for in-flight requests (closing idle
          // keep-alive sockets), and our plugin above closes the WebSockets.
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
          await limits.close();
          await realtime.close();
          await database.close();
          logger.debug('database closed');
        })();
        return closing;
      },
    };
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';
import { isDatabaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../errors';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { requestContext, requestIdFrom, type Logger, type Metrics } from '../observability';
import type { TrustProxy } from '../config';
import { trustFunction } from './client-address';
import { corsMiddleware, type OriginPolicy } from './cors';
import { devTokenRoutes } from './dev-token';
import { graphiqlHandler } from './graphiql';
import { jsonError } from './json-error';
import { checkoutResultRoutes, paymentRoutes } from './payment-routes';

export interface HttpAppOptions {
  logger: Logger;
  metrics: Metrics;
  origins: OriginPolicy;
  /** Development only: signs a user token for `POST /dev/token`. Absent in production. */
  issueDevToken?: ((userId: string) => Promise<string>) | undefined;
  graphql: RequestHandler;
  /** When set, /metrics wants it as a bearer token. */
  metricsToken?: string | undefined;
  /** Whether /metrics is served at all (production: only with a token). */
  metricsEnabled: boolean;
  /** Whether a browser's GET /graphql gets the GraphiQL playground. */
  playground: boolean;
  /** Which proxies' X-Forwarded-For is believed (req.ip, the limits, the logs). */
  trustProxy: TrustProxy;
  /** Resolves true when the database answers. */
  ready: () => Promise<boolean>;
  /** Routes an adapter serves itself (the mock provider's checkout pages). */
  mounts?: Array<{ path: string; router: RequestHandler }>;
  /** The redirect callback and webhooks: billing, the result pages, the per-IP limit. */
  payments?: Parameters<typeof paymentRoutes>[0];
}

/** Largest JSON body accepted on /graphql. */
export const MAX_BODY_BYTES = 100 * 1024;

/** Compares two secrets in constant time (over their SHA-256, so lengths leak nothing). */
function secretsEqual(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Prometheus's scrape, behind METRICS_TOKEN when one is set. */
function metricsRoute(options: HttpAppOptions): RequestHandler {
  return async (req, res) => {
    if (options.metricsToken) {
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!secretsEqual(given, options.metricsToken)) {
        res
          .status(401)
          .set('WWW-Authenticate', 'Bearer')
          .json(jsonError('UNAUTHENTICATED', 'Metrics need the metrics token'));
        return;
      }
    }
    res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  };
}

/**
 * A request id on every response and on every log line written while serving it: the
 * caller's X-Request-Id when sane (traces join up), else a new one.
 */
const requestIdMiddleware: RequestHandler = (req, res, next) => {
  const requestId = requestIdFrom(req.headers['x-request-id']);
  res.setHeader('X-Request-Id', requestId);
  requestContext.run({ requestId, clientAddress: req.ip }, next);
};

/** Counts and times every request by its matched route; sets nosniff on every response. */
function httpMetricsMiddleware(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      // Matched routes only: a raw path as a label would let any caller mint new series.
      const route = (req.route?.path as string | undefined) || req.baseUrl || 'unmatched';
      metrics.httpRequests.inc({
        method: req.method,
        route: route,
        status: res.statusCode,
      });
      stop({ method: req.method, route: route });
    });
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  };
}

/** The last handler: client errors as 4xx, an unreachable database as 503, the rest masked. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const status = typeof error?.status === 'number' ? error.status : 500;
    if (error?.type === 'entity.too.large') {
      res.status(413).json(jsonError('BAD_USER_INPUT', 'Body too large'));
    } else if (error?.type === 'entity.parse.failed') {
      res.status(400).json(jsonError('BAD_USER_INPUT', 'Malformed JSON body'));
    } else if (status >= 400 && status < 500) {
      res.status(status).json(jsonError('BAD_USER_INPUT', 'Bad request'));
    } else if (isDatabaseUnavailable(error)) {
      logger.warn({ err: error }, 'database unavailable');
      res
        .status(503)
        .set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS))
        .json(
          jsonError('SERVICE_UNAVAILABLE', 'The service is briefly unavailable; retry shortly'),
        );
    } else {
      logger.error({ err: error }, 'unhandled error in an HTTP route');
      res.status(500).json(jsonError('INTERNAL_SERVER_ERROR', 'Internal server error'));
    }
  };
}

export function createHttpApp(options: HttpAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // One test of which hops to believe, shared with the WebSocket upgrade (client-address.ts).
  app.set('trust proxy', trustFunction(options.trustProxy));

  app.use(requestIdMiddleware);
  app.use(httpMetricsMiddleware(options.metrics));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const ready = await options.ready().catch(() => false);
    if (!ready) res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable' });
  });

  if (options.metricsEnabled) app.get('/metrics', metricsRoute(options));

  for (const mount of options.mounts ?? []) app.use(mount.path, mount.router);
  if (options.payments) {
    app.use('/api/payment/callback', paymentRoutes(options.payments));
    app.use('/checkout', checkoutResultRoutes());
  }

  const cors = corsMiddleware(options.origins);
  if (options.issueDevToken) {
    app.use('/dev', cors, devTokenRoutes(options.issueDevToken));
  }

  app.use(
    '/graphql',
    cors,
    ...(options.playground ? [graphiqlHandler()] : []),
    express.json({ limit: MAX_BODY_BYTES, strict: true }),
    options.graphql,
  );

  app.use((_req, res) => {
    res.status(404).json(jsonError('NOT_FOUND', 'Not found'));
  });

  app.use(errorHandler(options.logger));
  return app;
}

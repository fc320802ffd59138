import type { RequestHandler } from 'express';
import type { DataSource } from 'typeorm';
import { signToken } from '../auth';
import type { PaymentService } from '../billing';
import type { AppConfig } from '../config';
import { createHttpApp, DEV_TOKEN_SECONDS, type OriginPolicy } from '../http';
import type { Logger, Metrics } from '../observability';
import {
  MockProvider,
  mockCheckoutRoutes,
  paddleCheckoutRoutes,
  type PaymentProvider,
} from '../providers';
import type { RateLimits } from '../ratelimit';
import type { ServerUrls } from './urls';

/** The express application: routes, limits, the GraphQL endpoint and the provider's pages. */
export function buildHttpApp(deps: {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  dataSource: DataSource;
  urls: ServerUrls;
  origins: OriginPolicy;
  graphql: RequestHandler;
  payments: PaymentService;
  provider: PaymentProvider;
  limits: RateLimits;
}): ReturnType<typeof createHttpApp> {
  const { config, logger, metrics, dataSource, origins, payments, provider, limits } = deps;
  const { publicUrl } = deps.urls;
  return createHttpApp({
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
    graphql: deps.graphql,
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
}

import type { RequestHandler } from 'express';
import type { DataSource } from 'typeorm';
import { signToken } from '../auth';
import type { Billing } from '../billing';
import type { AppConfig } from '../config';
import {
  createHttpApp,
  DEV_TOKEN_SECONDS,
  webhookMetricLabels,
  type OriginPolicy,
  type PaymentRouteHooks,
} from '../http';
import type { Logger, Metrics } from '../observability';
import type { PaymentProvider } from '../providers';
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
  billing: Billing;
  provider: PaymentProvider;
  limits: RateLimits;
}): ReturnType<typeof createHttpApp> {
  const { config, logger, metrics, dataSource, origins, billing, provider, limits } = deps;
  const { successUrl, cancelUrl } = deps.urls;
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
    payments: {
      billing,
      urls: { successUrl, cancelUrl },
      limit: limits.callback,
      hooks: webhookMetrics(metrics),
    },
    mounts: provider.routes?.() ?? [],
  });
}

/** Webhook outcomes as metrics: deliveries by kind and outcome, failures by condition code. */
function webhookMetrics(metrics: Metrics): PaymentRouteHooks {
  return {
    webhookHandled: (outcome, seconds) => {
      const labels = webhookMetricLabels(outcome);
      metrics.webhookEvents.inc({ kind: labels.kind, outcome: labels.outcome });
      if (labels.code) metrics.webhookFailures.inc({ code: labels.code });
      if (labels.outcome !== 'rejected') {
        metrics.webhookSeconds.observe({ kind: labels.kind }, seconds);
      }
    },
  };
}

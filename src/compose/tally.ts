import type { RequestListener, Server } from 'node:http';
import type { AppConfig } from '../config';
import type { Database } from '../db';
import type { GraphQLWs } from '../graphql';
import type { OriginPolicy } from '../http';
import { scheduledJobs, startScheduler, type Scheduler } from '../jobs';
import { Metrics, type Logger } from '../observability';
import type { Realtime } from '../realtime';
import { closer } from './closer';
import { registerGauges } from './gauges';
import { buildGraphQL } from './graphql';
import { buildHttpApp } from './http-app';
import { buildServices } from './services';
import type { ServerUrls } from './urls';

/** A composed Tally, ready to be handed its requests. */
export interface ComposedTally {
  /** The request handler to attach to the listening server. */
  app: RequestListener;
  scheduler: Scheduler;
  realtime: Realtime;
  ws: GraphQLWs;
  close(): Promise<void>;
}

/**
 * Builds every part of the service from the config and URLs that are already final (the
 * server listens on `port`), and starts the scheduled jobs. Only wires: each part's rules
 * live in its own module.
 */
export async function composeTally(deps: {
  config: AppConfig;
  logger: Logger;
  database: Database;
  httpServer: Server;
  port: number;
  urls: ServerUrls;
}): Promise<ComposedTally> {
  const { config, logger, database, httpServer, port, urls } = deps;
  const { dataSource } = database;
  const metrics = new Metrics({ collectDefaults: config.nodeEnv !== 'test' });
  const services = buildServices({ config, logger, dataSource, metrics, urls });
  const { provider, limits, profiles, ledger, billing, realtime } = services;
  const origins: OriginPolicy = {
    allowed: config.corsOrigins,
    publicUrl: () => urls.publicUrl,
    loopbackPort: () => (config.isProduction ? undefined : port),
  };
  const { graphql, ws } = await buildGraphQL({
    config,
    logger,
    metrics,
    services: { profiles, ledger, billing, realtime },
    httpServer,
    origins,
  });
  const app = buildHttpApp({
    config,
    logger,
    metrics,
    dataSource,
    urls,
    origins,
    graphql: graphql.middleware,
    billing,
    provider,
    limits,
  });
  const scheduler = await startScheduler({
    databaseUrl: database.url,
    logger,
    jobs: scheduledJobs({
      jobs: config.jobs,
      reconcile: (olderThanMinutes) => billing.reconcileStuckOrders({ olderThanMinutes }),
      ledger,
      profiles,
      metrics,
      logger,
    }),
    onRun: (job, outcome) => metrics.jobRuns.inc({ job, outcome }),
    pollSeconds: config.jobs.pollSeconds,
  });
  registerGauges({ metrics, dataSource, ws, realtime });
  const close = closer({
    httpServer,
    graphql,
    scheduler,
    provider,
    limits,
    realtime,
    database,
    logger,
  });
  return { app, scheduler, realtime, ws, close };
}

import type { Server } from 'node:http';
import { TokenVerifier } from '../auth';
import type { AppConfig } from '../config';
import {
  buildTallySchema,
  createGraphQLHttp,
  createGraphQLWs,
  type GraphQLHttp,
  type GraphQLServices,
  type GraphQLWs,
} from '../graphql';
import { clientAddressResolver, originAllowed, type OriginPolicy } from '../http';
import type { Logger, Metrics } from '../observability';

/** GraphQL over HTTP (Apollo) and over WebSocket (graphql-ws), on one schema. */
export interface GraphQLParts {
  graphql: GraphQLHttp;
  ws: GraphQLWs;
}

/**
 * Builds both GraphQL transports on `httpServer`. Stopping Apollo drains the HTTP server
 * and, through the plugin here, closes the WebSockets.
 */
export async function buildGraphQL(deps: {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  services: GraphQLServices;
  httpServer: Server;
  origins: OriginPolicy;
}): Promise<GraphQLParts> {
  const { config, logger, metrics, services, httpServer, origins } = deps;
  const verifier = new TokenVerifier({
    secret: config.jwt.secret,
    jwksUrl: config.jwt.jwksUrl,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    maxLifetimeSeconds: config.jwt.maxLifetimeSeconds,
  });
  const schema = await buildTallySchema();
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
    clientAddress: clientAddressResolver(config.trustProxy),
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
  return { graphql, ws };
}

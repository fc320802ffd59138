import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import type { RequestHandler } from 'express';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Server } from 'node:http';
import type { TokenVerifier } from '../auth';
import { isDomainError } from '../errors';
import type { Logger, Metrics } from '../observability';
import type { GraphQLContext, GraphQLServices } from './context';
import { documentGuard } from './document-guard';
import { createFormatError, domainErrorToGraphQL } from './errors';
import {
  documentLimitsPlugin,
  subscriptionsOverWebSocketPlugin,
  type DocumentLimits,
} from './limits';

export interface GraphQLHttpOptions {
  schema: GraphQLSchema;
  httpServer: Server;
  services: GraphQLServices;
  verifier: TokenVerifier;
  logger: Logger;
  metrics: Metrics;
  limits: DocumentLimits;
  /** How long a stop waits for in-flight requests before closing their sockets. */
  stopGracePeriodMs?: number;
  /** Extra Apollo plugins (e.g. draining the WebSocket server on stop). */
  plugins?: ConstructorParameters<typeof ApolloServer>[0]['plugins'];
}

export interface GraphQLHttp {
  apollo: ApolloServer<GraphQLContext>;
  middleware: RequestHandler;
}

/** Apollo Server over HTTP: limits, CSRF prevention, error masking, the caller in context. */
export async function createGraphQLHttp(options: GraphQLHttpOptions): Promise<GraphQLHttp> {
  const { schema, httpServer, services, verifier, logger, metrics, limits } = options;
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    // Stack traces are never sent, whatever NODE_ENV says: errors are logged instead.
    includeStacktraceInErrorResponses: false,
    formatError: createFormatError(logger, (code) => metrics.graphqlErrors.inc({ code })),
    csrfPrevention: true,
    // main.ts owns SIGTERM/SIGINT: it drains HTTP, closes sockets, then the database.
    stopOnTerminationSignals: false,
    // Whether introspection is allowed is decided with the other limits (documentLimitsPlugin),
    // the same way for HTTP and WebSocket.
    introspection: true,
    // Automatic persisted queries are not offered: one way in for documents, the one checked.
    persistedQueries: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({
        httpServer,
        ...(options.stopGracePeriodMs ? { stopGracePeriodMillis: options.stopGracePeriodMs } : {}),
      }),
      ApolloServerPluginLandingPageDisabled(),
      subscriptionsOverWebSocketPlugin(),
      {
        async requestDidStart() {
          const started = performance.now();
          let operation = 'invalid';
          return {
            async didResolveOperation({ operation: resolved }) {
              operation = resolved?.operation ?? 'invalid';
            },
            async willSendResponse() {
              metrics.graphqlDuration.observe({ operation }, (performance.now() - started) / 1000);
            },
          };
        },
      },
      documentLimitsPlugin(limits),
      ...(options.plugins ?? []),
    ],
    logger: {
      debug: (m) => logger.debug(m),
      info: (m) => logger.info(m),
      warn: (m) => logger.warn(m),
      error: (m) => logger.error(m),
    },
  });
  await apollo.start();
  const guard = documentGuard(limits);
  const served = expressMiddleware(apollo, {
    context: async ({ req }) => {
      try {
        const caller = await verifier.callerFromHeader(req.headers.authorization);
        return { caller, services, logger };
      } catch (error) {
        if (isDomainError(error)) throw domainErrorToGraphQL(error);
        logger.error({ err: error }, 'token verification failed unexpectedly');
        throw new GraphQLError('Internal server error', {
          extensions: { code: 'INTERNAL_SERVER_ERROR', http: { status: 500 } },
        });
      }
    },
  });
  const middleware: RequestHandler = (req, res, next) =>
    guard(req, res, (error?: unknown) => (error ? next(error) : served(req, res, next)));
  return { apollo, middleware };
}

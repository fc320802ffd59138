import type { GraphQLSchema } from 'graphql';
import { GraphQLError, execute, parse, subscribe, validate, specifiedRules } from 'graphql';
import type { ConnectionInitMessage } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer } from 'ws';
import type { Caller, TokenVerifier } from '../auth';
import { isDomainError } from '../errors';
import type { Logger } from '../observability';
import type { GraphQLContext, GraphQLServices } from './context';
import { createFormatError, documentError } from './errors';
import { depthLimitRule, queryCost } from './limits';

export interface GraphQLWsOptions {
  schema: GraphQLSchema;
  httpServer: Server;
  path: string;
  services: GraphQLServices;
  verifier: TokenVerifier;
  logger: Logger;
  limits: { maxDepth: number; maxCost: number };
  originAllowed: (origin: string | undefined, host: string | undefined) => boolean;
}

export interface GraphQLWs {
  /** Closes every socket and stops accepting new ones. */
  dispose(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * graphql-ws on the same HTTP server and path as Apollo. The token comes in the
 * connection_init payload (`authorization: "Bearer …"`); operations get the same depth,
 * cost and error-masking rules as over HTTP.
 */
export function createGraphQLWs(options: GraphQLWsOptions): GraphQLWs {
  const { schema, httpServer, path, services, verifier, logger, limits } = options;
  const wss = new WebSocketServer({
    server: httpServer,
    path,
    maxPayload: MAX_MESSAGE_BYTES,
    verifyClient: (info: { origin: string; req: IncomingMessage }) =>
      options.originAllowed(info.origin || undefined, info.req.headers.host),
  });
  const formatError = createFormatError(logger);
  const rules = [...specifiedRules, depthLimitRule(limits.maxDepth)];

  const cleanup = useServer<Record<string, unknown>, { caller?: Caller }>(
    {
      schema,
      execute,
      subscribe,
      onConnect: async (ctx) => {
        const params = (ctx.connectionParams ?? {}) as ConnectionInitMessage['payload'] & {
          authorization?: unknown;
          Authorization?: unknown;
        };
        const header = params?.authorization ?? params?.Authorization;
        if (header !== undefined && typeof header !== 'string') return false;
        try {
          ctx.extra.caller = await verifier.callerFromHeader(header);
          return true;
        } catch (error) {
          if (!isDomainError(error)) logger.error({ err: error }, 'WebSocket auth failed');
          return false;
        }
      },
      context: (ctx): GraphQLContext => ({
        caller: ctx.extra.caller ?? { kind: 'anonymous' },
        services,
        logger,
      }),
      onSubscribe: (_ctx, _id, payload) => {
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [
            documentError(error instanceof GraphQLError ? error : new GraphQLError('Syntax error')),
          ];
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0) return errors.map(documentError);
        const cost = queryCost(
          schema,
          document,
          payload.variables ?? {},
          payload.operationName ?? undefined,
        );
        if (cost > limits.maxCost) {
          return [
            documentError(
              new GraphQLError(
                `Query is too expensive: cost ${cost} exceeds the limit of ${limits.maxCost}`,
              ),
            ),
          ];
        }
        return undefined;
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!('errors' in result) || !result.errors) return result;
        return {
          ...result,
          errors: result.errors.map((e) => formatError(e.toJSON(), e) as unknown as GraphQLError),
        };
      },
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => formatError(e.toJSON(), e) as unknown as GraphQLError),
    },
    wss,
  );

  return {
    async dispose() {
      await cleanup.dispose();
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

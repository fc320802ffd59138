import type { GraphQLSchema } from 'graphql';
import { GraphQLError, execute, parse, subscribe, validate, specifiedRules } from 'graphql';
import type { ConnectionInitMessage } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Caller, TokenVerifier } from '../auth';
import { isDomainError } from '../errors';
import { requestContext, requestIdFrom, type Logger } from '../observability';
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
  websocket: {
    maxConnections: number;
    maxConnectionsPerUser: number;
    maxSubscriptionsPerConnection: number;
    keepAliveSeconds: number;
    bufferEvents: number;
  };
  originAllowed: (origin: string | undefined, host: string | undefined) => boolean;
}

/** Close codes this server uses besides graphql-ws's own (4403 refused at connection_init). */
export const WS_CLOSE = {
  tokenExpired: 4401,
  tooManyForUser: 4029,
  slowConsumer: 1008,
} as const;

function requestIdOf(context: unknown): string {
  return (context as GraphQLContext | undefined)?.requestId ?? 'websocket';
}

/** setTimeout's longest delay; a later expiry is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  caller?: Caller;
  /** The upgrade request's sane X-Request-Id, or a new id: on every log line of the connection. */
  requestId?: string;
  /** The user this connection counts against, once admitted. */
  countedAs?: string;
  expiry?: NodeJS.Timeout;
};

export interface GraphQLWs {
  /** Open sockets. */
  readonly connections: number;
  /** Closes every socket and stops accepting new ones. */
  dispose(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * graphql-ws on the same HTTP server and path as Apollo. The token comes in the
 * connection_init payload (`authorization: "Bearer …"`); operations get the same depth,
 * cost and error-masking rules as over HTTP. Limits: connections in total (503 at the
 * upgrade) and per user (closed 4029), operations per connection, 64 KB messages, a ping
 * every WS_KEEPALIVE_SECONDS (no pong in as long: terminated), and the slow-consumer buffer
 * of each subscription (overflow: closed 1008). An expiring token closes its socket (4401).
 */
export function createGraphQLWs(options: GraphQLWsOptions): GraphQLWs {
  const { schema, httpServer, path, services, verifier, logger, limits, websocket } = options;
  const perUser = new Map<string, number>();
  const wss = new WebSocketServer({
    server: httpServer,
    path,
    maxPayload: MAX_MESSAGE_BYTES,
    verifyClient: (
      info: { origin: string; req: IncomingMessage },
      accept: (ok: boolean, code?: number, message?: string) => void,
    ) => {
      if (!options.originAllowed(info.origin || undefined, info.req.headers.host)) {
        accept(false, 403, 'Origin not allowed');
      } else if (wss.clients.size >= websocket.maxConnections) {
        logger.warn({ limit: websocket.maxConnections }, 'WebSocket refused: connection limit');
        accept(false, 503, 'Too many connections');
      } else {
        accept(true);
      }
    },
  });
  const formatError = createFormatError(logger);
  const rules = [...specifiedRules, depthLimitRule(limits.maxDepth)];

  const release = (extra: Extra) => {
    if (extra.expiry) clearTimeout(extra.expiry);
    extra.expiry = undefined;
    if (extra.countedAs === undefined) return;
    const left = (perUser.get(extra.countedAs) ?? 1) - 1;
    if (left > 0) perUser.set(extra.countedAs, left);
    else perUser.delete(extra.countedAs);
    extra.countedAs = undefined;
  };

  /** Closes the socket when the token expires (re-checked past setTimeout's range). */
  const closeAtExpiry = (extra: Extra, expiresAtSeconds: number) => {
    const wait = expiresAtSeconds * 1000 - Date.now();
    extra.expiry = setTimeout(
      () => {
        if (Date.now() < expiresAtSeconds * 1000) closeAtExpiry(extra, expiresAtSeconds);
        else extra.socket.close(WS_CLOSE.tokenExpired, 'Token expired');
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    extra.expiry.unref();
  };

  const cleanup = useServer<Record<string, unknown>, Extra>(
    {
      schema,
      // Operations run with the connection's id in the logging context, as HTTP requests do.
      execute: (args) =>
        requestContext.run({ requestId: requestIdOf(args.contextValue) }, () => execute(args)),
      subscribe: (args) =>
        requestContext.run({ requestId: requestIdOf(args.contextValue) }, () => subscribe(args)),
      // Every connection is authenticated in connection_init (the token as
      // `authorization: "Bearer …"`): no token or a bad one is refused with 4403.
      onConnect: async (ctx) => {
        ctx.extra.requestId = requestIdFrom(ctx.extra.request.headers['x-request-id']);
        const params = (ctx.connectionParams ?? {}) as ConnectionInitMessage['payload'] & {
          authorization?: unknown;
          Authorization?: unknown;
        };
        const header = params?.authorization ?? params?.Authorization;
        if (typeof header !== 'string') return false;
        let caller: Caller;
        try {
          caller = await verifier.callerFromHeader(header);
        } catch (error) {
          if (!isDomainError(error)) logger.error({ err: error }, 'WebSocket auth failed');
          return false;
        }
        if (caller.kind !== 'authenticated') return false;
        // The client may have gone while its token was checked: count only live sockets.
        const socket = ctx.extra.socket;
        if (socket.readyState !== socket.OPEN) return false;
        const open = perUser.get(caller.subject) ?? 0;
        // The app's backend (a service token) may watch many users over many connections;
        // the total limit still bounds it.
        if (caller.role !== 'service' && open >= websocket.maxConnectionsPerUser) {
          ctx.extra.socket.close(WS_CLOSE.tooManyForUser, 'Too many connections for this user');
          return false;
        }
        perUser.set(caller.subject, open + 1);
        ctx.extra.countedAs = caller.subject;
        // Released when the socket closes, whatever graphql-ws is still waiting on.
        socket.once('close', () => release(ctx.extra));
        ctx.extra.caller = caller;
        if (caller.tokenExpiresAt !== undefined) closeAtExpiry(ctx.extra, caller.tokenExpiresAt);
        return true;
      },
      context: (ctx): GraphQLContext => ({
        ...(ctx.extra.requestId ? { requestId: ctx.extra.requestId } : {}),
        caller: ctx.extra.caller ?? { kind: 'anonymous' },
        services,
        logger,
        live: {
          bufferEvents: websocket.bufferEvents,
          closeSlowConsumer: () => {
            const socket = ctx.extra.socket;
            logger.warn(
              {
                userId:
                  ctx.extra.caller?.kind === 'authenticated' ? ctx.extra.caller.subject : undefined,
              },
              'WebSocket closed: slow consumer',
            );
            socket.close(WS_CLOSE.slowConsumer, 'Slow consumer');
            // A client that is not reading may not read the close frame either.
            setTimeout(() => socket.terminate(), 1000).unref();
          },
        },
      }),
      onSubscribe: (ctx, _id, payload) => {
        if (Object.keys(ctx.subscriptions).length > websocket.maxSubscriptionsPerConnection) {
          return [
            documentError(
              new GraphQLError(
                `At most ${websocket.maxSubscriptionsPerConnection} operations at once on one connection`,
              ),
            ),
          ];
        }
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
        // Parsed and validated once here; graphql-ws runs it as it is.
        return {
          schema,
          document,
          variableValues: payload.variables ?? undefined,
          operationName: payload.operationName ?? undefined,
        };
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
    websocket.keepAliveSeconds * 1000,
  );

  return {
    get connections() {
      return wss.clients.size;
    },
    async dispose() {
      await cleanup.dispose();
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

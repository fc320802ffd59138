import {
  GraphQLError,
  execute,
  parse,
  subscribe,
  validate,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import {
  makeServer,
  type Context,
  type Server as GraphQLWsServer,
  type SubscribePayload,
} from 'graphql-ws';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer } from 'ws';
import type { Caller, TokenVerifier } from '../auth';

type AuthenticatedCaller = Extract<Caller, { kind: 'authenticated' }>;
import { isDomainError } from '../errors';
import { requestContext, requestIdFrom, type Logger } from '../observability';
import type { GraphQLContext, GraphQLServices } from './context';
import { createFormatError, documentError, MASKED_MESSAGE } from './errors';
import { MAX_DOCUMENT_TOKENS } from './document-guard';
import { selectOperation } from './document-measure';
import { documentShapeError, operationLimitError, type DocumentLimits } from './limits';
import { ConnectionBudget, type ConnectionLimits } from './ws-budget';
import { serveGraphQLWs, type SocketExtra } from './ws-sockets';

export interface GraphQLWsOptions {
  schema: GraphQLSchema;
  httpServer: Server;
  path: string;
  services: GraphQLServices;
  verifier: TokenVerifier;
  logger: Logger;
  limits: DocumentLimits;
  websocket: ConnectionLimits & {
    maxConnectionsPerUser: number;
    maxSubscriptionsPerConnection: number;
    keepAliveSeconds: number;
    bufferEvents: number;
    /** How long a new socket has to send a good connection_init. */
    initTimeoutMs: number;
  };
  originAllowed: (origin: string | undefined) => boolean;
  /** The client's address as every limit sees it (TRUST_PROXY). */
  clientAddress: (request: IncomingMessage) => string;
}

/** Close codes this server uses besides graphql-ws's own (4403 refused at connection_init). */
export const WS_CLOSE = {
  tokenExpired: 4401,
  /** Signed in, but every signed-in place of this instance is taken: try again later. */
  full: 1013,
  tooManyForUser: 4029,
  slowConsumer: 1008,
} as const;

/** The logging context of an operation: the connection's request id and client address. */
function logContextOf(context: unknown): { requestId: string; clientAddress?: string } {
  const graphql = context as GraphQLContext | undefined;
  return {
    requestId: graphql?.requestId ?? 'websocket',
    ...(graphql?.clientAddress ? { clientAddress: graphql.clientAddress } : {}),
  };
}

/** setTimeout's longest delay; a later expiry is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Extra = SocketExtra & {
  /** The client's address (TRUST_PROXY applied), which its budget is counted under. */
  address: string;
  /** Whether it counts as signed in (else pending) in the connection budget. */
  signedIn: boolean;
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

/** The user a signed-in connection counts against, per user; released once. */
class PerUserCount {
  private readonly counts = new Map<string, number>();

  count(subject: string): number {
    return this.counts.get(subject) ?? 0;
  }

  take(extra: Extra, subject: string): void {
    this.counts.set(subject, this.count(subject) + 1);
    extra.countedAs = subject;
  }

  release(extra: Extra): void {
    if (extra.countedAs === undefined) return;
    const left = this.count(extra.countedAs) - 1;
    if (left > 0) this.counts.set(extra.countedAs, left);
    else this.counts.delete(extra.countedAs);
    extra.countedAs = undefined;
  }
}

/** Closes the socket when the token expires (re-checked past setTimeout's range). */
function closeAtExpiry(extra: Extra, expiresAtSeconds: number): void {
  const wait = expiresAtSeconds * 1000 - Date.now();
  extra.expiry = setTimeout(
    () => {
      if (Date.now() < expiresAtSeconds * 1000) closeAtExpiry(extra, expiresAtSeconds);
      else extra.socket.close(WS_CLOSE.tokenExpired, 'Token expired');
    },
    Math.max(0, Math.min(wait, MAX_TIMER_MS)),
  );
  extra.expiry.unref();
}

interface Shared {
  options: GraphQLWsOptions;
  budget: ConnectionBudget;
  perUser: PerUserCount;
}

/** The caller of a connection_init payload (`authorization: "Bearer …"`), or undefined. */
async function callerOf(
  params: Record<string, unknown> | undefined,
  { verifier, logger }: GraphQLWsOptions,
): Promise<AuthenticatedCaller | undefined> {
  const header = params?.['authorization'] ?? params?.['Authorization'];
  if (typeof header !== 'string') return undefined;
  try {
    const caller = await verifier.callerFromHeader(header);
    return caller.kind === 'authenticated' ? caller : undefined;
  } catch (error) {
    if (!isDomainError(error)) logger.error({ err: error }, 'WebSocket auth failed');
    return undefined;
  }
}

/**
 * connection_init: no token or a bad one is refused (4403). A good one moves the socket
 * from the pending budget to a signed-in place, within the per-user limit.
 */
async function admit(
  ctx: Context<Record<string, unknown>, Extra>,
  shared: Shared,
): Promise<boolean> {
  const { options, budget, perUser } = shared;
  const extra = ctx.extra;
  extra.requestId = requestIdFrom(extra.request.headers['x-request-id']);
  const caller = await callerOf(ctx.connectionParams, options);
  // The client may have gone while its token was checked: count only live sockets.
  if (!caller || extra.socket.readyState !== extra.socket.OPEN) return false;
  // The app's backend (a service token) may watch many users over many connections; the
  // total limit still bounds it.
  if (
    caller.role !== 'service' &&
    perUser.count(caller.subject) >= options.websocket.maxConnectionsPerUser
  ) {
    extra.socket.close(WS_CLOSE.tooManyForUser, 'Too many connections for this user');
    return false;
  }
  if (!budget.signIn(extra.address)) {
    options.logger.warn(
      { limit: options.websocket.maxConnections },
      'WebSocket refused: connection limit',
    );
    extra.socket.close(WS_CLOSE.full, 'Too many connections');
    return false;
  }
  extra.signedIn = true;
  perUser.take(extra, caller.subject);
  extra.caller = caller;
  if (caller.tokenExpiresAt !== undefined) closeAtExpiry(extra, caller.tokenExpiresAt);
  return true;
}

/** Parses, validates and bounds one operation: its execution arguments, or its errors. */
function prepareOperation(
  ctx: Context<Record<string, unknown>, Extra>,
  payload: SubscribePayload,
  { options }: Shared,
): ExecutionArgs | GraphQLError[] {
  const { schema, limits, websocket } = options;
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
    document = parse(payload.query, { maxTokens: MAX_DOCUMENT_TOKENS });
  } catch (error) {
    return [
      documentError(error instanceof GraphQLError ? error : new GraphQLError('Syntax error')),
    ];
  }
  const shapeError = documentShapeError(document, limits);
  if (shapeError) return [shapeError];
  const errors = validate(schema, document);
  if (errors.length > 0) return errors.map(documentError);
  if (!selectOperation(document, payload.operationName || undefined)) {
    const named = payload.operationName ? `no operation named "${payload.operationName}"` : '';
    return [
      documentError(
        new GraphQLError(named ? `The document has ${named}` : 'Name the operation to run'),
      ),
    ];
  }
  const refused = operationLimitError({
    schema,
    document,
    variables: payload.variables,
    operationName: payload.operationName,
    limits,
  });
  if (refused) return [refused];
  // Parsed and validated once here; graphql-ws runs it as it is.
  return {
    schema,
    document,
    variableValues: payload.variables ?? undefined,
    // "" names no operation, as over HTTP; graphql-js would look for one named "".
    operationName: payload.operationName || undefined,
  };
}

function contextOf(
  ctx: Context<Record<string, unknown>, Extra>,
  { options }: Shared,
): GraphQLContext {
  const { services, logger, websocket } = options;
  const extra = ctx.extra;
  return {
    ...(extra.requestId ? { requestId: extra.requestId } : {}),
    clientAddress: extra.address,
    caller: extra.caller ?? { kind: 'anonymous' },
    services,
    logger,
    live: {
      bufferEvents: websocket.bufferEvents,
      closeSlowConsumer: () => {
        const userId = extra.caller?.kind === 'authenticated' ? extra.caller.subject : undefined;
        logger.warn({ userId }, 'WebSocket closed: slow consumer');
        extra.socket.close(WS_CLOSE.slowConsumer, 'Slow consumer');
        // A client that is not reading may not read the close frame either.
        setTimeout(() => extra.socket.terminate(), 1000).unref();
      },
    },
  };
}

/** graphql-ws's server: authentication, the shared operation checks, error masking. */
function graphQLWsServer(shared: Shared): GraphQLWsServer<Extra> {
  const { options } = shared;
  const { schema, logger } = options;
  const formatError = createFormatError(logger);
  const format = (errors: readonly GraphQLError[]) =>
    errors.map((e) => formatError(e.toJSON(), e) as unknown as GraphQLError);
  return makeServer<Record<string, unknown>, Extra>({
    schema,
    connectionInitWaitTimeout: options.websocket.initTimeoutMs,
    // Operations run with the connection's id in the logging context, as HTTP requests do.
    execute: (args) => requestContext.run(logContextOf(args.contextValue), () => execute(args)),
    subscribe: (args) => requestContext.run(logContextOf(args.contextValue), () => subscribe(args)),
    onConnect: async (ctx) => {
      try {
        return await admit(ctx, shared);
      } catch (error) {
        logger.error({ err: error }, 'WebSocket connection_init failed');
        return false;
      }
    },
    context: (ctx) => contextOf(ctx, shared),
    onSubscribe: (ctx, _id, payload) => {
      try {
        return prepareOperation(ctx, payload, shared);
      } catch (error) {
        // One operation's failure is that operation's error: the socket stays open.
        logger.error({ err: error }, 'WebSocket operation could not be prepared');
        return [
          new GraphQLError(MASKED_MESSAGE, { extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
        ];
      }
    },
    onNext: (_ctx, _id, _payload, _args, result) =>
      'errors' in result && result.errors ? { ...result, errors: format(result.errors) } : result,
    onError: (_ctx, _id, _payload, errors) => format(errors),
  });
}

/**
 * graphql-ws on the same HTTP server and path as Apollo. The token comes in the
 * connection_init payload (`authorization: "Bearer …"`); operations get the same depth,
 * cost, introspection and error-masking rules as over HTTP (operationLimitError). Limits:
 * a budget for sockets not signed in yet (with a connection_init deadline) apart from the
 * signed-in places, per client address and per user caps (ConnectionBudget), operations
 * per connection, 64 KB messages, a ping every WS_KEEPALIVE_SECONDS (no pong in as long:
 * terminated), and the slow-consumer buffer of each subscription (overflow: closed 1008).
 * An expiring token closes its socket (4401).
 */
export function createGraphQLWs(options: GraphQLWsOptions): GraphQLWs {
  const { httpServer, path, logger, websocket } = options;
  const shared: Shared = {
    options,
    budget: new ConnectionBudget(websocket),
    perUser: new PerUserCount(),
  };
  const wss = new WebSocketServer({
    server: httpServer,
    path,
    maxPayload: MAX_MESSAGE_BYTES,
    verifyClient: (
      info: { origin: string; req: IncomingMessage },
      accept: (ok: boolean, code?: number, message?: string) => void,
    ) => {
      if (!options.originAllowed(info.origin || undefined))
        return accept(false, 403, 'Origin not allowed');
      const address = options.clientAddress(info.req);
      const refusal = shared.budget.refusalAt(address);
      if (!refusal) return accept(true);
      logger.warn({ address, reason: refusal.message }, 'WebSocket refused at the upgrade');
      accept(false, refusal.status, refusal.message);
    },
  });
  serveGraphQLWs({
    wss,
    server: graphQLWsServer(shared),
    keepAliveMs: websocket.keepAliveSeconds * 1000,
    logger,
    extra: (socket, request) => {
      const extra: Extra = {
        socket,
        request,
        address: options.clientAddress(request),
        signedIn: false,
      };
      shared.budget.opened(extra.address);
      // Released when the socket closes, whatever graphql-ws is still waiting on.
      socket.once('close', () => {
        if (extra.expiry) clearTimeout(extra.expiry);
        shared.perUser.release(extra);
        shared.budget.closed(extra.address, { signedIn: extra.signedIn });
      });
      return extra;
    },
  });
  return {
    get connections() {
      return wss.clients.size;
    },
    async dispose() {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

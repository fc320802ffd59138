import type { Caller, Role } from '../auth';
import type { Billing } from '../billing';
import { DomainError } from '../errors';
import type { Ledger, ProfileService } from '../ledger';
import type { Logger } from '../observability';
import type { Realtime } from '../realtime';

/** What resolvers may call: billing and ledger use cases, nothing lower. */
export interface GraphQLServices {
  profiles: ProfileService;
  ledger: Ledger;
  /** Billing's use cases and its read side. */
  billing: Billing;
  realtime: Realtime;
}

export interface GraphQLContext {
  caller: Caller;
  services: GraphQLServices;
  logger: Logger;
  /** Over WebSocket: the connection's id, carried by the log lines of its operations. */
  requestId?: string;
  /** The client's address (TRUST_PROXY applied), on the operation's log lines. */
  clientAddress?: string;
  /** Over WebSocket only: what subscriptions need of their connection. */
  live?: {
    /** Events buffered per subscription for a client that is not reading. */
    bufferEvents: number;
    /** Ends the connection of a client that stopped reading (slow consumer). */
    closeSlowConsumer: () => void;
  };
}

export type AuthenticatedCaller = Extract<Caller, { kind: 'authenticated' }>;

export function requireAuthenticated(ctx: GraphQLContext): AuthenticatedCaller {
  if (ctx.caller.kind !== 'authenticated') {
    throw new DomainError('UNAUTHENTICATED', 'Authentication required');
  }
  return ctx.caller;
}

/** Requires one of `roles`: no token is UNAUTHENTICATED, another role is FORBIDDEN. */
export function requireRole(ctx: GraphQLContext, ...roles: Role[]): AuthenticatedCaller {
  const caller = requireAuthenticated(ctx);
  if (!roles.includes(caller.role)) {
    throw new DomainError('FORBIDDEN', `Requires a ${roles.join(' or ')} token`);
  }
  return caller;
}

/**
 * A caller acting as an end user: a user token (or an admin's own). The app's backend
 * (`service`) acts on users by id, never as one.
 */
export function requireEndUser(ctx: GraphQLContext): AuthenticatedCaller {
  return requireRole(ctx, 'user', 'admin');
}

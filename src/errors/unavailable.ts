/** node-pg's and PostgreSQL's ways of saying the database cannot be reached right now. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);
/** SQLSTATE class 08 (connection exception) and 57P0x (the server shutting down or starting). */
const SQLSTATE = /^(08\d{3}|57P0[1-3])$/;
const MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Connection terminated unexpectedly',
  'the database system is starting up',
  'the database system is shutting down',
];

/**
 * Whether `error` means the database is unreachable (down, restarting, or every pool
 * connection busy past the wait): a client should retry, and the answer is 503 with
 * Retry-After, not a 500. Looks through TypeORM's wrapping and `cause` chains.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const record = e as {
      code?: unknown;
      message?: unknown;
      driverError?: unknown;
      cause?: unknown;
    };
    if (
      typeof record.code === 'string' &&
      (NETWORK_CODES.has(record.code) || SQLSTATE.test(record.code))
    ) {
      return true;
    }
    if (
      typeof record.message === 'string' &&
      MESSAGES.some((m) => (record.message as string).includes(m))
    ) {
      return true;
    }
    e = record.driverError ?? record.cause;
  }
  return false;
}

/** Seconds a client is asked to wait before retrying while the database is unavailable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

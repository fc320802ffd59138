/**
 * Tally as a library, for app code that runs in the same Node process as its database
 * access: open the database, then use the ledger directly (or start the whole service).
 *
 *   const db = await openDatabase(loadConfig(), logger);
 *   const ledger = new Ledger(db.dataSource);
 *   await withCredits(ledger, { userId, amount: 50, description: 'render' }, async (hold) => …);
 *
 * Everything else goes through the GraphQL API.
 */
export { loadConfig, ConfigError, type AppConfig } from './config';
export { openDatabase, type Database } from './db';
export { DomainError, isDomainError, ERROR_CODES, type ErrorCode } from './errors';
export {
  Ledger,
  ProfileService,
  withCredits,
  MAX_CREDIT_AMOUNT,
  DEFAULT_RESERVATION_TTL_SECONDS,
  MAX_RESERVATION_TTL_SECONDS,
  type CreditHold,
  type CreditMovement,
  type CreditSummary,
  type WithCreditsResult,
} from './ledger';
export { startTally, type TallyServer, type StartOptions } from './server';
export { signToken } from './auth';

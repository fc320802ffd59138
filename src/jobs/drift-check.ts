import type { CreditDrift, Ledger, ProfileService, ReservedDrift } from '../ledger';
import type { Logger, Metrics } from '../observability';

/** What the credit checks found: every user who breaks one of the two ledger sums. */
export interface CreditCheck {
  /** Balances that differ from the sum of their transactions (invariant 1). */
  drift: CreditDrift[];
  /** Reserved sums that differ from the sum of the user's active holds. */
  reservedDrift: ReservedDrift[];
}

/**
 * The one credit check, run by `npm run drift-check` and by the scheduled job, so the two
 * cannot come to check different things. Read-only.
 */
export async function checkCredits(deps: {
  ledger: Pick<Ledger, 'drift' | 'reservedDrift'>;
}): Promise<CreditCheck> {
  // One after the other, not in parallel: a check takes one pool connection, never two.
  const drift = await deps.ledger.drift();
  const reservedDrift = await deps.ledger.reservedDrift();
  return { drift, reservedDrift };
}

/** What a scheduled drift check logs as its summary. */
export interface CreditCheckSummary {
  users: number;
  /** Users whose balance drifts from their transactions. */
  drifting: number;
  /** Users whose reserved sum differs from their active holds. */
  reservedWrong: number;
}

/** How many users a critical log line names, at most. */
const NAMED_USERS = 10;

/**
 * The scheduled drift check: `checkCredits`, then the gauges alerts read
 * (ops/prometheus/alerts.yml) and a `critical:` log line for each kind of breach found.
 */
export async function driftCheckJob(deps: {
  ledger: Pick<Ledger, 'drift' | 'reservedDrift'>;
  profiles: Pick<ProfileService, 'countProfiles'>;
  metrics: Metrics;
  logger: Logger;
}): Promise<CreditCheckSummary> {
  const { metrics, logger } = deps;
  const { drift, reservedDrift } = await checkCredits(deps);
  const users = await deps.profiles.countProfiles();
  metrics.driftUsers.set(drift.length);
  metrics.reservedDriftUsers.set(reservedDrift.length);
  metrics.users.set(users);
  metrics.driftCheckedAt.set(Date.now() / 1000);
  if (drift.length > 0) {
    logger.error(
      { users: drift.length, first: drift.slice(0, NAMED_USERS) },
      'critical: credit drift: balances differ from their transactions',
    );
  }
  if (reservedDrift.length > 0) {
    logger.error(
      { users: reservedDrift.length, first: reservedDrift.slice(0, NAMED_USERS) },
      'critical: reserved credits differ from the sum of the active holds',
    );
  }
  return { users, drifting: drift.length, reservedWrong: reservedDrift.length };
}

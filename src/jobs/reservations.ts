import type { Ledger } from '../ledger';

/**
 * Settles the holds that lapsed for every user. Housekeeping, not correctness: reads ignore
 * lapsed holds and each user's next write settles them first.
 */
export async function settleReservationsJob(deps: {
  ledger: Pick<Ledger, 'settleExpiredReservations'>;
}): Promise<{ settled: number }> {
  return { settled: await deps.ledger.settleExpiredReservations() };
}

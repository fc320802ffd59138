import type { CreditReservation, CreditTransaction } from '../entities';
import { DomainError } from '../errors';
import type { Ledger, ReserveOptions } from './ledger';

/** What the work sees while it runs: its hold, and a way to say how much it really used. */
export interface CreditHold {
  readonly reservation: CreditReservation;
  /**
   * Credits the work actually used, 0 to the amount reserved; the capture takes this and
   * gives the rest back. Not calling it charges the whole hold.
   */
  use(amount: number): void;
}

export interface WithCreditsResult<T> {
  result: T;
  /** Credits taken (0 when the work used none and the hold was released). */
  charged: number;
  /** The CONSUMPTION written, or null when nothing was charged. */
  transaction: CreditTransaction | null;
}

/**
 * Runs paid work with credits held for it: reserve, run, then capture what was used on
 * success or release everything on failure.
 *
 * - Not enough credits: INSUFFICIENT_CREDITS before the work starts.
 * - The work throws: the hold is released and the work's error is rethrown. If the release
 *   itself fails (the database is down, the process dies), the hold still lapses at its TTL
 *   and the credits return by themselves.
 * - The work outlives the TTL: the capture fails with RESERVATION_NOT_ACTIVE and nothing is
 *   charged. Choose `ttlSeconds` above the work's longest run.
 *
 * With an `idempotencyKey`, a retried call finds the same hold instead of holding twice;
 * if that hold is already settled, the retry is RESERVATION_NOT_ACTIVE and the work does not
 * run again.
 */
export async function withCredits<T>(
  ledger: Ledger,
  options: ReserveOptions,
  work: (hold: CreditHold) => Promise<T>,
): Promise<WithCreditsResult<T>> {
  const reservation = await ledger.reserve(options);
  if (reservation.status !== 'ACTIVE') {
    // A retried key found its earlier hold already settled: the earlier attempt finished
    // (or failed) and running the work again would run it uncharged.
    throw new DomainError(
      'RESERVATION_NOT_ACTIVE',
      `The reservation of this idempotency key is already ${reservation.status.toLowerCase()}`,
      { details: { reservationStatus: reservation.status } },
    );
  }
  let used = reservation.amount;
  const hold: CreditHold = {
    reservation,
    use(amount: number) {
      if (!Number.isSafeInteger(amount) || amount < 0 || amount > reservation.amount) {
        throw new RangeError(`use() takes an integer from 0 to ${reservation.amount}`);
      }
      used = amount;
    },
  };
  let result: T;
  try {
    result = await work(hold);
  } catch (error) {
    await ledger.release(reservation.id).catch(() => {
      // The hold lapses at its TTL anyway; the work's own error is the one to report.
    });
    throw error;
  }
  if (used === 0) {
    await ledger.release(reservation.id);
    return { result, charged: 0, transaction: null };
  }
  let captured;
  try {
    captured = await ledger.capture({ reservationId: reservation.id, amount: used });
  } catch (error) {
    // Not capturable (the balance no longer covers it after a clawback, say): give the
    // credits back now rather than holding them until the TTL.
    await ledger.release(reservation.id).catch(() => undefined);
    throw error;
  }
  return { result, charged: used, transaction: captured.transaction };
}

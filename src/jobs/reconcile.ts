/**
 * Settles, with the provider's answer, every order pending for over `olderThanMinutes`:
 * how many ended in each status. Billing provides it; jobs/ knows nothing of billing/.
 */
export type Reconcile = (olderThanMinutes: number) => Promise<{ settled: Record<string, number> }>;

/**
 * The scheduled reconciliation of stuck orders (a lost webhook, a user who never came
 * back). Its summary, logged with each run, counts the orders by the status they ended in.
 */
export async function reconcileJob(deps: {
  reconcile: Reconcile;
  minutes: number;
}): Promise<Record<string, number>> {
  return (await deps.reconcile(deps.minutes)).settled;
}

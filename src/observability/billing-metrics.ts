import { Counter, type Registry } from 'prom-client';

/** What billing's status module and webhook intake count, beside Metrics's own series. */
export interface BillingMetrics {
  /** Status changes outside the table of legal moves (billing/status.ts), by entity and move. */
  readonly statusMovesRefused: Counter<'entity' | 'from' | 'to'>;
  /** Webhook events not applied, by the condition's code (errors/domain-error.ts CONDITIONS). */
  readonly webhookFailures: Counter<'code'>;
}

/** Registers billing's counters in `registry`. Every label value comes from a closed set. */
export function billingMetrics(registry: Registry): BillingMetrics {
  return {
    statusMovesRefused: new Counter({
      name: 'tally_status_moves_refused_total',
      help: 'Order and subscription status changes refused as not legal moves, by entity, from and to',
      labelNames: ['entity', 'from', 'to'],
      registers: [registry],
    }),
    webhookFailures: new Counter({
      name: 'tally_webhook_failures_total',
      help: 'Webhook events stored FAILED (or ignored with a condition), by condition code',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}

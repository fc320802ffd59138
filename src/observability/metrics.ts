import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one service instance; each instance owns its registry. Label values
 * are always from closed sets (route patterns, event kinds, codes), never raw input, so no
 * caller can mint new series. Alert rules: ops/prometheus/alerts.yml.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Every metric registers here, this instance's registry (never the global one). */
  private readonly registers = [this.registry];

  readonly httpRequests: Counter<'method' | 'route' | 'status'> = new Counter({
    name: 'tally_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: this.registers,
  });
  readonly httpDuration: Histogram<'method' | 'route'> = new Histogram({
    name: 'tally_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: this.registers,
  });
  readonly graphqlErrors: Counter<'code'> = new Counter({
    name: 'tally_graphql_errors_total',
    help: 'GraphQL errors by code',
    labelNames: ['code'],
    registers: this.registers,
  });
  readonly graphqlDuration: Histogram<'operation'> = new Histogram({
    name: 'tally_graphql_operation_duration_seconds',
    help: 'GraphQL requests over HTTP, from start to answer, by operation type (query, mutation, invalid)',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: this.registers,
  });
  /** Payments that ended: completed, failed (the provider refused or broke), cancelled. */
  readonly payments: Counter<'outcome'> = new Counter({
    name: 'tally_payments_total',
    help: 'Payments that ended, by outcome (completed, failed, cancelled)',
    labelNames: ['outcome'],
    registers: this.registers,
  });
  readonly refunds: Counter<'kind'> = new Counter({
    name: 'tally_refunds_total',
    help: 'Provider refunds applied, by what was refunded (order, renewal)',
    labelNames: ['kind'],
    registers: this.registers,
  });
  readonly subscriptionConflicts: Counter = new Counter({
    name: 'tally_subscription_conflicts_total',
    help: 'Plans started while the user already had an active one (refund or cancel one)',
    registers: this.registers,
  });
  readonly checkouts: Counter<'outcome'> = new Counter({
    name: 'tally_checkouts_total',
    help: 'createCheckout calls by outcome (created, replayed, provider_error, rate_limited)',
    labelNames: ['outcome'],
    registers: this.registers,
  });
  readonly webhookEvents: Counter<'kind' | 'outcome'> = new Counter({
    name: 'tally_webhook_events_total',
    help: 'Webhook deliveries by event kind and outcome (processed, duplicate, ignored, failed, rejected)',
    labelNames: ['kind', 'outcome'],
    registers: this.registers,
  });
  /** From receipt of a webhook to the commit of what it changed. */
  readonly webhookSeconds: Histogram<'kind'> = new Histogram({
    name: 'tally_webhook_processing_seconds',
    help: 'Webhook processing, from receipt to commit, by event kind',
    labelNames: ['kind'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: this.registers,
  });
  /** Webhook events not applied (or set aside), by condition code (errors/domain-error.ts). */
  readonly webhookFailures: Counter<'code'> = new Counter({
    name: 'tally_webhook_failures_total',
    help: 'Webhook events stored FAILED, or IGNORED with a condition, by its code',
    labelNames: ['code'],
    registers: this.registers,
  });
  /** Status changes outside the table of legal moves (billing/status.ts). */
  readonly statusMovesRefused: Counter<'entity' | 'from' | 'to'> = new Counter({
    name: 'tally_status_moves_refused_total',
    help: 'Order and subscription status changes refused as not legal moves, by entity, from and to',
    labelNames: ['entity', 'from', 'to'],
    registers: this.registers,
  });
  readonly ledgerMovements: Counter<'type'> = new Counter({
    name: 'tally_ledger_movements_total',
    help: 'Committed ledger movements by transaction type',
    labelNames: ['type'],
    registers: this.registers,
  });
  readonly rateLimited: Counter<'limit'> = new Counter({
    name: 'tally_rate_limit_rejections_total',
    help: 'Requests refused by a rate limit (checkout, callback)',
    labelNames: ['limit'],
    registers: this.registers,
  });
  /** Set by the scheduled drift check (on whichever instance ran it last). */
  readonly driftUsers: Gauge = new Gauge({
    name: 'tally_credit_drift_users',
    help: 'Users whose balance differs from the sum of their transactions, at the last drift check',
    registers: this.registers,
  });
  /** Set by the scheduled drift check too, like `driftUsers`. */
  readonly reservedDriftUsers: Gauge = new Gauge({
    name: 'tally_credit_reserved_drift_users',
    help: 'Users whose reserved credits differ from the sum of their active holds, at the last drift check',
    registers: this.registers,
  });
  readonly users: Gauge = new Gauge({
    name: 'tally_users',
    help: 'User profiles, at the last drift check',
    registers: this.registers,
  });
  readonly driftCheckedAt: Gauge = new Gauge({
    name: 'tally_credit_drift_checked_timestamp_seconds',
    help: 'When the last drift check on this instance finished (unix seconds)',
    registers: this.registers,
  });
  readonly jobRuns: Counter<'job' | 'outcome'> = new Counter({
    name: 'tally_job_runs_total',
    help: 'Scheduled job runs on this instance by job and outcome (done, failed)',
    labelNames: ['job', 'outcome'],
    registers: this.registers,
  });

  constructor(options: { collectDefaults?: boolean } = {}) {
    if (options.collectDefaults) collectDefaultMetrics({ register: this.registry });
  }

  /** A gauge read when scraped (pool usage, open sockets). */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: this.registers,
      collect() {
        this.set(read());
      },
    });
  }
}

import type { AppConfig } from '../config';
import type { Ledger, ProfileService } from '../ledger';
import type { Logger, Metrics } from '../observability';
import { driftCheckJob } from './drift-check';
import { reconcileJob, type Reconcile } from './reconcile';
import { settleReservationsJob } from './reservations';
import type { Job } from './scheduler';

export interface ScheduleOptions {
  jobs: AppConfig['jobs'];
  reconcile: Reconcile;
  ledger: Pick<Ledger, 'drift' | 'reservedDrift' | 'settleExpiredReservations'>;
  profiles: Pick<ProfileService, 'countProfiles'>;
  metrics: Metrics;
  logger: Logger;
}

/** The scheduled jobs, as the configuration asks for them (none when JOBS_ENABLED=false). */
export function scheduledJobs(options: ScheduleOptions): Job[] {
  const { jobs } = options;
  if (!jobs.enabled) return [];
  return [
    {
      name: 'reconcile-stuck-orders',
      cron: jobs.reconcileCron,
      run: () =>
        reconcileJob({ reconcile: options.reconcile, minutes: jobs.reconcileAfterMinutes }),
    },
    {
      name: 'settle-expired-reservations',
      cron: '* * * * *',
      run: () => settleReservationsJob(options),
    },
    {
      name: 'credit-drift-check',
      cron: jobs.driftCheckCron,
      run: () => driftCheckJob(options),
    },
  ];
}

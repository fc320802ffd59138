export { JOBS_SCHEMA, startScheduler, type Job, type Scheduler } from './scheduler';
export {
  checkCredits,
  driftCheckJob,
  type CreditCheck,
  type CreditCheckSummary,
} from './drift-check';
export { reconcileJob, type Reconcile } from './reconcile';
export { settleReservationsJob } from './reservations';
export { scheduledJobs, type ScheduleOptions } from './schedule';

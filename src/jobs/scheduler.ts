import PgBoss from 'pg-boss';
import type { Logger } from '../observability';

export interface Job {
  /** Unique across the deployment: the pg-boss queue and schedule. */
  name: string;
  /** When it runs (cron, UTC, minute granularity), e.g. every five minutes: `*\/5 * * * *`. */
  cron: string;
  run(): Promise<unknown>;
}

export interface Scheduler {
  /**
   * Queues a run now; for operators and tests. False when a run (asked for or scheduled) is
   * already waiting: asks join it. An ask while a run is under way queues the next one, which
   * starts when that one ends: two queued runs of a job never overlap, across instances.
   */
  trigger(name: string): Promise<boolean>;
  /** Runs a job here and now, outside the queue; for operators and tests. */
  runNow(name: string): Promise<boolean>;
  stop(): Promise<void>;
}

/** The schema pg-boss keeps its queues, jobs and schedules in (its own, beside Tally's). */
export const JOBS_SCHEMA = 'pgboss';

const NO_JOBS: Scheduler = {
  trigger: async () => false,
  runNow: async () => false,
  async stop() {},
};

/**
 * Scheduled jobs on pg-boss, in PostgreSQL: each job's cron schedule is stored once, every
 * instance's clock sends at most one run per tick, and one worker across all instances takes
 * it (SKIP LOCKED). Runs survive restarts: a run taken by an instance that crashes expires
 * and is taken again. A queue's `stately` policy keeps at most one run of a job waiting and one active.
 * Each run is logged and reported through `onRun`.
 */
export async function startScheduler(options: {
  databaseUrl: string;
  logger: Logger;
  jobs: Job[];
  /** Told of each run on this instance (metrics). */
  onRun?: (job: string, outcome: 'done' | 'failed') => void;
  /** How often an idle worker looks for a run, in seconds (default 5). */
  pollSeconds?: number;
}): Promise<Scheduler> {
  const { logger, jobs, onRun } = options;
  if (jobs.length === 0) return NO_JOBS;
  const byName = new Map(jobs.map((job) => [job.name, job]));

  const run = async (job: Job): Promise<void> => {
    const started = Date.now();
    try {
      const summary = await job.run();
      logger.info({ job: job.name, ms: Date.now() - started, summary }, 'scheduled job done');
      onRun?.(job.name, 'done');
    } catch (error) {
      logger.error({ err: error, job: job.name }, 'scheduled job failed');
      onRun?.(job.name, 'failed');
      throw error;
    }
  };

  const boss = new PgBoss({
    connectionString: options.databaseUrl,
    schema: JOBS_SCHEMA,
    max: 3,
    application_name: 'tally-jobs',
  });
  boss.on('error', (error: Error) => logger.warn({ err: error }, 'job queue error (retrying)'));
  await boss.start();
  for (const job of jobs) {
    await boss.createQueue(job.name, {
      name: job.name,
      policy: 'stately',
      // A run that fails waits for the next tick; one taken by a crashed instance expires.
      retryLimit: 0,
      expireInSeconds: 15 * 60,
    });
    await boss.schedule(job.name, job.cron, {}, { tz: 'UTC' });
    await boss.work(
      job.name,
      { pollingIntervalSeconds: options.pollSeconds ?? 5, batchSize: 1 },
      async () => run(job),
    );
  }
  logger.info({ jobs: jobs.map((j) => `${j.name} ${j.cron}`) }, 'scheduled jobs ready');

  let stopped = false;
  return {
    async trigger(name) {
      if (!byName.has(name) || stopped) return false;
      // No singletonKey: the queue's stately policy keeps one waiting and one active run
      // per key, and the cron's runs have none. A keyed ask was a lane of its own, so a
      // triggered run could run beside a scheduled one on another instance.
      const id = await boss.send(name, {});
      return id !== null;
    },
    async runNow(name) {
      const job = byName.get(name);
      if (!job || stopped) return false;
      await run(job).catch(() => undefined);
      return true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await boss.stop({ graceful: true, wait: true, timeout: 5000 });
    },
  };
}

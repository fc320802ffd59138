import type { DataSource } from 'typeorm';
import type { Logger } from '../observability';

export interface Job {
  /** Unique across the deployment; the row in job_runs. */
  name: string;
  intervalMs: number;
  run(): Promise<unknown>;
}

export interface Scheduler {
  /** Runs a job now if its period is due on no instance yet (for tests and operators). */
  runIfDue(name: string): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Runs each job once per interval across every instance sharing the database: an instance
 * runs a job only if its conditional UPDATE of job_runs moves the last run forward, so two
 * instances ticking together run it once. Nothing is held between runs, a crashed instance
 * blocks nothing, and a restart picks up where the table says. Each instance ticks at a
 * tenth of the interval (with jitter) to notice a due job soon after it is due.
 */
export function startScheduler(options: {
  dataSource: DataSource;
  logger: Logger;
  jobs: Job[];
  /** Told of each run on this instance (metrics). */
  onRun?: (job: string, outcome: 'done' | 'failed') => void;
}): Scheduler {
  const { dataSource, logger, jobs, onRun } = options;
  const byName = new Map(jobs.map((job) => [job.name, job]));
  const running = new Set<Promise<unknown>>();
  let stopped = false;

  async function claim(job: Job): Promise<boolean> {
    const rows = (await dataSource.query(
      `INSERT INTO job_runs (name, last_run_at) VALUES ($1, now())
       ON CONFLICT (name) DO UPDATE SET last_run_at = now()
       WHERE job_runs.last_run_at <= now() - make_interval(secs => $2)
       RETURNING name`,
      [job.name, job.intervalMs / 1000],
    )) as unknown[];
    return rows.length === 1;
  }

  async function runIfDue(name: string): Promise<boolean> {
    const job = byName.get(name);
    if (!job || stopped) return false;
    if (!(await claim(job))) return false;
    const started = Date.now();
    try {
      const summary = await job.run();
      logger.info({ job: job.name, ms: Date.now() - started, summary }, 'scheduled job done');
      onRun?.(job.name, 'done');
    } catch (error) {
      logger.error({ err: error, job: job.name }, 'scheduled job failed');
      onRun?.(job.name, 'failed');
    }
    return true;
  }

  const timers = jobs.map((job) => {
    const tick = Math.max(1000, Math.floor(job.intervalMs / 10));
    const timer = setInterval(
      () => {
        const run = runIfDue(job.name).catch((error: unknown) =>
          logger.warn({ err: error, job: job.name }, 'scheduled job could not be claimed'),
        );
        running.add(run);
        void run.finally(() => running.delete(run));
      },
      tick + Math.floor(Math.random() * 250),
    );
    timer.unref();
    return timer;
  });

  return {
    runIfDue,
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.allSettled([...running]);
    },
  };
}

import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * When each scheduled job last ran. An instance runs a job only if it moves `last_run_at`
 * forward with a conditional UPDATE, so across several instances each period runs once.
 */
@Entity('job_runs')
export class JobRun {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ name: 'last_run_at', type: 'timestamptz' })
  lastRunAt!: Date;
}

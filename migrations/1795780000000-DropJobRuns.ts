import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scheduled jobs moved to pg-boss (its own `pgboss` schema, made by pg-boss when the
 * service starts with jobs on): the `job_runs` table of the earlier scheduler goes.
 */
export class DropJobRuns1795780000000 implements MigrationInterface {
  name = 'DropJobRuns1795780000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "job_runs"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "job_runs" ("name" character varying(64) NOT NULL, "last_run_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_b85618ada5b365476f91f989ed5" PRIMARY KEY ("name"))`,
    );
  }
}

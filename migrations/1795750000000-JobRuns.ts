import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When each scheduled job last ran (src/jobs): each period runs once across instances. */
export class JobRuns1795750000000 implements MigrationInterface {
  name = 'JobRuns1795750000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "job_runs" ("name" character varying(64) NOT NULL, "last_run_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_b85618ada5b365476f91f989ed5" PRIMARY KEY ("name"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "job_runs"`);
  }
}

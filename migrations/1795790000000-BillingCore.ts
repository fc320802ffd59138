import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Billing core: a subscription may be PAUSED (the provider stops billing it for a while),
 * and a webhook event keeps the code of the condition that stopped it beside its text.
 */
export class BillingCore1795790000000 implements MigrationInterface {
  name = 'BillingCore1795790000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "subscriptions" DROP CONSTRAINT "CHK_subscriptions_status"`,
    );
    await queryRunner.query(
      `ALTER TABLE "subscriptions" ADD CONSTRAINT "CHK_subscriptions_status" CHECK (status IN ('ACTIVE', 'PAST_DUE', 'PAUSED', 'CANCELLED'))`,
    );
    await queryRunner.query(`ALTER TABLE "webhook_events" ADD "error_code" character varying(48)`);
    await queryRunner.query(
      `CREATE INDEX "IDX_webhook_events_error_code" ON "webhook_events" ("error_code", "received_at") WHERE error_code IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_webhook_events_error_code"`);
    await queryRunner.query(`ALTER TABLE "webhook_events" DROP COLUMN "error_code"`);
    await queryRunner.query(
      `ALTER TABLE "subscriptions" DROP CONSTRAINT "CHK_subscriptions_status"`,
    );
    await queryRunner.query(
      `ALTER TABLE "subscriptions" ADD CONSTRAINT "CHK_subscriptions_status" CHECK (status IN ('ACTIVE', 'PAST_DUE', 'CANCELLED'))`,
    );
  }
}

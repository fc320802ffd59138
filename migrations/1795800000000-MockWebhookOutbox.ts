import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The mock provider's webhook outbox (`mock_webhook_deliveries`): its deliveries and their
 * retries survive a restart. And `mock_payments.cancel_at_period_end`: a subscription
 * cancelled at its period's end ends when the mock's clock reaches that end.
 *
 * Like the mock's other tables these exist in every database, production included, where
 * they stay empty (config refuses the mock provider there): one migration history for every
 * environment (see docs/PRODUCTION.md).
 */
export class MockWebhookOutbox1795800000000 implements MigrationInterface {
  name = 'MockWebhookOutbox1795800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "mock_webhook_deliveries" ("event_id" character varying(64) NOT NULL, "event_type" character varying(100) NOT NULL, "body" text NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'PENDING', "attempts" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "last_response_status" integer, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_mock_webhook_deliveries_due" CHECK ((status = 'PENDING') = (next_attempt_at IS NOT NULL)), CONSTRAINT "CHK_mock_webhook_deliveries_attempts" CHECK (attempts >= 0), CONSTRAINT "CHK_mock_webhook_deliveries_status" CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')), CONSTRAINT "PK_27365b27c2eb9a9f4c05ea6bdf9" PRIMARY KEY ("event_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_mock_webhook_deliveries_due" ON "mock_webhook_deliveries" ("next_attempt_at") WHERE status = 'PENDING'`,
    );
    await queryRunner.query(
      `ALTER TABLE "mock_payments" ADD "cancel_at_period_end" boolean NOT NULL DEFAULT false`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "mock_payments" DROP COLUMN "cancel_at_period_end"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_mock_webhook_deliveries_due"`);
    await queryRunner.query(`DROP TABLE "mock_webhook_deliveries"`);
  }
}

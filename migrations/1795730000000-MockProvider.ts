import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The mock payment provider's own records (src/entities/mock-payment.entity.ts), kept in the
 * database so that its checkouts, payments and subscriptions survive a restart.
 */
export class MockProvider1795730000000 implements MigrationInterface {
  name = 'MockProvider1795730000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "mock_payments" ("checkout_id" character varying(64) NOT NULL, "order_id" uuid NOT NULL, "product_name" character varying(200) NOT NULL, "recurring" boolean NOT NULL, "amount_minor" integer NOT NULL, "currency" character(3) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'OPEN', "transaction_id" character varying(64), "refunded_minor" integer NOT NULL DEFAULT '0', "subscription_id" character varying(64), "subscription_status" character varying(16), "period_start" TIMESTAMP WITH TIME ZONE, "period_end" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_mock_payments_subscription_status" CHECK (subscription_status IS NULL OR subscription_status IN ('ACTIVE', 'PAST_DUE', 'CANCELLED')), CONSTRAINT "CHK_mock_payments_refunded" CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor), CONSTRAINT "CHK_mock_payments_amount" CHECK (amount_minor > 0), CONSTRAINT "CHK_mock_payments_status" CHECK (status IN ('OPEN', 'PAID', 'CANCELLED')), CONSTRAINT "PK_57e6fa5fcc7713c601d8597b877" PRIMARY KEY ("checkout_id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_mock_payments_subscription" ON "mock_payments" ("subscription_id") WHERE subscription_id IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."UQ_mock_payments_subscription"`);
    await queryRunner.query(`DROP TABLE "mock_payments"`);
  }
}

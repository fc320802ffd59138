import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Renewal payments as records of their own (`subscription_payments`), so a refund of any
 * period's payment claws back what that payment bought; `provider_refunds` now points at an
 * order or at a renewal payment, exactly one. The mock provider keeps its renewal charges
 * (`mock_renewals`) so they can be refunded like a real provider's.
 */
export class RenewalPayments1795770000000 implements MigrationInterface {
  name = 'RenewalPayments1795770000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "mock_renewals" ("transaction_id" character varying(64) NOT NULL, "checkout_id" character varying(64) NOT NULL, "amount_minor" integer NOT NULL, "currency" character(3) NOT NULL, "refunded_minor" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_mock_renewals_refunded" CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor), CONSTRAINT "CHK_mock_renewals_amount" CHECK (amount_minor > 0), CONSTRAINT "PK_1cfbbb602bc68bb8f6a5cdff5c0" PRIMARY KEY ("transaction_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_mock_renewals_checkout" ON "mock_renewals" ("checkout_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "subscription_payments" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "subscription_id" uuid NOT NULL, "provider" character varying(32) NOT NULL, "provider_transaction_id" character varying(255) NOT NULL, "period_start" TIMESTAMP WITH TIME ZONE NOT NULL, "period_end" TIMESTAMP WITH TIME ZONE NOT NULL, "amount_minor" integer NOT NULL, "currency" character(3) NOT NULL, "credits" integer NOT NULL, "refunded_minor" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_subscription_payments_period" CHECK (period_end > period_start), CONSTRAINT "CHK_subscription_payments_currency" CHECK (currency ~ '^[A-Z]{3}$'), CONSTRAINT "CHK_subscription_payments_credits" CHECK (credits >= 0), CONSTRAINT "CHK_subscription_payments_refunded" CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor), CONSTRAINT "CHK_subscription_payments_amount" CHECK (amount_minor > 0), CONSTRAINT "PK_1b7a76365fd477de59cba0ab957" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_subscription_payments_subscription" ON "subscription_payments" ("subscription_id", "period_start") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_subscription_payments_provider_transaction" ON "subscription_payments" ("provider", "provider_transaction_id") `,
    );
    await queryRunner.query(`ALTER TABLE "provider_refunds" ADD "subscription_payment_id" uuid`);
    await queryRunner.query(`ALTER TABLE "provider_refunds" ALTER COLUMN "order_id" DROP NOT NULL`);
    await queryRunner.query(
      `CREATE INDEX "IDX_provider_refunds_subscription_payment" ON "provider_refunds" ("subscription_payment_id") WHERE subscription_payment_id IS NOT NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "provider_refunds" ADD CONSTRAINT "CHK_provider_refunds_payment" CHECK (num_nonnulls(order_id, subscription_payment_id) = 1)`,
    );
    await queryRunner.query(
      `ALTER TABLE "subscription_payments" ADD CONSTRAINT "FK_subscription_payments_subscription" FOREIGN KEY ("subscription_id") REFERENCES "subscriptions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "provider_refunds" ADD CONSTRAINT "FK_provider_refunds_subscription_payment" FOREIGN KEY ("subscription_payment_id") REFERENCES "subscription_payments"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "provider_refunds" DROP CONSTRAINT "FK_provider_refunds_subscription_payment"`,
    );
    await queryRunner.query(
      `ALTER TABLE "subscription_payments" DROP CONSTRAINT "FK_subscription_payments_subscription"`,
    );
    await queryRunner.query(
      `ALTER TABLE "provider_refunds" DROP CONSTRAINT "CHK_provider_refunds_payment"`,
    );
    await queryRunner.query(`DROP INDEX "public"."IDX_provider_refunds_subscription_payment"`);
    await queryRunner.query(`ALTER TABLE "provider_refunds" ALTER COLUMN "order_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "provider_refunds" DROP COLUMN "subscription_payment_id"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_subscription_payments_provider_transaction"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_subscription_payments_subscription"`);
    await queryRunner.query(`DROP TABLE "subscription_payments"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_mock_renewals_checkout"`);
    await queryRunner.query(`DROP TABLE "mock_renewals"`);
  }
}

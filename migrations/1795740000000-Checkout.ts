import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Checkout and refunds: the hosted checkout URL on each order (a replayed createCheckout
 * returns the same page), and one row per provider refund, unique per provider refund id, so
 * a refund is clawed back once however often it is announced.
 */
export class Checkout1795740000000 implements MigrationInterface {
  name = 'Checkout1795740000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "provider_refunds" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "provider" character varying(32) NOT NULL, "refund_id" character varying(255) NOT NULL, "order_id" uuid NOT NULL, "amount_minor" integer NOT NULL, "credits_clawed_back" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_provider_refunds_credits" CHECK (credits_clawed_back >= 0), CONSTRAINT "CHK_provider_refunds_amount" CHECK (amount_minor > 0), CONSTRAINT "PK_a32ab665d2ece48b517a3bc5ccd" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_provider_refunds_order" ON "provider_refunds" ("order_id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_provider_refunds_provider_refund" ON "provider_refunds" ("provider", "refund_id") `,
    );
    await queryRunner.query(`ALTER TABLE "orders" ADD "checkout_url" character varying(2048)`);
    await queryRunner.query(
      `ALTER TABLE "provider_refunds" ADD CONSTRAINT "FK_provider_refunds_order" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "provider_refunds" DROP CONSTRAINT "FK_provider_refunds_order"`,
    );
    await queryRunner.query(`ALTER TABLE "orders" DROP COLUMN "checkout_url"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_provider_refunds_provider_refund"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_provider_refunds_order"`);
    await queryRunner.query(`DROP TABLE "provider_refunds"`);
  }
}

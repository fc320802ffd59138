import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The first schema: profiles, orders, subscriptions, the credits ledger, webhook events and
 * idempotency keys. Generated from the entities, then reviewed; the append-only trigger on
 * credit_transactions is hand-written (TypeORM does not model triggers).
 *
 * What the database itself guarantees here (DESIGN.md invariants 4, 5 and 8):
 * - one PURCHASE per order, one SUBSCRIPTION_GRANT per (subscription, period start),
 *   one webhook event per (provider, event id), one idempotency key per (user, key);
 * - statuses, types, amount signs, currencies and the links each transaction type needs
 *   are CHECK constraints; money and credits are integers;
 * - credit_transactions refuses UPDATE, DELETE and TRUNCATE.
 */
export class Initial1795675882660 implements MigrationInterface {
  name = 'Initial1795675882660';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "user_profiles" ("id" character varying(255) NOT NULL, "credits" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_user_profiles_id" CHECK (length(id) BETWEEN 1 AND 255), CONSTRAINT "PK_1ec6662219f4605723f1e41b6cb" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "orders" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" character varying(255) NOT NULL, "product_id" character varying(64) NOT NULL, "kind" character varying(16) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'PENDING', "amount_minor" integer NOT NULL, "refunded_minor" integer NOT NULL DEFAULT '0', "currency" character(3) NOT NULL, "credits" integer NOT NULL, "provider" character varying(32) NOT NULL, "checkout_id" character varying(255), "provider_transaction_id" character varying(255), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "completed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "CHK_orders_completed_at" CHECK (status <> 'COMPLETED' OR completed_at IS NOT NULL), CONSTRAINT "CHK_orders_currency" CHECK (currency ~ '^[A-Z]{3}$'), CONSTRAINT "CHK_orders_credits" CHECK (credits >= 0), CONSTRAINT "CHK_orders_refunded" CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor), CONSTRAINT "CHK_orders_amount" CHECK (amount_minor > 0), CONSTRAINT "CHK_orders_kind" CHECK (kind IN ('CREDIT_PACK', 'SUBSCRIPTION')), CONSTRAINT "CHK_orders_status" CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED', 'FAILED', 'REFUNDED')), CONSTRAINT "PK_710e2d4957aa5878dfe94e4ac2f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_orders_pending_created" ON "orders" ("created_at") WHERE status = 'PENDING'`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_orders_user_history" ON "orders" ("user_id", "created_at", "id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_orders_provider_checkout" ON "orders" ("provider", "checkout_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "subscriptions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" character varying(255) NOT NULL, "order_id" uuid, "product_id" character varying(64) NOT NULL, "provider" character varying(32) NOT NULL, "provider_subscription_id" character varying(255) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'ACTIVE', "current_period_start" TIMESTAMP WITH TIME ZONE NOT NULL, "current_period_end" TIMESTAMP WITH TIME ZONE NOT NULL, "cancel_at_period_end" boolean NOT NULL DEFAULT false, "cancelled_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_subscriptions_period" CHECK (current_period_end > current_period_start), CONSTRAINT "CHK_subscriptions_status" CHECK (status IN ('ACTIVE', 'PAST_DUE', 'CANCELLED')), CONSTRAINT "PK_a87248d73155605cf782be9ee5e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_subscriptions_user" ON "subscriptions" ("user_id", "created_at") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_subscriptions_provider_ref" ON "subscriptions" ("provider", "provider_subscription_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "credit_transactions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "seq" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "user_id" character varying(255) NOT NULL, "type" character varying(32) NOT NULL, "amount" integer NOT NULL, "balance_after" integer NOT NULL, "description" character varying(500) NOT NULL, "order_id" uuid, "subscription_id" uuid, "period_start" TIMESTAMP WITH TIME ZONE, "refunded_transaction_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_credit_transactions_description" CHECK (length(description) BETWEEN 1 AND 500), CONSTRAINT "CHK_credit_transactions_links" CHECK ((type <> 'PURCHASE' OR order_id IS NOT NULL) AND (type <> 'SUBSCRIPTION_GRANT' OR (subscription_id IS NOT NULL AND period_start IS NOT NULL)) AND (type <> 'REFUND' OR refunded_transaction_id IS NOT NULL)), CONSTRAINT "CHK_credit_transactions_amount_sign" CHECK ((type IN ('PURCHASE', 'SUBSCRIPTION_GRANT', 'REFUND') AND amount > 0) OR (type IN ('CONSUMPTION', 'CLAWBACK') AND amount < 0) OR (type = 'ADJUSTMENT' AND amount <> 0)), CONSTRAINT "CHK_credit_transactions_type" CHECK (type IN ('PURCHASE', 'SUBSCRIPTION_GRANT', 'CONSUMPTION', 'REFUND', 'CLAWBACK', 'ADJUSTMENT')), CONSTRAINT "PK_a408319811d1ab32832ec86fc2c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_credit_transactions_refunded" ON "credit_transactions" ("refunded_transaction_id") WHERE refunded_transaction_id IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_credit_transactions_user_seq" ON "credit_transactions" ("user_id", "seq") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_credit_transactions_subscription_period" ON "credit_transactions" ("subscription_id", "period_start") WHERE type = 'SUBSCRIPTION_GRANT'`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_credit_transactions_purchase_order" ON "credit_transactions" ("order_id") WHERE type = 'PURCHASE'`,
    );
    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("user_id" character varying(255) NOT NULL, "key" character varying(255) NOT NULL, "operation" character varying(64) NOT NULL, "request_hash" character(64) NOT NULL, "response" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_idempotency_keys_key" CHECK (length(key) BETWEEN 1 AND 255), CONSTRAINT "PK_392b1af86f210d98d3f0c764728" PRIMARY KEY ("user_id", "key"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_events" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "provider" character varying(32) NOT NULL, "event_id" character varying(255) NOT NULL, "type" character varying(100) NOT NULL, "payload" jsonb NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'RECEIVED', "attempts" integer NOT NULL DEFAULT '0', "last_error" text, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "processed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "CHK_webhook_events_attempts" CHECK (attempts >= 0), CONSTRAINT "CHK_webhook_events_status" CHECK (status IN ('RECEIVED', 'PROCESSED', 'IGNORED', 'FAILED')), CONSTRAINT "PK_4cba37e6a0acb5e1fc49c34ebfd" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_webhook_events_unprocessed" ON "webhook_events" ("received_at") WHERE status IN ('RECEIVED', 'FAILED')`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_webhook_events_provider_event" ON "webhook_events" ("provider", "event_id") `,
    );
    await queryRunner.query(
      `ALTER TABLE "orders" ADD CONSTRAINT "FK_orders_user" FOREIGN KEY ("user_id") REFERENCES "user_profiles"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "subscriptions" ADD CONSTRAINT "FK_subscriptions_user" FOREIGN KEY ("user_id") REFERENCES "user_profiles"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "subscriptions" ADD CONSTRAINT "FK_subscriptions_order" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" ADD CONSTRAINT "FK_credit_transactions_user" FOREIGN KEY ("user_id") REFERENCES "user_profiles"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" ADD CONSTRAINT "FK_credit_transactions_order" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" ADD CONSTRAINT "FK_credit_transactions_subscription" FOREIGN KEY ("subscription_id") REFERENCES "subscriptions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" ADD CONSTRAINT "FK_credit_transactions_refunded" FOREIGN KEY ("refunded_transaction_id") REFERENCES "credit_transactions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" ADD CONSTRAINT "FK_idempotency_keys_user" FOREIGN KEY ("user_id") REFERENCES "user_profiles"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    // The ledger only appends: corrections are new rows (DESIGN.md invariant 5).
    await queryRunner.query(
      `CREATE FUNCTION "credit_transactions_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'credit_transactions is append-only: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation', HINT = 'correct a movement with a new transaction'; END $$`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "credit_transactions_append_only" BEFORE UPDATE OR DELETE ON "credit_transactions" FOR EACH ROW EXECUTE FUNCTION "credit_transactions_refuse_change"()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "credit_transactions_no_truncate" BEFORE TRUNCATE ON "credit_transactions" FOR EACH STATEMENT EXECUTE FUNCTION "credit_transactions_refuse_change"()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TRIGGER "credit_transactions_no_truncate" ON "credit_transactions"`,
    );
    await queryRunner.query(
      `DROP TRIGGER "credit_transactions_append_only" ON "credit_transactions"`,
    );
    await queryRunner.query(`DROP FUNCTION "credit_transactions_refuse_change"()`);
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" DROP CONSTRAINT "FK_idempotency_keys_user"`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" DROP CONSTRAINT "FK_credit_transactions_refunded"`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" DROP CONSTRAINT "FK_credit_transactions_subscription"`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" DROP CONSTRAINT "FK_credit_transactions_order"`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" DROP CONSTRAINT "FK_credit_transactions_user"`,
    );
    await queryRunner.query(`ALTER TABLE "subscriptions" DROP CONSTRAINT "FK_subscriptions_order"`);
    await queryRunner.query(`ALTER TABLE "subscriptions" DROP CONSTRAINT "FK_subscriptions_user"`);
    await queryRunner.query(`ALTER TABLE "orders" DROP CONSTRAINT "FK_orders_user"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_webhook_events_provider_event"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_webhook_events_unprocessed"`);
    await queryRunner.query(`DROP TABLE "webhook_events"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_credit_transactions_purchase_order"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_credit_transactions_subscription_period"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_credit_transactions_user_seq"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_credit_transactions_refunded"`);
    await queryRunner.query(`DROP TABLE "credit_transactions"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_subscriptions_provider_ref"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_subscriptions_user"`);
    await queryRunner.query(`DROP TABLE "subscriptions"`);
    await queryRunner.query(`DROP INDEX "public"."UQ_orders_provider_checkout"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_orders_user_history"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_orders_pending_created"`);
    await queryRunner.query(`DROP TABLE "orders"`);
    await queryRunner.query(`DROP TABLE "user_profiles"`);
  }
}

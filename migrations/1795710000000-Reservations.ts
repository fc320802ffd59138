import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Credit reservations: holds on credits that debits may not touch until they are captured,
 * released or expire (src/entities/credit-reservation.entity.ts). Adds the holds table, the
 * `reserved` sum on profiles, and the link from a capture's CONSUMPTION to its hold (unique:
 * a hold is captured at most once).
 *
 * A trigger keeps each hold's history honest: a row may only leave ACTIVE, once, for a final
 * status, and its amount, owner, description and expiry never change; rows are never deleted.
 */
export class Reservations1795710000000 implements MigrationInterface {
  name = 'Reservations1795710000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "credit_reservations" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" character varying(255) NOT NULL, "amount" integer NOT NULL, "status" character varying(16) NOT NULL, "description" character varying(500) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "settled_at" TIMESTAMP WITH TIME ZONE, "captured_amount" integer, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_credit_reservations_captured" CHECK ((status = 'CAPTURED') = (captured_amount IS NOT NULL) AND (captured_amount IS NULL OR captured_amount BETWEEN 1 AND amount)), CONSTRAINT "CHK_credit_reservations_settled" CHECK ((status = 'ACTIVE') = (settled_at IS NULL)), CONSTRAINT "CHK_credit_reservations_expiry" CHECK (expires_at > created_at), CONSTRAINT "CHK_credit_reservations_description" CHECK (length(description) BETWEEN 1 AND 500), CONSTRAINT "CHK_credit_reservations_status" CHECK (status IN ('ACTIVE', 'CAPTURED', 'RELEASED', 'EXPIRED')), CONSTRAINT "CHK_credit_reservations_amount" CHECK (amount > 0), CONSTRAINT "PK_b05e2b7003c9b9a8df70bca1a35" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_credit_reservations_expiring" ON "credit_reservations" ("expires_at") WHERE status = 'ACTIVE'`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_credit_reservations_active" ON "credit_reservations" ("user_id", "expires_at") WHERE status = 'ACTIVE'`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_profiles" ADD "reserved" integer NOT NULL DEFAULT '0'`,
    );
    await queryRunner.query(`ALTER TABLE "credit_transactions" ADD "reservation_id" uuid`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_credit_transactions_reservation" ON "credit_transactions" ("reservation_id") WHERE reservation_id IS NOT NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_profiles" ADD CONSTRAINT "CHK_user_profiles_reserved" CHECK (reserved >= 0)`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" ADD CONSTRAINT "CHK_credit_transactions_reservation" CHECK (reservation_id IS NULL OR type = 'CONSUMPTION')`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_reservations" ADD CONSTRAINT "FK_credit_reservations_user" FOREIGN KEY ("user_id") REFERENCES "user_profiles"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" ADD CONSTRAINT "FK_credit_transactions_reservation" FOREIGN KEY ("reservation_id") REFERENCES "credit_reservations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(`
      CREATE FUNCTION "credit_reservations_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'UPDATE' THEN
          RAISE EXCEPTION 'credit_reservations rows are never deleted (%)', TG_OP
            USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.status <> 'ACTIVE' OR NEW.status = 'ACTIVE'
           OR NEW.id <> OLD.id OR NEW.user_id <> OLD.user_id OR NEW.amount <> OLD.amount
           OR NEW.description <> OLD.description OR NEW.expires_at <> OLD.expires_at
           OR NEW.created_at <> OLD.created_at THEN
          RAISE EXCEPTION 'a reservation only settles, once, from ACTIVE'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'CHK_credit_reservations_transition';
        END IF;
        RETURN NEW;
      END $$`);
    await queryRunner.query(
      `CREATE TRIGGER "credit_reservations_settle_once" BEFORE UPDATE OR DELETE ON "credit_reservations" FOR EACH ROW EXECUTE FUNCTION "credit_reservations_guard"()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "credit_reservations_no_truncate" BEFORE TRUNCATE ON "credit_reservations" FOR EACH STATEMENT EXECUTE FUNCTION "credit_reservations_guard"()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TRIGGER "credit_reservations_no_truncate" ON "credit_reservations"`,
    );
    await queryRunner.query(
      `DROP TRIGGER "credit_reservations_settle_once" ON "credit_reservations"`,
    );
    await queryRunner.query(`DROP FUNCTION "credit_reservations_guard"()`);
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" DROP CONSTRAINT "FK_credit_transactions_reservation"`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_reservations" DROP CONSTRAINT "FK_credit_reservations_user"`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_transactions" DROP CONSTRAINT "CHK_credit_transactions_reservation"`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_profiles" DROP CONSTRAINT "CHK_user_profiles_reserved"`,
    );
    await queryRunner.query(`DROP INDEX "public"."UQ_credit_transactions_reservation"`);
    await queryRunner.query(`ALTER TABLE "credit_transactions" DROP COLUMN "reservation_id"`);
    await queryRunner.query(`ALTER TABLE "user_profiles" DROP COLUMN "reserved"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_credit_reservations_active"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_credit_reservations_expiring"`);
    await queryRunner.query(`DROP TABLE "credit_reservations"`);
  }
}

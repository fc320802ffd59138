import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A REFUND row gives back part or all of one CONSUMPTION of the same user, and the refunds
 * of a consumption never add up to more than it took (DESIGN.md invariant 4). Partial
 * refunds rule out a unique constraint, so a trigger enforces it: it locks the consumption
 * row (a row lock, not an UPDATE, so the append-only trigger is not involved), which
 * serialises concurrent refunds of one consumption, then sums the refunds already committed.
 * Each statement of a volatile plpgsql function takes a fresh snapshot, so the sum after the
 * lock sees a refund that committed while this one waited.
 */
export class RefundWithinConsumption1795700000000 implements MigrationInterface {
  name = 'RefundWithinConsumption1795700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "credit_transactions_check_refund"() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        consumed integer;
        consumption_user varchar;
        consumption_type varchar;
        already integer;
      BEGIN
        SELECT -amount, user_id, type INTO consumed, consumption_user, consumption_type
          FROM credit_transactions WHERE id = NEW.refunded_transaction_id FOR UPDATE;
        IF consumption_type IS DISTINCT FROM 'CONSUMPTION' OR consumption_user <> NEW.user_id THEN
          RAISE EXCEPTION 'a refund must give back a CONSUMPTION of the same user'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'CHK_credit_transactions_refund_target';
        END IF;
        SELECT COALESCE(sum(amount), 0) INTO already FROM credit_transactions
          WHERE refunded_transaction_id = NEW.refunded_transaction_id AND type = 'REFUND';
        IF already + NEW.amount > consumed THEN
          RAISE EXCEPTION 'refunds of % would exceed the % credits it took', NEW.refunded_transaction_id, consumed
            USING ERRCODE = 'check_violation', CONSTRAINT = 'CHK_credit_transactions_refund_total';
        END IF;
        RETURN NEW;
      END $$`);
    await queryRunner.query(
      `CREATE TRIGGER "credit_transactions_refund_within_consumption" BEFORE INSERT ON "credit_transactions" FOR EACH ROW WHEN (NEW.type = 'REFUND') EXECUTE FUNCTION "credit_transactions_check_refund"()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TRIGGER "credit_transactions_refund_within_consumption" ON "credit_transactions"`,
    );
    await queryRunner.query(`DROP FUNCTION "credit_transactions_check_refund"()`);
  }
}

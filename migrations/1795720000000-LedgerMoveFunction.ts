import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A credit movement as one database call: `tally_move` claims the idempotency key, changes
 * the balance with the conditional UPDATE, appends the transaction row and stores the result
 * under the key. Called outside an explicit transaction it is one round trip and its own
 * transaction, so a user's row lock is held only while PostgreSQL works and commits, never
 * while the application server is scheduled (a hot account's throughput no longer depends
 * on the Node event loop). Inside a caller's transaction it joins it.
 *
 * Refusals raise, so the whole call (the key's claim included) rolls back: a refused
 * deduction never binds its key. SQLSTATEs: TL001 insufficient credits, TL002 unknown user,
 * TL003 key reused with other arguments. A replay returns outcome 'replay' with the first
 * result's transaction id and balance.
 *
 * `tally_settle_expired_holds` marks a user's lapsed ACTIVE holds EXPIRED and takes them off
 * `reserved`, under the profile's row lock; `tally_move` calls it before refusing a debit.
 */
export class LedgerMoveFunction1795720000000 implements MigrationInterface {
  name = 'LedgerMoveFunction1795720000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "tally_settle_expired_holds"(p_user_id varchar) RETURNS integer
      LANGUAGE plpgsql AS $$
      DECLARE
        v_reserved integer;
        v_count integer;
        v_amount integer;
      BEGIN
        SELECT reserved INTO v_reserved FROM user_profiles WHERE id = p_user_id FOR NO KEY UPDATE;
        IF NOT FOUND OR v_reserved = 0 THEN
          RETURN 0;
        END IF;
        WITH expired AS (
          UPDATE credit_reservations SET status = 'EXPIRED', settled_at = expires_at
          WHERE user_id = p_user_id AND status = 'ACTIVE' AND expires_at <= clock_timestamp()
          RETURNING amount
        )
        SELECT count(*)::int, COALESCE(sum(amount), 0)::int INTO v_count, v_amount FROM expired;
        IF v_count > 0 THEN
          UPDATE user_profiles SET reserved = reserved - v_amount, updated_at = now()
          WHERE id = p_user_id;
        END IF;
        RETURN v_count;
      END $$`);

    await queryRunner.query(`
      CREATE FUNCTION "tally_move"(
        p_user_id varchar, p_delta integer, p_may_go_negative boolean, p_release_reserved integer,
        p_type varchar, p_description varchar, p_order_id uuid, p_subscription_id uuid,
        p_period_start timestamptz, p_refunded_transaction_id uuid, p_reservation_id uuid,
        p_key varchar, p_operation varchar, p_request_hash varchar)
      RETURNS TABLE (outcome varchar, transaction_id uuid, balance integer, tx_seq bigint, tx_created_at timestamptz)
      LANGUAGE plpgsql AS $$
      #variable_conflict use_column
      DECLARE
        v_first record;
        v_balance integer;
        v_id uuid;
        v_seq bigint;
        v_created_at timestamptz;
      BEGIN
        IF p_key IS NOT NULL THEN
          -- A concurrent call holding the same key makes this wait until it commits (then
          -- this replays it) or rolls back (then this claims the key and runs).
          INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response)
          VALUES (p_user_id, p_key, p_operation, p_request_hash, 'null'::jsonb)
          ON CONFLICT (user_id, key) DO NOTHING;
          IF NOT FOUND THEN
            SELECT k.operation, k.request_hash, k.response INTO v_first
            FROM idempotency_keys k WHERE k.user_id = p_user_id AND k.key = p_key;
            IF v_first.operation <> p_operation OR v_first.request_hash <> p_request_hash THEN
              RAISE EXCEPTION 'idempotency key reused with other arguments' USING ERRCODE = 'TL003';
            END IF;
            RETURN QUERY SELECT 'replay'::varchar, (v_first.response ->> 'transactionId')::uuid,
              (v_first.response ->> 'balance')::integer, NULL::bigint, NULL::timestamptz;
            RETURN;
          END IF;
        END IF;

        FOR attempt IN 1..2 LOOP
          -- The conditional UPDATE (DESIGN.md invariant 2): a debit other than a clawback must
          -- leave the unreserved balance at zero or above; a capture gives back its own hold.
          UPDATE user_profiles
          SET credits = credits + p_delta, reserved = reserved - p_release_reserved, updated_at = now()
          WHERE id = p_user_id
            AND (p_may_go_negative OR p_delta >= 0 OR credits - (reserved - p_release_reserved) + p_delta >= 0)
          RETURNING credits INTO v_balance;
          EXIT WHEN FOUND;
          IF NOT EXISTS (SELECT 1 FROM user_profiles WHERE id = p_user_id) THEN
            RAISE EXCEPTION 'user not found' USING ERRCODE = 'TL002';
          END IF;
          -- Holds that lapsed since the user's last write may still count in reserved.
          IF attempt = 2 OR tally_settle_expired_holds(p_user_id) = 0 THEN
            RAISE EXCEPTION 'Insufficient credits' USING ERRCODE = 'TL001';
          END IF;
        END LOOP;

        INSERT INTO credit_transactions
          (user_id, type, amount, balance_after, description, order_id, subscription_id,
           period_start, refunded_transaction_id, reservation_id)
        VALUES (p_user_id, p_type, p_delta, v_balance, p_description, p_order_id, p_subscription_id,
                p_period_start, p_refunded_transaction_id, p_reservation_id)
        RETURNING id, seq, created_at INTO v_id, v_seq, v_created_at;

        IF p_key IS NOT NULL THEN
          UPDATE idempotency_keys
          SET response = jsonb_build_object('transactionId', v_id, 'balance', v_balance)
          WHERE user_id = p_user_id AND key = p_key;
        END IF;
        RETURN QUERY SELECT 'moved'::varchar, v_id, v_balance, v_seq, v_created_at;
      END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION "tally_move"(varchar, integer, boolean, integer, varchar, varchar, uuid, uuid, timestamptz, uuid, uuid, varchar, varchar, varchar)`,
    );
    await queryRunner.query(`DROP FUNCTION "tally_settle_expired_holds"(varchar)`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When the provider says a subscription's latest applied status change happened. */
export class SubscriptionStatusTime1795760000000 implements MigrationInterface {
  name = 'SubscriptionStatusTime1795760000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "subscriptions" ADD "status_changed_at" TIMESTAMP WITH TIME ZONE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "subscriptions" DROP COLUMN "status_changed_at"`);
  }
}

import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * A user of the app, keyed by the JWT `sub`. `credits` is the balance; it is written only by
 * the ledger, always together with a credit_transactions row (DESIGN.md invariant 1).
 */
@Entity('user_profiles')
@Check('CHK_user_profiles_id', `length(id) BETWEEN 1 AND 255`)
@Check('CHK_user_profiles_reserved', `reserved >= 0`)
export class UserProfile {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  id!: string;

  @Column({ type: 'integer', default: 0 })
  credits!: number;

  /**
   * Sum of the user's ACTIVE reservations (credit_reservations), which debits may not touch.
   * Changed only together with a reservation's status, under this row's lock.
   */
  @Column({ type: 'integer', default: 0 })
  reserved!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

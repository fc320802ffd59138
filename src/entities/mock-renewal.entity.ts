import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The mock provider's renewal charges: each period after the first is a payment of its own,
 * refundable on its own, as at a real provider.
 */
@Entity('mock_renewals')
@Check('CHK_mock_renewals_amount', `amount_minor > 0`)
@Check('CHK_mock_renewals_refunded', `refunded_minor >= 0 AND refunded_minor <= amount_minor`)
@Index('IDX_mock_renewals_checkout', ['checkoutId'])
export class MockRenewal {
  @PrimaryColumn({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  /** The checkout that started the subscription (a `mock_payments` row). */
  @Column({ name: 'checkout_id', type: 'varchar', length: 64 })
  checkoutId!: string;

  @Column({ name: 'amount_minor', type: 'integer' })
  amountMinor!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ name: 'refunded_minor', type: 'integer', default: 0 })
  refundedMinor!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

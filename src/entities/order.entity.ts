import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { UserProfile } from './user-profile.entity';

export const ORDER_STATUSES = ['PENDING', 'COMPLETED', 'CANCELLED', 'FAILED', 'REFUNDED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const PRODUCT_KINDS = ['CREDIT_PACK', 'SUBSCRIPTION'] as const;
export type ProductKind = (typeof PRODUCT_KINDS)[number];

/**
 * One purchase attempt. The price and credits are copied from the catalog when the order is
 * made, so a later catalog change never alters what a user paid for.
 */
@Entity('orders')
@Check('CHK_orders_status', `status IN ('PENDING', 'COMPLETED', 'CANCELLED', 'FAILED', 'REFUNDED')`)
@Check('CHK_orders_kind', `kind IN ('CREDIT_PACK', 'SUBSCRIPTION')`)
@Check('CHK_orders_amount', `amount_minor > 0`)
@Check('CHK_orders_refunded', `refunded_minor >= 0 AND refunded_minor <= amount_minor`)
@Check('CHK_orders_credits', `credits >= 0`)
@Check('CHK_orders_currency', `currency ~ '^[A-Z]{3}$'`)
@Check('CHK_orders_completed_at', `status <> 'COMPLETED' OR completed_at IS NOT NULL`)
@Index('UQ_orders_provider_checkout', ['provider', 'checkoutId'], { unique: true })
@Index('IDX_orders_user_history', ['userId', 'createdAt', 'id'])
@Index('IDX_orders_pending_created', ['createdAt'], { where: `status = 'PENDING'` })
export class Order {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @ManyToOne(() => UserProfile, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_orders_user' })
  user?: UserProfile;

  @Column({ name: 'product_id', type: 'varchar', length: 64 })
  productId!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: ProductKind;

  @Column({ type: 'varchar', length: 16, default: 'PENDING' })
  status!: OrderStatus;

  /** Price in minor units (cents) of `currency`. */
  @Column({ name: 'amount_minor', type: 'integer' })
  amountMinor!: number;

  /** Minor units refunded by the provider so far. */
  @Column({ name: 'refunded_minor', type: 'integer', default: 0 })
  refundedMinor!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  /** Credits this order grants (per period for a subscription). */
  @Column({ type: 'integer' })
  credits!: number;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  @Column({ name: 'checkout_id', type: 'varchar', length: 255, nullable: true })
  checkoutId!: string | null;

  /** The hosted checkout page, kept so a replayed createCheckout returns the same one. */
  @Column({ name: 'checkout_url', type: 'varchar', length: 2048, nullable: true })
  checkoutUrl!: string | null;

  @Column({ name: 'provider_transaction_id', type: 'varchar', length: 255, nullable: true })
  providerTransactionId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;
}

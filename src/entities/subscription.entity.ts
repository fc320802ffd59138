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
import { Order } from './order.entity';
import { UserProfile } from './user-profile.entity';

export const SUBSCRIPTION_STATUSES = ['ACTIVE', 'PAST_DUE', 'PAUSED', 'CANCELLED'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** A recurring plan at the provider, mirrored here; each period grants credits once. */
@Entity('subscriptions')
@Check('CHK_subscriptions_status', `status IN ('ACTIVE', 'PAST_DUE', 'PAUSED', 'CANCELLED')`)
@Check('CHK_subscriptions_period', `current_period_end > current_period_start`)
@Index('UQ_subscriptions_provider_ref', ['provider', 'providerSubscriptionId'], { unique: true })
@Index('IDX_subscriptions_user', ['userId', 'createdAt'])
export class Subscription {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @ManyToOne(() => UserProfile, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_subscriptions_user' })
  user?: UserProfile;

  @Column({ name: 'order_id', type: 'uuid', nullable: true })
  orderId!: string | null;

  @ManyToOne(() => Order, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'order_id', foreignKeyConstraintName: 'FK_subscriptions_order' })
  order?: Order | null;

  @Column({ name: 'product_id', type: 'varchar', length: 64 })
  productId!: string;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  @Column({ name: 'provider_subscription_id', type: 'varchar', length: 255 })
  providerSubscriptionId!: string;

  @Column({ type: 'varchar', length: 16, default: 'ACTIVE' })
  status!: SubscriptionStatus;

  @Column({ name: 'current_period_start', type: 'timestamptz' })
  currentPeriodStart!: Date;

  @Column({ name: 'current_period_end', type: 'timestamptz' })
  currentPeriodEnd!: Date;

  @Column({ name: 'cancel_at_period_end', type: 'boolean', default: false })
  cancelAtPeriodEnd!: boolean;

  /**
   * When the provider says the latest status change it applied happened. An older event
   * arriving later never overrides a newer one.
   */
  @Column({ name: 'status_changed_at', type: 'timestamptz', nullable: true })
  statusChangedAt!: Date | null;

  @Column({ name: 'cancelled_at', type: 'timestamptz', nullable: true })
  cancelledAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

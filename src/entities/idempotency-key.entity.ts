import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import { UserProfile } from './user-profile.entity';

/**
 * The first result of a keyed write, scoped per user (invariant 6). The row is inserted in
 * the same database transaction as the write it guards: a concurrent replay blocks on the
 * primary key until the first commits (then replays its result) or rolls back (then runs),
 * so one key produces at most one movement and a failed write does not bind its key.
 */
@Entity('idempotency_keys')
@Check('CHK_idempotency_keys_key', `length(key) BETWEEN 1 AND 255`)
export class IdempotencyKey {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  key!: string;

  @ManyToOne(() => UserProfile, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_idempotency_keys_user' })
  user?: UserProfile;

  /** The operation the key was first used for, e.g. `deductCredits`. */
  @Column({ type: 'varchar', length: 64 })
  operation!: string;

  /** SHA-256 of the operation's canonical arguments. */
  @Column({ name: 'request_hash', type: 'char', length: 64 })
  requestHash!: string;

  /** The first result, replayed verbatim. */
  @Column({ type: 'jsonb' })
  response!: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

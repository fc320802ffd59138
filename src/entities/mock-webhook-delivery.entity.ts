import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';

export const MOCK_WEBHOOK_DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'FAILED'] as const;
export type MockWebhookDeliveryStatus = (typeof MOCK_WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * The mock provider's outbox: each webhook it sends, recorded in the transaction of the change
 * it reports, with its attempts. A delivery is PENDING while it may still be tried (at
 * `next_attempt_at`), then DELIVERED or, after its last attempt, FAILED. Kept in the database
 * so a restart loses no retry; Tally's billing never reads it.
 */
@Entity('mock_webhook_deliveries')
@Check('CHK_mock_webhook_deliveries_status', `status IN ('PENDING', 'DELIVERED', 'FAILED')`)
@Check('CHK_mock_webhook_deliveries_attempts', `attempts >= 0`)
@Check('CHK_mock_webhook_deliveries_due', `(status = 'PENDING') = (next_attempt_at IS NOT NULL)`)
@Index('IDX_mock_webhook_deliveries_due', ['nextAttemptAt'], { where: `status = 'PENDING'` })
export class MockWebhookDelivery {
  /** The event's id (`evt_…`): one delivery per event, as the mock has one endpoint. */
  @PrimaryColumn({ name: 'event_id', type: 'varchar', length: 64 })
  eventId!: string;

  @Column({ name: 'event_type', type: 'varchar', length: 100 })
  eventType!: string;

  /** The JSON body exactly as sent: the same bytes on every attempt (each signed anew). */
  @Column({ type: 'text' })
  body!: string;

  @Column({ type: 'varchar', length: 16, default: 'PENDING' })
  status!: MockWebhookDeliveryStatus;

  /** Attempts started so far (counted when one is claimed, so a crash mid-attempt counts). */
  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  /** When it is due next; while an attempt runs, the end of that attempt's claim. */
  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;

  /** The HTTP status of the last attempt; null when it got none (refused, timed out). */
  @Column({ name: 'last_response_status', type: 'integer', nullable: true })
  lastResponseStatus!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

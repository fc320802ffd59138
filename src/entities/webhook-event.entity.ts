import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export const WEBHOOK_EVENT_STATUSES = ['RECEIVED', 'PROCESSED', 'IGNORED', 'FAILED'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];

/**
 * A provider webhook, recorded after its signature is verified and before it is applied.
 * The unique (provider, event_id) makes a redelivered event a no-op (invariant 4).
 */
@Entity('webhook_events')
@Check('CHK_webhook_events_status', `status IN ('RECEIVED', 'PROCESSED', 'IGNORED', 'FAILED')`)
@Check('CHK_webhook_events_attempts', `attempts >= 0`)
@Index('UQ_webhook_events_provider_event', ['provider', 'eventId'], { unique: true })
@Index('IDX_webhook_events_error_code', ['errorCode', 'receivedAt'], {
  where: `error_code IS NOT NULL`,
})
@Index('IDX_webhook_events_unprocessed', ['receivedAt'], {
  where: `status IN ('RECEIVED', 'FAILED')`,
})
export class WebhookEvent {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  @Column({ name: 'event_id', type: 'varchar', length: 255 })
  eventId!: string;

  @Column({ type: 'varchar', length: 100 })
  type!: string;

  @Column({ type: 'jsonb' })
  payload!: unknown;

  @Column({ type: 'varchar', length: 16, default: 'RECEIVED' })
  status!: WebhookEventStatus;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  /**
   * The condition that stopped the last attempt (errors/domain-error.ts CONDITIONS, or
   * INTERNAL_SERVER_ERROR for anything unforeseen); null once applied.
   */
  @Column({ name: 'error_code', type: 'varchar', length: 48, nullable: true })
  errorCode!: string | null;

  @CreateDateColumn({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt!: Date | null;
}

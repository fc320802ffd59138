import { WebhookEvent } from '../entities';
import { DomainError } from '../errors';
import type { ProviderEvent } from '../providers';
import type { BillingDeps } from './deps';
import { isUuid } from './rows';
import { recordAndApply, type EventOutcome } from './webhook-intake';

export type ReplayOutcome =
  /** Applied again now: what became of it, and the stored row as it is after. */
  | { kind: 'replayed'; outcome: EventOutcome; event: WebhookEvent }
  /** Already applied or ignored: returned as it is, nothing happens twice. */
  | { kind: 'already_applied'; event: WebhookEvent };

/**
 * Applies a stored event again (an admin's replay of a FAILED or never applied one). Unknown
 * ids (or another provider's) are NOT_FOUND; a stored body that no longer reads is
 * BAD_USER_INPUT.
 */
export async function replayWebhookEvent(
  deps: BillingDeps,
  options: { id: string },
): Promise<ReplayOutcome> {
  const repository = deps.dataSource.getRepository(WebhookEvent);
  const { id } = options;
  const stored = isUuid(id) ? await repository.findOneBy({ id }) : null;
  if (!stored || stored.provider !== deps.provider.name) {
    throw new DomainError('NOT_FOUND', 'Webhook event not found');
  }
  if (stored.status !== 'RECEIVED' && stored.status !== 'FAILED') {
    return { kind: 'already_applied', event: stored };
  }
  let event: ProviderEvent;
  try {
    event = deps.provider.parseStoredEvent(stored.payload);
  } catch {
    throw new DomainError('BAD_USER_INPUT', 'The stored event cannot be read');
  }
  const outcome = await recordAndApply(deps, { event, type: stored.type, payload: stored.payload });
  return { kind: 'replayed', outcome, event: await repository.findOneByOrFail({ id }) };
}

/** Stored events, newest first, optionally of one status or one error code. */
export async function listWebhookEvents(
  deps: BillingDeps,
  options: {
    first: number;
    afterId?: string | undefined;
    status?: string | undefined;
    errorCode?: string | undefined;
  },
): Promise<{ events: WebhookEvent[]; hasNextPage: boolean }> {
  const qb = deps.dataSource
    .getRepository(WebhookEvent)
    .createQueryBuilder('e')
    .orderBy('e.received_at', 'DESC')
    .addOrderBy('e.id', 'DESC')
    .limit(options.first + 1);
  if (options.status) qb.andWhere('e.status = :status', { status: options.status });
  if (options.errorCode) qb.andWhere('e.error_code = :code', { code: options.errorCode });
  if (options.afterId) {
    if (!isUuid(options.afterId)) throw new DomainError('BAD_USER_INPUT', 'Malformed cursor');
    qb.andWhere(
      '(e.received_at, e.id) < (SELECT c.received_at, c.id FROM webhook_events c WHERE c.id = :after)',
      { after: options.afterId },
    );
  }
  const rows = await qb.getMany();
  return { events: rows.slice(0, options.first), hasNextPage: rows.length > options.first };
}

import { runTransaction } from '../db';
import {
  CONDITIONS,
  isConditionCode,
  isDatabaseUnavailable,
  isDomainError,
  type ConditionCode,
} from '../errors';
import { queryRows } from '../ledger';
import { WebhookPayloadError, WebhookSignatureError, type ProviderEvent } from '../providers';
import { applyProviderEvent } from './apply-event';
import type { BillingDeps } from './deps';

const MAX_ERROR_LENGTH = 500;

/** What became of one event, recorded and applied (or not). */
export type EventOutcome = { eventId: string; eventKind: ProviderEvent['kind'] } & (
  | { kind: 'applied' }
  /** Applied or ignored before: nothing happens twice. */
  | { kind: 'duplicate'; status: 'PROCESSED' | 'IGNORED' }
  | { kind: 'ignored'; code?: ConditionCode | undefined }
  /** Not applied, stored FAILED with its code: the provider's retry or a replay applies it. */
  | { kind: 'failed'; code: ConditionCode | 'INTERNAL_SERVER_ERROR'; retry: boolean }
  /** The database could not be reached: maybe nothing was stored; retry. */
  | { kind: 'unavailable' }
);

/** What became of one delivery. */
export type WebhookOutcome =
  | EventOutcome
  | { kind: 'bad_signature'; reason: string }
  | { kind: 'bad_payload'; reason: string };

/** NUL, or half of a surrogate pair: text PostgreSQL (jsonb, text) refuses to store. */
const LONE_SURROGATE = /\p{Surrogate}/u;
const unstorable = (text: string) => text.includes('\u0000') || LONE_SURROGATE.test(text);

/**
 * Whether every string of a parsed JSON value (keys included) can be stored. Walked with a
 * stack, not recursion: a 64 KB body can nest deeper than the call stack.
 */
export function storable(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (unstorable(item)) return false;
    } else if (item !== null && typeof item === 'object') {
      for (const [key, inner] of Object.entries(item)) {
        if (unstorable(key)) return false;
        stack.push(inner);
      }
    }
  }
  return true;
}

/**
 * A provider's webhook delivery: the signature over the raw body is checked before anything
 * else, then the event is recorded and applied once. Knows nothing of HTTP: the caller maps
 * the outcome to a status.
 */
export async function receiveWebhook(
  deps: BillingDeps,
  options: { rawBody: Buffer; headers: Record<string, string | string[] | undefined> },
): Promise<WebhookOutcome> {
  let parsed;
  try {
    parsed = deps.provider.parseWebhook(options.rawBody, options.headers);
  } catch (error) {
    if (error instanceof WebhookSignatureError) {
      deps.logger.warn({ reason: error.message }, 'webhook refused: bad signature');
      return { kind: 'bad_signature', reason: error.message };
    }
    if (error instanceof WebhookPayloadError) return { kind: 'bad_payload', reason: error.message };
    throw error;
  }
  const { event, type, payload } = parsed;
  if (!storable(payload)) {
    return {
      kind: 'bad_payload',
      reason: 'event holds a NUL or a lone surrogate, which cannot be stored',
    };
  }
  deps.logger.info({ eventId: event.eventId, type }, 'webhook started');
  return recordAndApply(deps, { event, type, payload });
}

/**
 * Records an event (unique per provider event id) and applies it once, in one transaction;
 * a failure is recorded as FAILED with its code and text, for the provider's retry or a
 * replay. A concurrent delivery of the same event waits on the first one's row.
 */
export async function recordAndApply(
  deps: BillingDeps,
  options: { event: ProviderEvent; type: string; payload: unknown },
): Promise<EventOutcome> {
  const { event, type, payload } = options;
  const eventId = event.eventId;
  const about = { eventId, eventKind: event.kind };
  try {
    return await runTransaction(deps.dataSource, async (manager): Promise<EventOutcome> => {
      let [row] = await queryRows<{ id: string; status: string }>(
        manager,
        `INSERT INTO webhook_events (provider, event_id, type, payload)
         VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING
         RETURNING id, status`,
        [deps.provider.name, eventId, type, JSON.stringify(payload)],
      );
      row ??= (
        await queryRows<{ id: string; status: string }>(
          manager,
          `SELECT id, status FROM webhook_events WHERE provider = $1 AND event_id = $2 FOR UPDATE`,
          [deps.provider.name, eventId],
        )
      )[0];
      if (row!.status === 'PROCESSED' || row!.status === 'IGNORED') {
        return { kind: 'duplicate', ...about, status: row!.status };
      }
      const applied = await applyProviderEvent(deps, { manager, event });
      const ignored = applied.kind === 'ignored';
      await manager.query(
        `UPDATE webhook_events SET status = $2, attempts = attempts + 1, error_code = $3,
           last_error = $4, processed_at = now() WHERE id = $1`,
        [
          row!.id,
          ignored ? 'IGNORED' : 'PROCESSED',
          ignored ? (applied.code ?? null) : null,
          ignored && applied.code ? applied.reason.slice(0, MAX_ERROR_LENGTH) : null,
        ],
      );
      return ignored
        ? { kind: 'ignored', ...about, code: applied.code }
        : { kind: 'applied', ...about };
    });
  } catch (error) {
    return recordFailure(deps, { event, type, payload, error });
  }
}

/** Stores a failed attempt (FAILED, its code and text) unless the event was applied meanwhile. */
async function recordFailure(
  deps: BillingDeps,
  options: { event: ProviderEvent; type: string; payload: unknown; error: unknown },
): Promise<EventOutcome> {
  const { event, type, payload, error } = options;
  const eventId = event.eventId;
  const about = { eventId, eventKind: event.kind };
  const code =
    isDomainError(error) && isConditionCode(error.code) ? error.code : 'INTERNAL_SERVER_ERROR';
  const message = (error instanceof Error ? error.message : String(error)).slice(
    0,
    MAX_ERROR_LENGTH,
  );
  const orderId = 'orderId' in event ? event.orderId : undefined;
  deps.logger.error({ err: error, eventId, type, orderId, code }, 'webhook failed');
  try {
    await deps.dataSource.query(
      `INSERT INTO webhook_events (provider, event_id, type, payload, status, attempts, last_error, error_code)
       VALUES ($1, $2, $3, $4, 'FAILED', 1, $5, $6)
       ON CONFLICT (provider, event_id) DO UPDATE
         SET status = 'FAILED', attempts = webhook_events.attempts + 1,
           last_error = EXCLUDED.last_error, error_code = EXCLUDED.error_code
         WHERE webhook_events.status IN ('RECEIVED', 'FAILED')`,
      [deps.provider.name, eventId, type, JSON.stringify(payload), message, code],
    );
  } catch (recordError) {
    deps.logger.error({ err: recordError, eventId }, 'webhook not recorded');
  }
  if (isDatabaseUnavailable(error)) return { kind: 'unavailable', ...about };
  const retry = code === 'INTERNAL_SERVER_ERROR' || CONDITIONS[code].retry;
  return { kind: 'failed', ...about, code, retry };
}

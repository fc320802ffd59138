import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../observability';

/** A message handler; it runs synchronously and must not throw. */
export type Listener = (message: string) => void;

/**
 * Topic-keyed broadcast between the instances of Tally. Publishing never throws and never
 * waits on the network: a live update is a convenience on top of the database, which stays
 * the source of truth (a client that missed one asks `me { credits }`).
 */
export interface PubSub {
  /** Delivers `message` to this instance's listeners of `topic` at once, and to other instances. */
  publish(topic: string, message: string): void;
  /** Whether a message on `topic` could reach anyone (else publishing can be skipped). */
  reaches(topic: string): boolean;
  /** Listens to `topic`; returns the function that stops listening. */
  subscribe(topic: string, listener: Listener): () => void;
  /** Listeners across all topics, on this instance. */
  readonly listenerCount: number;
  close(): Promise<void>;
}

/** Local listeners by topic: the whole pub/sub of a single instance, and every instance's fan-out. */
class LocalTopics {
  private readonly topics = new Map<string, Set<Listener>>();
  listenerCount = 0;

  constructor(private readonly logger: Logger) {}

  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  deliver(topic: string, message: string): void {
    const listeners = this.topics.get(topic);
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener(message);
      } catch (error) {
        this.logger.error({ err: error, topic }, 'realtime listener failed');
      }
    }
  }

  add(topic: string, listener: Listener): () => void {
    let listeners = this.topics.get(topic);
    if (!listeners) {
      listeners = new Set();
      this.topics.set(topic, listeners);
    }
    // A wrapper per subscription, so the same function subscribed twice is two listeners.
    const entry: Listener = (message) => listener(message);
    listeners.add(entry);
    this.listenerCount++;
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      listeners.delete(entry);
      this.listenerCount--;
      if (listeners.size === 0) this.topics.delete(topic);
    };
  }
}

/** One process: messages go straight to the listeners. */
export class InProcessPubSub implements PubSub {
  private readonly local: LocalTopics;

  constructor(logger: Logger) {
    this.local = new LocalTopics(logger);
  }

  get listenerCount(): number {
    return this.local.listenerCount;
  }

  publish(topic: string, message: string): void {
    this.local.deliver(topic, message);
  }

  reaches(topic: string): boolean {
    return this.local.has(topic);
  }

  subscribe(topic: string, listener: Listener): () => void {
    return this.local.add(topic, listener);
  }

  async close(): Promise<void> {}
}

/** The Redis channel every instance publishes to and listens on. */
export const REDIS_CHANNEL = 'tally:realtime';

/** Reconnection delay after the n-th failed attempt: 100 ms doubling, at most 5 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(attempt - 1, 6));
}

/**
 * Several instances: each message goes to this instance's listeners at once and, through one
 * Redis channel, to every other instance (which skips its own). One channel rather than a
 * channel per user keeps the subscription set fixed, so a reconnect restores it whole; each
 * instance filters locally.
 *
 * While Redis is unreachable the other instances miss this one's messages (logged once per
 * outage); local listeners still get everything, the API keeps serving, and the connection
 * is retried with backoff.
 */
export class RedisPubSub implements PubSub {
  private readonly local: LocalTopics;
  private readonly instanceId = randomUUID();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private down = false;
  private closed = false;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.local = new LocalTopics(logger);
    const options = {
      // Publishing while disconnected fails at once instead of queueing without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (attempt: number) => reconnectDelayMs(attempt),
    };
    this.publisher = new Redis(url, options);
    // The subscriber queues its one SUBSCRIBE until connected, and re-subscribes after a
    // reconnect by itself.
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true });
    for (const [name, client] of [
      ['publisher', this.publisher],
      ['subscriber', this.subscriber],
    ] as const) {
      client.on('error', (error: Error) => this.outage(name, error));
      client.on('ready', () => this.recovered(name));
    }
    // ioredis re-subscribes after a reconnect only to channels whose SUBSCRIBE succeeded; one
    // refused at start (Redis down) would be lost, so subscribe on every ready.
    const subscribe = () =>
      this.subscriber.subscribe(REDIS_CHANNEL).catch((error: unknown) => {
        if (!this.closed) this.outage('subscriber', error);
      });
    this.subscriber.on('ready', () => void subscribe());
    void subscribe();
    this.subscriber.on('message', (_channel: string, raw: string) => this.received(raw));
  }

  get listenerCount(): number {
    return this.local.listenerCount;
  }

  publish(topic: string, message: string): void {
    this.local.deliver(topic, message);
    if (this.publisher.status !== 'ready') {
      this.outage('publisher', new Error(`Redis ${this.publisher.status}`));
      return;
    }
    this.publisher
      .publish(REDIS_CHANNEL, JSON.stringify({ o: this.instanceId, t: topic, m: message }))
      .catch((error: unknown) => this.outage('publisher', error));
  }

  reaches(): boolean {
    // Another instance may have listeners: every message goes out.
    return true;
  }

  subscribe(topic: string, listener: Listener): () => void {
    return this.local.add(topic, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private received(raw: string): void {
    let envelope: { o?: unknown; t?: unknown; m?: unknown };
    try {
      envelope = JSON.parse(raw) as typeof envelope;
    } catch {
      this.logger.warn('realtime: unreadable message on the Redis channel');
      return;
    }
    if (envelope.o === this.instanceId) return;
    if (typeof envelope.t !== 'string' || typeof envelope.m !== 'string') return;
    this.local.deliver(envelope.t, envelope.m);
  }

  private outage(client: string, error: unknown): void {
    if (this.closed || this.down) return;
    this.down = true;
    this.logger.warn(
      { err: error, client },
      'realtime: Redis unreachable; other instances miss updates until it is back (retrying)',
    );
  }

  private recovered(client: string): void {
    if (!this.down) return;
    if (this.publisher.status === 'ready' && this.subscriber.status === 'ready') {
      this.down = false;
      this.logger.info({ client }, 'realtime: Redis reachable again');
    }
  }
}

/** In-process without REDIS_URL; through Redis with it. */
export function createPubSub(redisUrl: string | undefined, logger: Logger): PubSub {
  return redisUrl ? new RedisPubSub(redisUrl, logger) : new InProcessPubSub(logger);
}

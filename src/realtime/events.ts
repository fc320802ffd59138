import type { CreditTransaction, Order } from '../entities';
import type { Logger } from '../observability';
import type { PubSub } from './pubsub';

/** A committed ledger movement, as `balanceChanged` delivers it. */
export interface BalanceEvent {
  userId: string;
  balance: number;
  transaction: CreditTransaction;
}

/** An order after a committed status change, as `orderStatusChanged` delivers it. */
export interface OrderEvent {
  userId: string;
  order: Order;
}

const balanceTopic = (userId: string) => `balance:${userId}`;
const orderTopic = (userId: string) => `order:${userId}`;

const DATE_FIELDS = ['createdAt', 'updatedAt', 'completedAt', 'periodStart'] as const;

/** JSON turns dates into strings; the GraphQL types want them back. */
function reviveDates<T extends object>(row: T): T {
  const record = row as Record<string, unknown>;
  for (const field of DATE_FIELDS) {
    if (typeof record[field] === 'string') record[field] = new Date(record[field]);
  }
  return row;
}

export interface ListenOptions {
  /** Events kept for a subscriber that is not taking them; one more ends the subscription. */
  bufferSize: number;
  /** Called once when the buffer overflows (the connection should close: a stuck client). */
  onOverflow: () => void;
}

/**
 * An async iterator over one topic, buffered up to `bufferSize` events. graphql-ws pulls the
 * next event only once the previous one went out on the socket, so a client that stops
 * reading fills the buffer: then the subscription ends and `onOverflow` runs, and memory per
 * subscriber stays bounded.
 */
function listen<T>(
  pubsub: PubSub,
  topic: string,
  decode: (message: string) => T | undefined,
  options: ListenOptions,
): AsyncIterableIterator<T> & {
  /** Puts `value` before everything not yet taken, dropping queued events `keep` refuses. */
  prepend(value: T, keep: (queued: T) => boolean): void;
} {
  const queue: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    unsubscribe();
    queue.length = 0;
    waiting?.({ value: undefined, done: true });
    waiting = undefined;
  };
  const unsubscribe = pubsub.subscribe(topic, (message) => {
    if (done) return;
    const value = decode(message);
    if (value === undefined) return;
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ value, done: false });
      return;
    }
    if (queue.length >= options.bufferSize) {
      finish();
      options.onOverflow();
      return;
    }
    queue.push(value);
  });
  return {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => (waiting = resolve));
    },
    return() {
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error: unknown) {
      finish();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]() {
      return this;
    },
    prepend(value, keep) {
      if (done) return;
      const kept = queue.filter(keep);
      queue.length = 0;
      queue.push(...kept);
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve({ value, done: false });
      } else {
        queue.unshift(value);
      }
    },
  };
}

/**
 * Live updates: what the ledger and billing announce after their transactions commit, and
 * what subscribers receive. Per user, a subscriber sees balance events in commit order: each
 * carries its transaction's `seq` (rows of one user are written under that user's row lock,
 * so `seq` follows commit order), and an event older than one already delivered (possible
 * only when two instances publish at nearly the same moment) is skipped rather than shown
 * after a newer balance. The database stays the record: a client that reconnects reads
 * `me { credits }`.
 */
export class Realtime {
  constructor(
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
  ) {}

  /** Subscribers on this instance, across topics. */
  get subscriberCount(): number {
    return this.pubsub.listenerCount;
  }

  publishBalance(event: BalanceEvent): void {
    this.publish(balanceTopic(event.userId), event);
  }

  publishOrder(order: Order): void {
    this.publish(orderTopic(order.userId), { userId: order.userId, order } satisfies OrderEvent);
  }

  balanceChanges(userId: string, options: ListenOptions): AsyncIterableIterator<BalanceEvent> {
    let lastSeq = -1n;
    return listen(
      this.pubsub,
      balanceTopic(userId),
      (message) => {
        const event = this.decode<BalanceEvent>(message);
        if (!event) return undefined;
        const seq = BigInt(event.transaction.seq);
        if (seq <= lastSeq) return undefined;
        lastSeq = seq;
        reviveDates(event.transaction);
        return event;
      },
      options,
    );
  }

  /**
   * A user's order updates; with `orderId`, that order's only. An update older than one
   * already delivered for the same order (its `updatedAt`, set by each status change under
   * the order's row lock) is skipped: announcements of two quick changes may arrive in
   * either order.
   */
  orderChanges(
    userId: string,
    options: ListenOptions & { orderId?: string },
  ): AsyncIterableIterator<OrderEvent> & {
    /** Delivers `order` (its state now) first; queued updates not newer are dropped. */
    startWith(order: Order): void;
  } {
    const seen = new Map<string, number>();
    const isNew = (order: Order) =>
      new Date(order.updatedAt).getTime() > (seen.get(order.id) ?? -Infinity);
    const remember = (order: Order) => {
      // Bounded: a connection that sees many orders forgets the oldest.
      if (seen.size >= 1000 && !seen.has(order.id)) seen.delete(seen.keys().next().value!);
      seen.set(order.id, new Date(order.updatedAt).getTime());
    };
    const iterator = listen<OrderEvent>(
      this.pubsub,
      orderTopic(userId),
      (message) => {
        const event = this.decode<OrderEvent>(message);
        if (!event) return undefined;
        if (options.orderId !== undefined && event.order.id !== options.orderId) return undefined;
        reviveDates(event.order);
        if (!isNew(event.order)) return undefined;
        remember(event.order);
        return event;
      },
      options,
    );
    return Object.assign(iterator, {
      startWith(order: Order) {
        const at = new Date(order.updatedAt).getTime();
        iterator.prepend(
          { userId, order },
          (queued) =>
            queued.order.id !== order.id || new Date(queued.order.updatedAt).getTime() > at,
        );
        if (isNew(order)) remember(order);
      },
    });
  }

  close(): Promise<void> {
    return this.pubsub.close();
  }

  private publish(topic: string, event: object): void {
    // Nobody listening (a single instance, no subscriber of this user): no serialising.
    if (!this.pubsub.reaches(topic)) return;
    try {
      this.pubsub.publish(topic, JSON.stringify(event));
    } catch (error) {
      // Never let a live update disturb the committed work that announced it.
      this.logger.error({ err: error, topic }, 'realtime publish failed');
    }
  }

  private decode<T>(message: string): T | undefined {
    try {
      return JSON.parse(message) as T;
    } catch {
      this.logger.warn('realtime: unreadable event');
      return undefined;
    }
  }
}

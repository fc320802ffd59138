import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client (the package's own) over `ws`, to a Tally server's /graphql. */
export function liveClient(baseUrl: string, token?: string): Client {
  return createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

/** A running subscription: what it received (with arrival times), and how it ended. */
export interface Watch<T> {
  events: Array<{ data: T; at: number }>;
  errors: unknown[];
  /** Resolves when the subscription ends: completed, failed, or its socket closed. */
  ended: Promise<void>;
  /** Resolves once `count` events have arrived; rejects after `timeoutMs`. */
  until(count: number, timeoutMs?: number): Promise<Array<{ data: T; at: number }>>;
  stop(): void;
}

export function watch<T, V extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<T, V>,
  variables?: V,
): Watch<T> {
  const events: Array<{ data: T; at: number }> = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const stop = client.subscribe(
    { query: print(document), variables: variables ?? {} },
    {
      next: (result: ExecutionResult) => {
        if (result.errors) errors.push(...result.errors);
        else events.push({ data: result.data as T, at: performance.now() });
        for (const wake of waiters) wake();
      },
      error: (error: unknown) => {
        errors.push(error);
        end();
        for (const wake of waiters) wake();
      },
      complete: () => {
        end();
        for (const wake of waiters) wake();
      },
    },
  );
  return {
    events,
    errors,
    ended,
    stop,
    until(count, timeoutMs = 2000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (events.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(events);
          } else if (errors.length > 0) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`subscription failed: ${JSON.stringify(errors)}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${events.length} of ${count} events after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** Connects and waits until the subscription is live on the server (its listener exists). */
export async function waitForListeners(
  count: () => number,
  expected: number,
  timeoutMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count() < expected) {
    if (Date.now() > deadline) throw new Error(`${count()} of ${expected} listeners`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

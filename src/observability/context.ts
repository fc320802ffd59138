import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What every log line written while serving one request carries. */
export interface RequestContext {
  requestId: string;
  /** The client's address as the limits see it (TRUST_PROXY applied). */
  clientAddress?: string | undefined;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The caller's X-Request-Id when it is a sane one (so traces join up), else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && CLIENT_ID.test(value) ? value : randomUUID();
}

/** What the current request adds to a log line: its id and its client's address. */
export function currentLogFields(): { requestId?: string; clientAddress?: string } {
  const store = requestContext.getStore();
  if (!store) return {};
  return store.clientAddress
    ? { requestId: store.requestId, clientAddress: store.clientAddress }
    : { requestId: store.requestId };
}

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

import { DomainError } from '../errors';

/**
 * Opaque page cursors. They are not signed: a forged cursor can only move the caller
 * within their own history, which every query is scoped to anyway.
 */
function encode(parts: string[]): string {
  return Buffer.from(parts.join('|'), 'utf8').toString('base64url');
}

function decode(cursor: string, expectedParts: number): string[] {
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (parts.length !== expectedParts) throw invalidCursor();
  return parts;
}

function invalidCursor(): DomainError {
  return new DomainError('BAD_USER_INPUT', 'Invalid cursor');
}

export function encodeSeqCursor(seq: string): string {
  return encode(['t', seq]);
}

/** PostgreSQL's largest bigint. */
const MAX_BIGINT = 2n ** 63n - 1n;

export function decodeSeqCursor(cursor: string): string {
  const [tag, seq] = decode(cursor, 2);
  // A bigint column: 19 digits can still exceed its largest value.
  if (tag !== 't' || !seq || !/^\d{1,19}$/.test(seq) || BigInt(seq) > MAX_BIGINT) {
    throw invalidCursor();
  }
  return seq;
}

export function encodeIdCursor(id: string): string {
  return encode(['o', id]);
}

export function decodeIdCursor(cursor: string): string {
  const [tag, id] = decode(cursor, 2);
  if (tag !== 'o' || !id || !/^[0-9a-f-]{36}$/.test(id)) throw invalidCursor();
  return id;
}

/** A Relay-style page: edges with their cursors, and where the next page starts. */
export function toConnection<TItem, TNode>(
  items: readonly TItem[],
  hasNextPage: boolean,
  cursorOf: (item: TItem) => string,
  nodeOf: (item: TItem) => TNode,
): {
  edges: Array<{ cursor: string; node: TNode }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
} {
  const edges = items.map((item) => ({ cursor: cursorOf(item), node: nodeOf(item) }));
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}

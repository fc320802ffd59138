import fc from 'fast-check';
import { SignJWT } from 'jose';
import {
  Kind,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { TEST_JWT_SECRET, type TestServer } from '../support/server';
import { errorProblems, type GraphQLErrorLike } from './harness';

/**
 * What a fuzzed GraphQL request may be answered with, and who sends it.
 *
 * Allowed: any status below 500; errors each with a code of API.md's closed list, never
 * INTERNAL_SERVER_ERROR (no 500 is documented for GraphQL, whatever the input).
 *
 * "Refused", for "nothing written by a refused request":
 *  (A) refused before execution: the body has no `data` at all (a body that is not JSON,
 *      too large, unparsable, invalid against the schema, over the depth or cost limit,
 *      variables that do not coerce, a bad token, a subscription over HTTP, a mutation
 *      over GET, …); or
 *  (B) refused field by field: every root field of the operation that ran failed in its own
 *      resolver (an error whose path is exactly that field's response key). Mutations run
 *      each in one transaction, so a failed one rolls back everything, idempotency keys
 *      included. Root fields under @skip/@include are not counted on, so such a document
 *      is never judged (B).
 * For both, no row of any table may change, `user_profiles` included: `me` creates the
 * caller's profile only when it succeeds (its nested fields failing puts the error deeper
 * than the root key, so (B) does not apply to it).
 */

/**
 * `weird`: a valid token whose subject is odd (right-to-left marks, a space, `__proto__`);
 * `bad`: a header or token the server must refuse.
 */
export type CallerKind = 'anonymous' | 'user' | 'newUser' | 'service' | 'admin' | 'weird' | 'bad';

export interface Callers {
  /** The Authorization header for a caller kind and an index into that kind's tokens. */
  header(kind: CallerKind, index: number): string | undefined;
}

export const callerArbitrary = fc.record({
  kind: fc.constantFrom<CallerKind>(
    'anonymous',
    'user',
    'newUser',
    'service',
    'admin',
    'weird',
    'bad',
  ),
  index: fc.nat(15),
});

/** Tokens signed once: users, new users (profiles made on first use), roles, and bad ones. */
export async function createCallers(t: TestServer): Promise<Callers> {
  const sign = (
    claims: Record<string, unknown>,
    secret = TEST_JWT_SECRET,
    exp: number | string = '10m',
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));
  const users = await Promise.all(['fuzz-u1', 'fuzz-u2', 'fuzz-u3'].map((u) => t.token(u)));
  const newUsers = await Promise.all(Array.from({ length: 4 }, (_, i) => t.token(`fuzz-new-${i}`)));
  const service = [await t.token('fuzz-service', 'service')];
  const admin = [await t.token('fuzz-admin', 'admin')];
  const bad = [
    'Bearer',
    'Bearer ',
    'Bearer not.a.token',
    'Basic dXNlcjpwYXNz',
    `Bearer ${'a'.repeat(9000)}`,
    `Bearer ${users[0]!} extra`,
    `Bearer ${await t.token('fuzz-u1', 'user', { expiresIn: 1 })}`,
    `Bearer ${await sign({ sub: 'fuzz-u1', role: 'root' })}`,
    `Bearer ${await sign({ sub: 'fuzz-u1', role: 'admin' }, 'another-secret-another-secret-0123')}`,
    `Bearer ${await sign({ role: 'user' })}`,
    `Bearer ${await sign({ sub: 'x'.repeat(256) })}`,
    `Bearer ${await sign({ sub: 'fuzz-u1', role: ['admin'] })}`,
    // A NUL names no user (PostgreSQL refuses it in text): refused as UNAUTHENTICATED.
    `Bearer ${await sign({ sub: 'nul\u0000in-subject' })}`,
  ];
  const weird = [
    // The scheme is case-insensitive (RFC 7235): a valid token all the same.
    `bearer ${users[0]!}`,
    `Bearer ${await sign({ sub: '💸 ü \u202e' })}`,
    `Bearer ${await sign({ sub: ' ' })}`,
    `Bearer ${await sign({ sub: 'y'.repeat(255), role: 'service' })}`,
    `Bearer ${await sign({ sub: '__proto__', role: 'admin' })}`,
  ];
  const pools: Record<Exclude<CallerKind, 'anonymous'>, string[]> = {
    user: users.map((u) => `Bearer ${u}`),
    newUser: newUsers.map((u) => `Bearer ${u}`),
    service: service.map((u) => `Bearer ${u}`),
    admin: admin.map((u) => `Bearer ${u}`),
    weird,
    bad,
  };
  return {
    header(kind, index) {
      if (kind === 'anonymous') return undefined;
      const pool = pools[kind];
      return pool[index % pool.length];
    },
  };
}

/** The operation a request runs (by its name, or the only one), when the document parses. */
function selectedOperation(
  query: unknown,
  operationName: unknown,
): { document: DocumentNode; operation: OperationDefinitionNode } | undefined {
  if (typeof query !== 'string') return undefined;
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return undefined;
  }
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation =
    typeof operationName === 'string' && operationName !== ''
      ? operations.find((o) => o.name?.value === operationName)
      : operations.length === 1
        ? operations[0]
        : undefined;
  return operation ? { document, operation } : undefined;
}

/** Query, mutation or subscription: what the request runs, if anything. */
export function operationKind(query: unknown, operationName: unknown): string | undefined {
  return selectedOperation(query, operationName)?.operation.operation;
}

function collectRootKeys(
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  keys: Set<string>,
  seen: Set<string>,
): boolean {
  for (const selection of selectionSet.selections) {
    if (selection.directives?.length) return false;
    if (selection.kind === Kind.FIELD) {
      keys.add(selection.alias?.value ?? selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (!collectRootKeys(selection.selectionSet, fragments, keys, seen)) return false;
    } else {
      const name = selection.name.value;
      if (seen.has(name)) continue;
      seen.add(name);
      const fragment = fragments.get(name);
      if (!fragment || fragment.directives?.length) return false;
      if (!collectRootKeys(fragment.selectionSet, fragments, keys, seen)) return false;
    }
  }
  return true;
}

/**
 * The response keys of the root fields the operation would run, or undefined when that is not
 * certain (a directive at the root, no single operation to pick, an unparsable document).
 */
export function rootResponseKeys(query: unknown, operationName: unknown): Set<string> | undefined {
  const selected = selectedOperation(query, operationName);
  if (!selected || selected.operation.directives?.length) return undefined;
  const fragments = new Map(
    selected.document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const keys = new Set<string>();
  return collectRootKeys(selected.operation.selectionSet, fragments, keys, new Set())
    ? keys
    : undefined;
}

export interface Judged {
  /** Violations of the contract in the body itself. */
  problems: string[];
  /** Why the request counts as refused (nothing may be written), or undefined. */
  refused?: string;
}

/** Judges one GraphQL result (an HTTP body, or a graphql-ws `next` payload). */
export function judgeResult(
  body: unknown,
  request: { query: unknown; operationName?: unknown },
): Judged {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { problems: [], refused: 'the body is not a GraphQL result' };
  }
  const result = body as { data?: unknown; errors?: unknown };
  const problems = errorProblems(result.errors);
  if (!('data' in result)) return { problems, refused: '(A) no data: refused before execution' };
  const errors = Array.isArray(result.errors) ? (result.errors as GraphQLErrorLike[]) : [];
  const keys = rootResponseKeys(request.query, request.operationName);
  if (!keys || keys.size === 0 || errors.length === 0) return { problems };
  const failedAtRoot = new Set(
    errors
      .filter((e) => Array.isArray(e.path) && e.path.length === 1)
      .map((e) => String((e.path as unknown[])[0])),
  );
  if ([...keys].every((k) => failedAtRoot.has(k))) {
    return { problems, refused: `(B) every root field failed: ${[...keys].join(', ')}` };
  }
  return { problems };
}

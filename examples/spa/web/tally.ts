import { createClient, type Client } from 'graphql-ws/client';
import type { TypedDocumentString } from './generated/graphql';
import { AppError } from './errors';

interface GraphQLError {
  message: string;
  extensions?: { code?: string; retryAfter?: number };
}

/** Turns the first error of a GraphQL answer into an AppError with Tally's code. */
function toAppError(errors: readonly GraphQLError[]): AppError {
  const [first] = errors;
  return new AppError(
    first?.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
    first?.message ?? 'Unknown error',
    first?.extensions?.retryAfter,
  );
}

/**
 * The SPA's whole connection to Tally: typed operations over HTTP, and subscriptions over
 * one graphql-ws socket. The documents come from `npm run codegen`, so a query, its
 * variables and its result type cannot drift apart.
 */
export class Tally {
  private live: Client | undefined;

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  async request<R, V>(document: TypedDocumentString<R, V>, variables?: V): Promise<R> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${this.token}`,
      },
      body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
    });
    let body: { data?: R; errors?: GraphQLError[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new AppError('INTERNAL_SERVER_ERROR', `HTTP ${response.status}`);
    }
    if (body.errors?.length) throw toAppError(body.errors);
    if (!body.data) throw new AppError('INTERNAL_SERVER_ERROR', 'Empty answer');
    return body.data;
  }

  /** Calls `onData` for each event until the returned function is called. */
  subscribe<R, V>(
    document: TypedDocumentString<R, V>,
    variables: V,
    onData: (data: R) => void,
    onError: (error: AppError) => void,
  ): () => void {
    this.live ??= createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      connectionParams: { authorization: `Bearer ${this.token}` },
      // Reconnects after a network blip; the page re-reads `me` on reconnect (see main.ts).
      // A refused or expired token is final: retrying with it cannot help.
      retryAttempts: 5,
      shouldRetry: (event) => !isSessionClose(event),
    });
    return this.live.subscribe<R>(
      { query: document.toString(), variables: (variables ?? {}) as Record<string, unknown> },
      {
        next: (result) => {
          if (result.errors?.length) onError(toAppError(result.errors));
          else if (result.data) onData(result.data);
        },
        error: (event) =>
          onError(
            isSessionClose(event)
              ? new AppError('UNAUTHENTICATED', 'Session ended')
              : new AppError('INTERNAL_SERVER_ERROR', 'Live updates stopped'),
          ),
        complete: () => undefined,
      },
    );
  }

  onReconnect(listener: () => void): void {
    let first = true;
    this.live?.on('connected', () => {
      if (!first) listener();
      first = false;
    });
  }

  close(): void {
    void this.live?.dispose();
  }
}

/** Tally closes a socket with 4401 when its token expires, 4403 when it refuses one. */
function isSessionClose(event: unknown): boolean {
  const code = (event as { code?: unknown } | null)?.code;
  return code === 4401 || code === 4403;
}

/** Development sign-in: Tally's `POST /dev/token` (absent in production). */
export async function devSignIn(tallyUrl: string, userId: string): Promise<string> {
  const response = await fetch(`${tallyUrl}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const body = (await response.json().catch(() => ({}))) as {
    token?: string;
    errors?: GraphQLError[];
  };
  if (body.token) return body.token;
  if (body.errors?.length) throw toAppError(body.errors);
  throw new AppError(
    response.status === 404 ? 'NOT_FOUND' : 'INTERNAL_SERVER_ERROR',
    'Development sign-in is not available on this server',
  );
}

/**
 * Why the embedded PostgreSQL cannot start, as one sentence that says what to do; the
 * entry point prints it without a stack trace.
 */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

import pino, { type DestinationStream, type Logger } from 'pino';
import { currentLogFields } from './context';
import { createRedactor } from './redact';

export type { Logger };

/**
 * Paths that may carry credentials. pino replaces them before a line is written, so a
 * token or secret that reaches a log call by mistake is still never printed.
 */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  'secret',
  'token',
  '*.password',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.webhookSecret',
];

/**
 * Properties some libraries hang on their errors that describe a live connection, not the
 * failure: node-postgres errors seen by pg-boss carry the whole `client` (kilobytes per
 * line, with its connection parameters). Dropped from logged errors.
 */
const CONNECTION_PROPERTIES = ['client', 'connection', 'socket'];

function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown;
  if (serialized && typeof serialized === 'object') {
    for (const name of CONNECTION_PROPERTIES) delete (serialized as Record<string, unknown>)[name];
  }
  return serialized;
}

export interface LoggerOptions {
  pretty?: boolean;
  /** Configured secrets (keys, webhook secrets): hidden wherever they appear in a line. */
  secrets?: ReadonlyArray<string | undefined | null>;
  /** Where lines go (standard output by default); tests capture them. */
  destination?: DestinationStream;
}

/**
 * JSON lines (pino). Each line written while serving a request carries its `requestId`;
 * every finished line is scrubbed of tokens, keys, signatures, e-mail addresses and
 * card-like numbers (redact.ts), in fields, messages and error texts alike.
 */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const scrub = createRedactor(options.secrets);
  const settings: pino.LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
    base: { service: 'tally' },
    mixin: currentLogFields,
    hooks: { streamWrite: scrub },
    ...(options.pretty && !options.destination
      ? { transport: { target: 'pino-pretty', options: { colorize: true } } }
      : {}),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** A logger that writes nothing: the default for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });

import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ArgumentValidationError, type MiddlewareFn } from 'type-graphql';
import {
  DomainError,
  ERROR_CODES,
  HTTP_STATUS,
  isConditionCode,
  isDatabaseUnavailable,
  isDomainError,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  type ErrorCode,
} from '../errors';
import { currentRequestId, type Logger } from '../observability';
import type { GraphQLContext } from './context';

/** HTTP status of a single-operation request failing with each code (API.md): errors/'s table. */
export { HTTP_STATUS };

const KNOWN_CODES = new Set<string>(ERROR_CODES);
export const MASKED_MESSAGE = 'Internal server error';

/**
 * Errors raised by the GraphQL machinery itself about the client's document. Their messages
 * describe the query, not the server, so they are shown, under BAD_USER_INPUT.
 */
const DOCUMENT_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/** What a client is told while the database cannot be reached. */
export function unavailable(): DomainError {
  return new DomainError(
    'SERVICE_UNAVAILABLE',
    'The service is briefly unavailable; retry shortly',
    {
      retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
    },
  );
}

/** The one mapping from a domain error to what a client sees. */
export function domainErrorToGraphQL(error: DomainError): GraphQLError {
  const extensions: Record<string, unknown> = {
    code: error.code,
    http: { status: HTTP_STATUS[error.code] },
  };
  if (error.details) Object.assign(extensions, error.details);
  if (error.retryAfterSeconds !== undefined) {
    extensions['retryAfter'] = error.retryAfterSeconds;
    (extensions['http'] as { headers?: Map<string, string> }).headers = new Map([
      ['retry-after', String(error.retryAfterSeconds)],
    ]);
  }
  return new GraphQLError(error.message, { extensions });
}

/** A parse or validation error about the client's own document. */
export function documentError(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
  });
}

export function maskedError(): GraphQLError {
  return new GraphQLError(MASKED_MESSAGE, {
    extensions: { code: 'INTERNAL_SERVER_ERROR', http: { status: 500 } },
  });
}

/**
 * Converts whatever a resolver threw into the error a client may see. Domain errors keep
 * their code and message; argument validation becomes BAD_USER_INPUT; anything else is
 * logged in full here and reaches the client as a masked INTERNAL_SERVER_ERROR.
 */
export function toClientError(error: unknown, logger: Logger): GraphQLError {
  if (isDomainError(error) && !isConditionCode(error.code)) return domainErrorToGraphQL(error);
  if (error instanceof ArgumentValidationError) {
    const fields = error.extensions.validationErrors?.map((v) => ({
      field: v.property,
      problems: Object.values(v.constraints ?? {}),
    }));
    return new GraphQLError('Invalid argument', {
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 }, fields },
    });
  }
  if (error instanceof GraphQLError && KNOWN_CODES.has(String(error.extensions['code']))) {
    return error;
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn({ err: error }, 'database unavailable');
    return domainErrorToGraphQL(unavailable());
  }
  logger.error({ err: error }, 'unexpected error in a resolver');
  return maskedError();
}

/** type-graphql middleware around every resolver: errors leave it already mapped. */
export function errorMappingMiddleware(): MiddlewareFn<GraphQLContext> {
  return async ({ context }, next) => {
    try {
      return await next();
    } catch (error) {
      throw toClientError(error, context.logger);
    }
  };
}

/**
 * Apollo's last word on every error: keeps the closed code list, drops stack traces and
 * other internals, and masks anything that escaped the middleware.
 */
export function createFormatError(logger: Logger, onCode?: (code: ErrorCode) => void) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const rawCode = String(formatted.extensions?.['code'] ?? '');
    let result: GraphQLFormattedError;
    // An INTERNAL_SERVER_ERROR that is not already masked is an unexpected error Apollo
    // labelled itself (a plugin's, the library's): its message is internal too.
    const unexpected = rawCode === 'INTERNAL_SERVER_ERROR' && formatted.message !== MASKED_MESSAGE;
    if (KNOWN_CODES.has(rawCode) && !unexpected) {
      const {
        stacktrace: _stack,
        exception: _exception,
        http: _http,
        ...safe
      } = formatted.extensions ?? {};
      result = { ...formatted, extensions: safe };
    } else if (DOCUMENT_ERROR_CODES.has(rawCode)) {
      result = {
        message: formatted.message,
        ...(formatted.locations ? { locations: formatted.locations } : {}),
        extensions: { code: 'BAD_USER_INPUT' },
      };
    } else {
      logger.error({ err: original, code: rawCode }, 'unexpected GraphQL error');
      // The request id lets a user's report find the logged error.
      const requestId = currentRequestId();
      result = {
        message: MASKED_MESSAGE,
        ...(formatted.path ? { path: formatted.path } : {}),
        extensions: { code: 'INTERNAL_SERVER_ERROR', ...(requestId ? { requestId } : {}) },
      };
    }
    onCode?.(String(result.extensions?.['code']) as ErrorCode);
    return result;
  };
}

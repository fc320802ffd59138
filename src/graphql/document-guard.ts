import type { RequestHandler } from 'express';
import { parse } from 'graphql';
import { documentShapeError, type DocumentLimits } from './limits';

/** Query texts already found sound, so the hot path (the same texts again) parses nothing. */
const ACCEPTED_TEXTS = 2000;
/** A 100 KB body holds fewer tokens than this; a bound on the parser's work all the same. */
export const MAX_DOCUMENT_TOKENS = 20_000;

/**
 * Refuses, before Apollo runs anything, a request whose answer the client would not accept,
 * and runs documentShapeError on its query before Apollo validates it. Apollo offers no
 * hook that can refuse a parsed document before validation (an error thrown from
 * parsingDidStart's end hook is lost and the request goes on), and graphql's own validation
 * is where a hostile document costs seconds. Texts that pass are remembered; a text that
 * does not parse is left to Apollo, which answers it as usual.
 */
export function documentGuard(limits: DocumentLimits): RequestHandler {
  const accepted = new Set<string>();
  return (req, res, next) => {
    // Apollo negotiates the answer's type only after running the operation: a mutation with
    // `Accept: text/html` ran, then was answered 406, and a client retrying it ran it twice.
    if (!req.accepts(['application/json', 'application/graphql-response+json'])) {
      res.status(406).json({
        errors: [
          {
            message: 'Accept must allow application/json or application/graphql-response+json',
            extensions: { code: 'BAD_USER_INPUT' },
          },
        ],
      });
      return;
    }
    const body: unknown = req.body;
    const fromBody = (body as { query?: unknown } | undefined)?.query;
    const query = typeof fromBody === 'string' ? fromBody : req.query['query'];
    if (typeof query !== 'string' || accepted.has(query)) return next();
    let error;
    try {
      error = documentShapeError(parse(query, { maxTokens: MAX_DOCUMENT_TOKENS }), limits);
    } catch {
      return next();
    }
    if (error) {
      res
        .status(400)
        .json({ errors: [{ message: error.message, extensions: { code: 'BAD_USER_INPUT' } }] });
      return;
    }
    if (accepted.size >= ACCEPTED_TEXTS) accepted.delete(accepted.values().next().value!);
    accepted.add(query);
    next();
  };
}

import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Request, RequestHandler } from 'express';

interface RenderedPage {
  html: Buffer;
  gzip: Buffer;
  etag: string;
}

let page: Promise<RenderedPage> | undefined;

const gzip = promisify(gzipCallback);

/**
 * The GraphiQL playground, rendered from the `@graphql-yoga/render-graphiql` package with
 * every script and style inlined, so it works with no network beyond this server. The page
 * is about 9 MB: it is built once, on first request, gzipped off the event loop (about 2.4 MB),
 * and cached by ETag.
 */
function renderedPage(): Promise<RenderedPage> {
  page ??= buildPage();
  return page;
}

async function buildPage(): Promise<RenderedPage> {
  // Loaded lazily: the module is large and only browsers need it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { renderGraphiQL } = require('@graphql-yoga/render-graphiql') as {
    renderGraphiQL: (options: Record<string, unknown>) => string;
  };
  const html = Buffer.from(
    renderGraphiQL({
      title: 'Tally GraphQL playground',
      endpoint: '/graphql',
      subscriptionsProtocol: 'WS',
      defaultQuery: [
        '# Tally playground. Add an Authorization header for your own data,',
        '# e.g. {"Authorization": "Bearer <token from npm run token>"}',
        'query Catalog {',
        '  products { id name kind price currency credits interval }',
        '}',
        '',
      ].join('\n'),
      headers: '',
    }),
    'utf8',
  );
  return {
    html,
    gzip: await gzip(html, { level: 6 }),
    etag: `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`,
  };
}

/** A browser navigating to /graphql (wants HTML, sends no query) gets the playground. */
export function wantsPlayground(req: Request): boolean {
  return (
    req.method === 'GET' &&
    req.query['query'] === undefined &&
    req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) ===
      'text/html'
  );
}

export function graphiqlHandler(): RequestHandler {
  return async (req, res, next) => {
    if (!wantsPlayground(req)) {
      next();
      return;
    }
    const { html, gzip: compressed, etag } = await renderedPage();
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Vary', 'Accept, Accept-Encoding');
    if (req.headers['if-none-match'] === etag) {
      res.status(304).end();
      return;
    }
    res.type('html');
    if (req.acceptsEncodings('gzip') === 'gzip') {
      res.setHeader('Content-Encoding', 'gzip');
      res.send(compressed);
    } else {
      res.send(html);
    }
  };
}

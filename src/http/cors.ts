import type { RequestHandler } from 'express';
import { jsonError } from './json-error';

const ALLOWED_HEADERS =
  'authorization, content-type, apollo-require-preflight, x-apollo-operation-name';

/** Which browser origins may call the API, over HTTP and at the WebSocket upgrade. */
export interface OriginPolicy {
  /** CORS_ORIGINS, normalised as browsers send them; `*` for any. */
  allowed: readonly string[];
  /** This server's public URL: pages served from there are same-origin. */
  publicUrl: () => string;
  /**
   * Outside production, the port this server listens on: a page at localhost, 127.0.0.1 or
   * [::1] on that port is this server's own (the playground at either name). Undefined in
   * production. The Host header is never trusted for this: a DNS-rebinding page names its
   * own host there, and its Origin matches it.
   */
  loopbackPort: () => number | undefined;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Is a browser at `origin` allowed to call the API? Requests without an Origin are. */
export function originAllowed(origin: string | undefined, policy: OriginPolicy): boolean {
  if (!origin) return true;
  if (policy.allowed.includes('*') || policy.allowed.includes(origin)) return true;
  try {
    const parsed = new URL(origin);
    if (new URL(policy.publicUrl()).origin === parsed.origin) return true;
    const port = policy.loopbackPort();
    const originPort = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
    return port !== undefined && LOOPBACK_NAMES.has(parsed.hostname) && originPort === port;
  } catch {
    return false;
  }
}

/**
 * CORS for the listed origins only. A request that names another origin is refused with 403
 * before it runs: a browser would hide the answer anyway, but a mutation would already have
 * happened. Requests without an Origin header (servers, curl, same-origin navigation) pass.
 */
export function corsMiddleware(policy: OriginPolicy): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin && !originAllowed(origin, policy)) {
      res.status(403).json(jsonError('FORBIDDEN', 'Origin not allowed'));
      return;
    }
    if (origin && (policy.allowed.includes('*') || policy.allowed.includes(origin))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

import type { RequestHandler } from 'express';

const ALLOWED_HEADERS =
  'authorization, content-type, apollo-require-preflight, x-apollo-operation-name';

/**
 * Is a browser at `origin` allowed to call the API? Same-origin pages always are: the
 * request's own host, or this server's public URL (behind a proxy that rewrites Host).
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
  publicUrl?: string,
): boolean {
  if (!origin) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    const { host: originHost, origin: normalised } = new URL(origin);
    if (publicUrl !== undefined && new URL(publicUrl).origin === normalised) return true;
    return host !== undefined && originHost === host;
  } catch {
    return false;
  }
}

/**
 * CORS for the listed origins only. A request that names another origin is refused with 403
 * before it runs: a browser would hide the answer anyway, but a mutation would already have
 * happened. Requests without an Origin header (servers, curl, same-origin navigation) pass.
 */
export function corsMiddleware(
  allowed: readonly string[],
  publicUrl: () => string,
): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin && !originAllowed(origin, req.headers.host, allowed, publicUrl())) {
      res.status(403).json({
        errors: [{ message: 'Origin not allowed', extensions: { code: 'FORBIDDEN' } }],
      });
      return;
    }
    if (origin && (allowed.includes('*') || allowed.includes(origin))) {
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

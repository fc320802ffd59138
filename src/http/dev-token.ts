import express, { type Router } from 'express';
import { jsonError } from './json-error';

/** What a development user id may look like: short, printable, no spaces. */
const USER_ID = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * `POST /dev/token` with `{ "userId": "alice" }` answers `{ token, userId, expiresInSeconds }`:
 * a user-role token for anyone who asks, so an example app can sign in without an identity
 * provider. Mounted only when config.devTokens allows (see server.ts), and it never mints
 * service or admin tokens: a development server reachable from a network hands out no more
 * than one user's view of one user's data.
 */
export function devTokenRoutes(issue: (userId: string) => Promise<string>): Router {
  const router = express.Router();
  router.post('/token', express.json({ limit: '1kb' }), async (req, res) => {
    const userId = (req.body as { userId?: unknown } | undefined)?.userId;
    if (typeof userId !== 'string' || !USER_ID.test(userId)) {
      res
        .status(400)
        .json(jsonError('BAD_USER_INPUT', 'userId must be 1 to 64 letters, digits or . _ @ -'));
      return;
    }
    res.json({ token: await issue(userId), userId, expiresInSeconds: DEV_TOKEN_SECONDS });
  });
  return router;
}

export const DEV_TOKEN_SECONDS = 12 * 60 * 60;

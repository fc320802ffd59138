import express, { type Router } from 'express';
import { jwtVerify, SignJWT } from 'jose';

export interface PremiumWorkOptions {
  /** Tally's base URL, e.g. http://localhost:4000. */
  tallyUrl: () => string;
  /** The app's JWT secret: it signs users' tokens and this backend's service token. */
  jwtSecret: string;
  /** Credits one run costs. */
  cost: number;
}

/**
 * The example app's backend: `POST /api/premium-work` does paid work for the signed-in user.
 * Deduct before the work, refund when it fails, each with an idempotency key so that a
 * retried request (a timeout, a double click) moves credits once.
 */
export function premiumWorkRoutes(options: PremiumWorkOptions): Router {
  const secret = new TextEncoder().encode(options.jwtSecret);
  const router = express.Router();

  async function tally<T>(query: string, variables: object): Promise<T> {
    // A short-lived service token: it may move any user's credits, so it never leaves here.
    const serviceToken = await new SignJWT({ role: 'service' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('render-studio-backend')
      .setExpirationTime('2m')
      .sign(secret);
    const res = await fetch(`${options.tallyUrl()}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as {
      data?: T;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    };
    if (body.errors?.length)
      throw new TallyError(
        body.errors[0]!.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
        body.errors[0]!.message,
      );
    return body.data!;
  }

  router.post('/premium-work', express.json({ limit: '1kb' }), async (req, res) => {
    const fail = (req.body as { fail?: unknown })?.fail === true;
    const key = req.get('idempotency-key') ?? '';
    if (!/^[A-Za-z0-9-]{8,100}$/.test(key)) {
      res.status(400).json({
        error: {
          code: 'BAD_USER_INPUT',
          message: 'An Idempotency-Key header (8 to 100 letters, digits, -) is required',
        },
      });
      return;
    }
    let userId: string;
    try {
      const token = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '';
      const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
      if (!payload.sub || (payload['role'] ?? 'user') !== 'user') throw new Error('not a user');
      userId = payload.sub;
    } catch {
      res.status(401).json({ error: { code: 'UNAUTHENTICATED', message: 'Sign in first' } });
      return;
    }

    try {
      const { deductCredits } = await tally<{
        deductCredits: { balance: number; transaction: { id: string } };
      }>(
        `mutation ($input: DeductCreditsInput!) { deductCredits(input: $input) { balance transaction { id } } }`,
        {
          input: {
            userId,
            amount: options.cost,
            description: 'Premium work',
            idempotencyKey: `work-${key}`,
          },
        },
      ); // INSUFFICIENT_CREDITS throws here: nothing was taken
      try {
        const result = await doPremiumWork(fail);
        res.json({ result, balance: deductCredits.balance });
      } catch {
        const { refundCredits } = await tally<{ refundCredits: { balance: number } }>(
          `mutation ($input: RefundCreditsInput!) { refundCredits(input: $input) { balance } }`,
          {
            input: {
              transactionId: deductCredits.transaction.id,
              description: 'Premium work failed: refunded',
              idempotencyKey: `work-${key}-refund`,
            },
          },
        );
        res.status(502).json({
          error: {
            code: 'WORK_FAILED',
            message: `The work failed. Your ${options.cost} credits were refunded (balance ${refundCredits.balance}).`,
          },
        });
      }
    } catch (error) {
      const code = error instanceof TallyError ? error.code : 'INTERNAL_SERVER_ERROR';
      res
        .status(code === 'INSUFFICIENT_CREDITS' ? 402 : 502)
        .json({ error: { code, message: 'Billing failed' } });
    }
  });
  return router;
}

class TallyError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Stands in for the app's real work (a render, a model call): slow, and sometimes failing. */
async function doPremiumWork(fail: boolean): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (fail) throw new Error('the renderer crashed');
  return `rendered frame #${Math.floor(Math.random() * 10_000)}`;
}

import express, { type Router } from 'express';
import { jwtVerify, SignJWT } from 'jose';

export interface PremiumWorkOptions {
  /** Tally's base URL, e.g. http://localhost:4000. */
  tallyUrl: () => string;
  /** The app's JWT secret: it signs users' tokens and this backend's service token. */
  jwtSecret: string;
  /** Credits one run costs. */
  cost: number;
  /** How long to wait between refund attempts Tally did not answer (default 30 s). */
  refundRetryMs?: number;
}

interface Answer {
  status: number;
  body: { result?: string; error?: { code: string; message: string } };
}

/** Outcomes kept for retries; a real app stores them with the job, in its database. */
const MAX_REMEMBERED = 10_000;
const REFUND_ATTEMPTS = 20;

/**
 * The example app's backend: `POST /api/premium-work` does paid work for the signed-in user.
 *
 * - The request's `Idempotency-Key` makes it safe to retry: the work runs once and a retry
 *   gets the first answer; the deduction and the refund carry keys derived from it.
 * - Credits are taken before the work and given back when it fails. A refund Tally cannot
 *   take right now is retried until it can: credits taken for failed work are never kept.
 */
export function premiumWorkRoutes(options: PremiumWorkOptions): Router {
  const secret = new TextEncoder().encode(options.jwtSecret);
  const outcomes = new Map<string, Answer | 'running'>();
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
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as {
      data?: T;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    };
    const error = body.errors?.[0];
    if (error) throw new TallyError(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
    return body.data!;
  }

  /** Gives back what a failed run took; true once Tally has it (or had it already). */
  async function refund(transactionId: string, key: string): Promise<boolean> {
    try {
      await tally(
        `mutation ($input: RefundCreditsInput!) { refundCredits(input: $input) { balance } }`,
        {
          input: {
            transactionId,
            description: 'Premium work failed: refunded',
            idempotencyKey: `refund:${key}`,
          },
        },
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Keeps trying in the background; the same key means it is applied once however often. */
  function refundLater(transactionId: string, key: string, attempt = 1): void {
    setTimeout(() => {
      void refund(transactionId, key).then((done) => {
        if (!done && attempt < REFUND_ATTEMPTS) refundLater(transactionId, key, attempt + 1);
        else if (!done)
          process.stderr.write(`refund of ${transactionId} still failing: needs a person\n`);
      });
    }, options.refundRetryMs ?? 30_000).unref();
  }

  /** Charges, works, refunds on failure. `charged` is false when nothing was taken. */
  async function run(
    userId: string,
    key: string,
    fail: boolean,
  ): Promise<{ answer: Answer; charged: boolean }> {
    let charge: { transaction: { id: string } };
    try {
      ({ deductCredits: charge } = await tally<{ deductCredits: typeof charge }>(
        `mutation ($input: DeductCreditsInput!) { deductCredits(input: $input) { transaction { id } } }`,
        {
          input: {
            userId,
            amount: options.cost,
            description: 'Premium work',
            idempotencyKey: `deduct:${key}`,
          },
        },
      ));
    } catch (error) {
      let code = error instanceof TallyError ? error.code : 'SERVICE_UNAVAILABLE';
      // A user Tally has never seen has no credits yet.
      if (code === 'NOT_FOUND') code = 'INSUFFICIENT_CREDITS';
      const status = code === 'INSUFFICIENT_CREDITS' ? 402 : 502;
      const message = 'Billing failed; nothing was charged';
      return { answer: { status, body: { error: { code, message } } }, charged: false };
    }
    try {
      return {
        answer: { status: 200, body: { result: await doPremiumWork(fail) } },
        charged: true,
      };
    } catch {
      const back = await refund(charge.transaction.id, key);
      if (!back) refundLater(charge.transaction.id, key);
      const message = back
        ? `The work failed. Your ${options.cost} credits were refunded.`
        : `The work failed. Your ${options.cost} credits will be refunded shortly.`;
      return {
        answer: { status: 502, body: { error: { code: 'WORK_FAILED', message } } },
        charged: true,
      };
    }
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

    // A retry of a request already answered gets that answer; one still running, a 409.
    const id = `${userId}\n${key}`;
    const known = outcomes.get(id);
    if (known === 'running') {
      res.status(409).json({
        error: { code: 'IN_PROGRESS', message: 'This request is still running' },
      });
      return;
    }
    if (known) {
      res.status(known.status).json(known.body);
      return;
    }
    outcomes.set(id, 'running');
    const { answer, charged } = await run(userId, key, fail);
    // A refusal took nothing: forget it, so the same request can go through after a top-up.
    if (!charged) {
      outcomes.delete(id);
    } else {
      outcomes.set(id, answer);
      if (outcomes.size > MAX_REMEMBERED) outcomes.delete(outcomes.keys().next().value!);
    }
    res.status(answer.status).json(answer.body);
  });
  return router;
}

class TallyError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** Stands in for the app's real work (a render, a model call): slow, and sometimes failing. */
async function doPremiumWork(fail: boolean): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (fail) throw new Error('the renderer crashed');
  return `rendered frame #${Math.floor(Math.random() * 10_000)}`;
}

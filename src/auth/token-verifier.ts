import {
  SignJWT,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { DomainError } from '../errors';
import { ROLES, type Caller, type Role } from './caller';

export interface TokenVerifierOptions {
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Longest lifetime accepted (exp − iat, or exp − now without iat); default a day. */
  maxLifetimeSeconds?: number | undefined;
}

/** Clocks of the token's issuer and of this server may differ by this much. */
const CLOCK_TOLERANCE_SECONDS = 5;
const DEFAULT_MAX_LIFETIME_SECONDS = 24 * 60 * 60;

/**
 * Verified tokens are remembered (by their exact text) for at most this long and never past
 * their `exp`: an app backend sends the same service token with every request, and checking
 * its signature each time was an eighth of a request's CPU. A key removed from a JWKS stops
 * being honoured for its cached tokens within this delay.
 */
const VERIFIED_CACHE_MS = 60_000;
const VERIFIED_CACHE_SIZE = 10_000;

/** Longest bearer token accepted; anything longer is refused before parsing. */
const MAX_TOKEN_LENGTH = 8192;
const MAX_SUBJECT_LENGTH = 255;

function unauthenticated(message: string): DomainError {
  return new DomainError('UNAUTHENTICATED', message);
}

/**
 * Verifies the app's JWTs: HS256 with a shared secret, or any asymmetric algorithm of a JWKS.
 * Only those algorithms are accepted, so a token cannot pick `none` or switch HS/RS.
 */
export class TokenVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly verified = new Map<string, { caller: Caller; until: number }>();

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.jwksUrl) {
      this.key = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000 });
      this.algorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
    } else if (options.secret) {
      this.key = new TextEncoder().encode(options.secret);
      this.algorithms = ['HS256'];
    } else {
      throw new Error('TokenVerifier needs a secret or a JWKS URL');
    }
  }

  /** Reads `Authorization: Bearer <token>`; no header means an anonymous caller. */
  async callerFromHeader(header: string | undefined): Promise<Caller> {
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const match = /^Bearer ([A-Za-z0-9\-_.]+)$/i.exec(header.trim());
    if (!match?.[1]) throw unauthenticated('Authorization header must be "Bearer <token>"');
    return this.verify(match[1]);
  }

  async verify(token: string): Promise<Caller> {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated('Token too long');
    const now = Date.now();
    const remembered = this.verified.get(token);
    if (remembered) {
      if (remembered.until > now) return remembered.caller;
      this.verified.delete(token);
    }
    const caller = await this.verifyAfresh(token);
    const until = Math.min(
      now + VERIFIED_CACHE_MS,
      caller.kind === 'authenticated' && caller.tokenExpiresAt !== undefined
        ? caller.tokenExpiresAt * 1000
        : Infinity,
    );
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { caller, until });
    return caller;
  }

  private checkLifetime(payload: JWTPayload): void {
    const max = this.options.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
    const problem = lifetimeProblem(payload, max);
    if (problem) throw unauthenticated(problem);
  }

  private async verifyAfresh(token: string): Promise<Caller> {
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.algorithms,
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience ? { audience: this.options.audience } : {}),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // A token without an expiry would be good forever, on live sockets too.
        requiredClaims: ['exp'],
      });
      payload = result.payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('Token expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp') {
        throw unauthenticated('Token has no valid expiry (exp is required)');
      }
      if (error instanceof joseErrors.JOSEError) throw unauthenticated('Invalid token');
      throw error;
    }
    this.checkLifetime(payload);
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.length === 0) {
      throw unauthenticated('Token has no subject');
    }
    if (subject.length > MAX_SUBJECT_LENGTH) throw unauthenticated('Token subject too long');
    // Control characters (NUL above all, which PostgreSQL refuses in text) name no user.
    if (/\p{Cc}/u.test(subject)) {
      throw unauthenticated('Token subject has control characters');
    }
    const claimed = payload['role'] ?? 'user';
    if (typeof claimed !== 'string' || !(ROLES as readonly string[]).includes(claimed)) {
      throw unauthenticated('Token role must be user, service or admin');
    }
    return {
      kind: 'authenticated',
      subject,
      role: claimed as Role,
      tokenExpiresAt: payload.exp,
    };
  }
}

/**
 * Tokens live at most maxLifetimeSeconds, and none is issued in the future: a leaked token
 * with a far `exp`, or one stamped ahead to outlive the limit, is refused.
 */
function lifetimeProblem(payload: JWTPayload, maxLifetimeSeconds: number): string | undefined {
  const now = Math.floor(Date.now() / 1000);
  const { exp, iat } = payload;
  if (typeof exp !== 'number') return 'Token has no expiry';
  if (iat !== undefined && iat > now + CLOCK_TOLERANCE_SECONDS) return 'Token issued in the future';
  const issued = iat ?? now;
  if (exp - issued > maxLifetimeSeconds + CLOCK_TOLERANCE_SECONDS) {
    return `Token lifetime exceeds ${maxLifetimeSeconds} seconds`;
  }
  return undefined;
}

/** Signs an HS256 token: for development tokens and tests, never used by the service. */
export async function signToken(options: {
  secret: string;
  subject: string;
  role?: Role;
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
}): Promise<string> {
  let jwt = new SignJWT({ role: options.role ?? 'user' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

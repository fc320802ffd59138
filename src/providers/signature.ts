import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookSignatureError } from './types';

/** Hex HMAC-SHA256 of `message` under `secret`. */
export function hmacHex(secret: string, message: string | Buffer): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

/** Constant-time comparison of two hex digests; false for any malformed or unequal input. */
export function hexDigestsEqual(expected: string, candidate: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(candidate)) return false;
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(candidate, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Parses a `k=v<sep>k=v` signature header into its timestamp and candidate digests (a key
 * may repeat, as during a secret rotation).
 */
export function parseSignatureHeader(
  header: string | undefined,
  options: { separator: string; timestampKey: string; digestKey: string },
): { timestamp: number; digests: string[] } {
  if (!header || header.length > 2048) throw new WebhookSignatureError('missing signature');
  let timestamp: number | undefined;
  const digests: string[] = [];
  for (const part of header.split(options.separator)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === options.timestampKey && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === options.digestKey) digests.push(value);
  }
  if (timestamp === undefined || digests.length === 0) {
    throw new WebhookSignatureError('malformed signature');
  }
  return { timestamp, digests };
}

/** Refuses a timestamp further than `toleranceSeconds` from now, either way (replays). */
export function assertFresh(timestamp: number, toleranceSeconds: number, now = Date.now()): void {
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) {
    throw new WebhookSignatureError('signature timestamp outside the tolerance');
  }
}

/** How a provider lays out its timestamped HMAC-SHA256 signature header. */
export interface SignatureScheme {
  /** e.g. `,` for `t=…,v1=…`, `;` for `ts=…;h1=…`. */
  separator: string;
  timestampKey: string;
  digestKey: string;
  /** What goes between the timestamp and the raw body in the signed message. */
  joiner: string;
  toleranceSeconds: number;
}

/**
 * Verifies a timestamped signature header over the raw body: well-formed, fresh, and one of
 * its digests (there may be several during a secret rotation) equal in constant time to
 * HMAC-SHA256(secret, timestamp + joiner + body). Throws WebhookSignatureError.
 */
export function verifyTimestampedSignature(
  header: string | string[] | undefined,
  rawBody: Buffer,
  secret: string,
  scheme: SignatureScheme,
): void {
  const { timestamp, digests } = parseSignatureHeader(
    Array.isArray(header) ? header[0] : header,
    scheme,
  );
  assertFresh(timestamp, scheme.toleranceSeconds);
  const expected = hmacHex(
    secret,
    Buffer.concat([Buffer.from(`${timestamp}${scheme.joiner}`), rawBody]),
  );
  if (!digests.some((d) => hexDigestsEqual(expected, d))) {
    throw new WebhookSignatureError('signature does not match');
  }
}

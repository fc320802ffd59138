import { hmacHex } from '../signature';

/**
 * The mock provider's webhooks on the wire, as API.md documents them: what its fake backend
 * sends and its adapter reads. Both sides import this file, and nothing else of each other's.
 */

export const MOCK_SIGNATURE_HEADER = 'mock-signature';
/** Seconds either side of `t` within which a Mock-Signature is accepted. */
export const MOCK_SIGNATURE_TOLERANCE_SECONDS = 300;

/** A webhook as the mock sends it: a JSON body `{ id, type, created_at, data }`. */
export interface MockEvent {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

/** Signs a body as the mock provider does: `t=<unix>,v1=<hex HMAC(secret, t + "." + body)>`. */
export function mockSignature(secret: string, body: string, at = Date.now()): string {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${hmacHex(secret, `${t}.${body}`)}`;
}

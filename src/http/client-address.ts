import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { TrustProxy } from '../config';

/** Trusts no X-Forwarded-For entry (the default): a client cannot pick its own address. */
const trustNone = () => false;

/** Express's and the WebSocket upgrade's one test of whether a hop may be believed. */
export function trustFunction(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === false) return trustNone;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyaddr.compile([...trust]);
}

/**
 * The client's address as every limit and log line sees it: the socket's peer, or, through
 * trusted proxies only, the nearest untrusted address they forwarded. The same answer as
 * express's `req.ip` with the same trust.
 */
export function clientAddressResolver(trust: TrustProxy): (req: IncomingMessage) => string {
  const trusted = trustFunction(trust);
  return (req) => proxyaddr(req, trusted);
}

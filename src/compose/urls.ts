import type { AppConfig } from '../config';

/** Every URL the parts of a server are built with; final once the server listens. */
export interface ServerUrls {
  /** Where this server answers itself (the mock provider sends its webhooks here). */
  ownUrl: string;
  /** Where users' browsers reach it (PUBLIC_URL). */
  publicUrl: string;
  /** Where a user lands after paying, or after giving up. */
  successUrl: string;
  cancelUrl: string;
}

/**
 * The URLs of a server listening on `port`. With PORT=0 the configuration cannot know the
 * port, so PUBLIC_URL's default names port 0 (`http://localhost:0`); that placeholder, and
 * the success and cancel URLs built on it, take the server's own address instead. Any URL
 * given explicitly is kept as given.
 */
export function serverUrls(
  config: Pick<AppConfig, 'host' | 'port' | 'publicUrl' | 'successUrl' | 'cancelUrl'>,
  port: number,
): ServerUrls {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const ownUrl = `http://${host}:${port}`;
  const { publicUrl, successUrl, cancelUrl } = config;
  if (config.port !== 0 || !/:0$/.test(publicUrl)) {
    return { ownUrl, publicUrl, successUrl, cancelUrl };
  }
  const rebase = (url: string) =>
    url.startsWith(`${publicUrl}/`) ? ownUrl + url.slice(publicUrl.length) : url;
  return {
    ownUrl,
    publicUrl: ownUrl,
    successUrl: rebase(successUrl),
    cancelUrl: rebase(cancelUrl),
  };
}

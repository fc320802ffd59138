/**
 * Masks a secret for logs and error messages: only the last four characters survive,
 * and short secrets are hidden entirely so that a 4-character secret is never printed whole.
 */
export function maskSecret(secret: string | undefined | null): string {
  if (!secret) return '(unset)';
  if (secret.length <= 8) return '****';
  return `****${secret.slice(-4)}`;
}

/** Masks the password of a connection string (postgres://user:pass@host/db). */
export function maskUrl(url: string | undefined | null): string {
  if (!url) return '(unset)';
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = maskSecret(decodeURIComponent(parsed.password));
    return parsed.toString();
  } catch {
    return maskSecret(url);
  }
}

/** The configured secrets' values: what logs must never show whole. */
export function configSecrets(config: {
  jwt: { secret: string | undefined };
  mockWebhookSecret: string;
  paddle: { apiKey: string; webhookSecret: string } | undefined;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  metricsToken?: string | undefined;
}): string[] {
  const passwordOf = (url: string | undefined) => {
    try {
      return url ? decodeURIComponent(new URL(url).password) : '';
    } catch {
      return '';
    }
  };
  return [
    config.jwt.secret,
    config.mockWebhookSecret,
    config.paddle?.apiKey,
    config.paddle?.webhookSecret,
    passwordOf(config.databaseUrl),
    passwordOf(config.redisUrl),
    config.metricsToken,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
}

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

export const ROLES = ['user', 'service', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is calling. Resolvers ask this, never the token: a user acts on their own data, the
 * app's backend (`service`) and admins may act on any user's.
 */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'authenticated'; subject: string; role: Role; tokenExpiresAt: number | undefined };

export const ANONYMOUS: Caller = Object.freeze({ kind: 'anonymous' });

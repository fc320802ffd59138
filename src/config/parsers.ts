import proxyaddr from 'proxy-addr';
import { z } from 'zod';

/**
 * The parsers of src/config/variables.ts: each turns one variable's text (or its absence)
 * into a value, undefined when unset or empty, or fails with a message that follows the
 * variable's name ("PORT must be an integer between 0 and 65535").
 */
export type Parser<T> = z.ZodType<T | undefined, unknown>;

/** TRUST_PROXY's value: see `TrustProxy` in variables.ts. */
type TrustProxyValue = false | number | readonly string[];

export const emptyToUndefined = (v: unknown) =>
  typeof v === 'string' && v.trim() === '' ? undefined : v;

export const optionalString: Parser<string> = z.preprocess(emptyToUndefined, z.string().optional());

/** A string around which spaces mean nothing (a token pasted from a dashboard). */
export const trimmedString: Parser<string> = z.preprocess(
  emptyToUndefined,
  z.string().trim().optional(),
);

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, message: string) =>
  z.preprocess(emptyToUndefined, z.enum(values, { message }).optional());

export const secretOfAtLeast = (length: number): Parser<string> =>
  z.preprocess(
    emptyToUndefined,
    z.string().min(length, `must be at least ${length} characters`).optional(),
  );

/** A five-field cron expression (minute hour day-of-month month day-of-week). */
export const cron: Parser<string> = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .regex(/^\s*([0-9*,/-]+\s+){4}[0-9A-Za-z*,/-]+\s*$/, {
      message: 'must be a five-field cron expression, e.g. */5 * * * *',
    })
    .optional(),
);

export const httpUrl: Parser<string> = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine((v) => /^https?:\/\/[^\s/]+/.test(v) && URL.canParse(v), 'must be an http(s) URL')
    .optional(),
);

/** An http(s) URL that paths are appended to: trailing slashes dropped. */
export const baseUrl: Parser<string> = httpUrl.transform((v) => v?.replace(/\/+$/, ''));

// zod's .url() refuses socket-style strings (postgres://u@/db?host=/run/postgresql), so a
// connection string is only checked for its scheme.
export const postgresUrl: Parser<string> = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine(
      (v) => /^postgres(ql)?:\/\//.test(v),
      'must be a postgres:// or postgresql:// connection string',
    )
    .optional(),
);

export const redisUrl: Parser<string> = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL')
    .optional(),
);

export const intInRange = (min: number, max: number): Parser<number> =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\d+$/, `must be an integer between ${min} and ${max}`)
      .transform(Number)
      .refine((n) => n >= min && n <= max, `must be an integer between ${min} and ${max}`)
      .optional(),
  );

export const bool: Parser<boolean> = z.preprocess(
  emptyToUndefined,
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .optional(),
);

export const paddlePriceId: Parser<string> = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .trim()
    .regex(/^pri_[a-z0-9]{6,64}$/, 'must be a Paddle price id (pri_…)')
    .optional(),
);

/** Longest hop count TRUST_PROXY takes: more proxies than that in front is a mistake. */
const MAX_PROXY_HOPS = 10;

/**
 * TRUST_PROXY: `false` (the socket's peer), a hop count, or proxy addresses. A message that
 * names the variable itself ("TRUST_PROXY=true would …") is reported as it stands.
 */
export const trustProxy: Parser<TrustProxyValue> = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .transform((raw, ctx): TrustProxyValue => {
      const value = raw.trim();
      if (value === 'false' || value === '0') return false;
      if (value === 'true') {
        ctx.addIssue(
          'TRUST_PROXY=true would believe any X-Forwarded-For: give the number of proxies in front, or their addresses',
        );
        return false;
      }
      if (/^\d+$/.test(value)) {
        const hops = Number(value);
        if (hops > MAX_PROXY_HOPS) ctx.addIssue(`must be at most ${MAX_PROXY_HOPS} hops`);
        return hops;
      }
      const list = splitList(value);
      try {
        proxyaddr.compile(list);
      } catch (error) {
        ctx.addIssue(
          `must be a hop count or addresses and subnets (${error instanceof Error ? error.message : 'unreadable'})`,
        );
      }
      return list;
    })
    .optional(),
);

/**
 * CORS_ORIGINS: origins, comma-separated, kept as a browser sends them (lower-case host, no
 * default port) or they could never match; `none` for no other origin at all.
 */
export const corsOrigins: Parser<string[]> = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .transform((raw, ctx) => {
      const origins: string[] = [];
      for (const origin of raw === 'none' ? [] : splitList(raw)) {
        if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
          ctx.addIssue(
            `CORS_ORIGINS entry "${origin}" must be an origin like https://app.example.com`,
          );
        } else {
          origins.push(origin === '*' ? origin : new URL(origin).origin);
        }
      }
      return origins;
    })
    .optional(),
);

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

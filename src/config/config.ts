import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { listProducts } from '../catalog';

/**
 * Development-only secrets. They let `npm start` work on a bare machine, and are refused
 * outright when NODE_ENV=production (see `loadConfig`).
 */
export const DEV_JWT_SECRET = 'tally-development-jwt-secret-do-not-use-in-production';
export const DEV_MOCK_WEBHOOK_SECRET = 'tally-development-mock-webhook-secret';
const DEV_SECRETS = new Set([DEV_JWT_SECRET, DEV_MOCK_WEBHOOK_SECRET]);

/**
 * Where `npm run example` serves the example SPA. In development, with CORS_ORIGINS unset,
 * browsers there may call the API; in production and in tests nothing is allowed by default.
 */
export const EXAMPLE_APP_ORIGINS = ['http://localhost:5173', 'http://127.0.0.1:5173'];

export type PaymentProviderName = 'mock' | 'paddle';

/**
 * TRUST_PROXY: which hops in front of Tally may say who the client is (X-Forwarded-For).
 * `false`: none, the socket's peer is the client; a number: that many proxies in front; a
 * list: the proxies' addresses or subnets (`loopback`, `10.0.0.0/8`, …).
 */
export type TrustProxy = false | number | readonly string[];
export type PaymentEnv = 'production' | 'test';

export interface PaddleKeys {
  apiKey: string;
  webhookSecret: string;
  /** Paddle price id of each catalog product, by product id. */
  priceIds: Record<string, string>;
  /** Client-side token for Paddle.js on the checkout page Tally serves (optional). */
  clientToken: string | undefined;
  /** The API's base URL: Paddle's sandbox or production, or PADDLE_API_URL (a fake, in tests). */
  apiUrl: string;
}

/** `credits-100` → `CREDITS_100`: how a product id appears in a variable's name. */
export function productEnvName(productId: string): string {
  return productId.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export interface AppConfig {
  nodeEnv: 'production' | 'development' | 'test';
  isProduction: boolean;
  port: number;
  host: string;
  publicUrl: string;
  /** Unset: an embedded PostgreSQL is started in `embeddedDataDir`. */
  databaseUrl: string | undefined;
  embeddedDataDir: string | undefined;
  runMigrations: boolean;
  /** Connections in the service's PostgreSQL pool. */
  databasePoolSize: number;
  /** How long a request waits for a free pool connection before it gets a 503. */
  databasePoolWaitMs: number;
  redisUrl: string | undefined;
  jwt: {
    secret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /** True when the development secret is in use (never in production). */
    usingDevSecret: boolean;
    /** Longest a token may live (exp − iat, or exp − now without iat); `exp` is required. */
    maxLifetimeSeconds: number;
  };
  /** Which proxies' X-Forwarded-For is believed, for every limit and log line. */
  trustProxy: TrustProxy;
  paymentProvider: PaymentProviderName;
  paymentEnv: PaymentEnv;
  mockWebhookSecret: string;
  paddle: PaddleKeys | undefined;
  successUrl: string;
  cancelUrl: string;
  rateLimits: { checkoutPerMinute: number; callbackPerMinute: number };
  corsOrigins: string[];
  /**
   * `POST /dev/token` mints user tokens for anyone who asks: on by default only with the
   * public development secret (where anyone can sign tokens anyway), never in production.
   */
  devTokens: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Bounds on GraphQL documents; introspection and the playground (off in production). */
  graphql: { maxDepth: number; maxCost: number; introspection: boolean; playground: boolean };
  shutdownTimeoutMs: number;
  /** Scheduled jobs (src/jobs): stuck-order reconciliation, lapsed reservations. */
  jobs: {
    enabled: boolean;
    /** Cron schedules (UTC, minute granularity). */
    reconcileCron: string;
    reconcileAfterMinutes: number;
    driftCheckCron: string;
    /** How often an idle job worker looks for a run. */
    pollSeconds: number;
  };
  /** When set, /metrics wants `Authorization: Bearer <it>`. */
  metricsToken: string | undefined;
  /** Whether /metrics is served: in production only with a METRICS_TOKEN. */
  metricsEnabled: boolean;
  /** Live updates over graphql-ws: connection limits, keep-alive, slow-consumer buffer. */
  websocket: {
    /** Signed-in connections per instance. */
    maxConnections: number;
    /** Connections not signed in yet (connection_init pending), on a budget of their own. */
    maxPendingConnections: number;
    /** Connections from one client address, signed in or not. */
    maxConnectionsPerAddress: number;
    /** Connections from one client address not signed in yet. */
    maxPendingPerAddress: number;
    /** How long a new socket has to send connection_init. */
    initTimeoutMs: number;
    maxConnectionsPerUser: number;
    maxSubscriptionsPerConnection: number;
    keepAliveSeconds: number;
    bufferEvents: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

/** A five-field cron expression (minute hour day-of-month month day-of-week). */
const cron = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .regex(/^\s*([0-9*,/-]+\s+){4}[0-9A-Za-z*,/-]+\s*$/, {
      message: 'must be a five-field cron expression, e.g. */5 * * * *',
    })
    .optional(),
);

const httpUrl = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine((v) => /^https?:\/\/[^\s/]+/.test(v) && URL.canParse(v), 'must be an http(s) URL')
    .optional(),
);

// zod's .url() refuses socket-style strings (postgres://u@/db?host=/run/postgresql), so a
// connection string is only checked for its scheme.
const postgresUrl = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine(
      (v) => /^postgres(ql)?:\/\//.test(v),
      'must be a postgres:// or postgresql:// connection string',
    )
    .optional(),
);

const redisUrl = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL')
    .optional(),
);

const intInRange = (min: number, max: number) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\d+$/, `must be an integer between ${min} and ${max}`)
      .transform(Number)
      .refine((n) => n >= min && n <= max, `must be an integer between ${min} and ${max}`)
      .optional(),
  );

const bool = z.preprocess(
  emptyToUndefined,
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .optional(),
);

const envSchema = z.object({
  NODE_ENV: z.preprocess(
    emptyToUndefined,
    z
      .enum(['production', 'development', 'test'], {
        message: 'must be production, development or test',
      })
      .optional(),
  ),
  PORT: intInRange(0, 65535),
  HOST: optionalString,
  PUBLIC_URL: httpUrl,
  DATABASE_URL: postgresUrl,
  EMBEDDED_PG_DATA_DIR: optionalString,
  RUN_MIGRATIONS: bool,
  DATABASE_POOL_SIZE: intInRange(1, 500),
  DATABASE_POOL_WAIT_MS: intInRange(100, 60_000),
  REDIS_URL: redisUrl,
  JWT_SECRET: z.preprocess(
    emptyToUndefined,
    z.string().min(32, 'must be at least 32 characters').optional(),
  ),
  JWT_JWKS_URL: httpUrl,
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  JWT_MAX_LIFETIME_SECONDS: intInRange(60, 31_536_000),
  TRUST_PROXY: optionalString,
  PAYMENT_PROVIDER: z.preprocess(
    emptyToUndefined,
    z.enum(['mock', 'paddle'], { message: 'must be mock or paddle' }).optional(),
  ),
  PAYMENT_ENV: z.preprocess(
    emptyToUndefined,
    z.enum(['production', 'test'], { message: 'must be production or test' }).optional(),
  ),
  MOCK_WEBHOOK_SECRET: z.preprocess(
    emptyToUndefined,
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
  PADDLE_TEST_API_KEY: optionalString,
  PADDLE_TEST_WEBHOOK_SECRET: optionalString,
  PADDLE_PROD_API_KEY: optionalString,
  PADDLE_PROD_WEBHOOK_SECRET: optionalString,
  SUCCESS_URL: httpUrl,
  CANCEL_URL: httpUrl,
  RATE_LIMIT_CHECKOUT_PER_MINUTE: intInRange(1, 100_000),
  RATE_LIMIT_CALLBACK_PER_MINUTE: intInRange(1, 1_000_000),
  CORS_ORIGINS: optionalString,
  DEV_TOKENS: bool,
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        message: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .optional(),
  ),
  GRAPHQL_MAX_DEPTH: intInRange(2, 50),
  GRAPHQL_MAX_COST: intInRange(10, 100_000),
  GRAPHQL_INTROSPECTION: bool,
  GRAPHQL_PLAYGROUND: bool,
  SHUTDOWN_TIMEOUT_MS: intInRange(100, 60_000),
  JOBS_ENABLED: bool,
  RECONCILE_CRON: cron,
  RECONCILE_AFTER_MINUTES: intInRange(1, 10_080),
  DRIFT_CHECK_CRON: cron,
  JOBS_POLL_SECONDS: intInRange(1, 60),
  METRICS_TOKEN: z.preprocess(
    emptyToUndefined,
    z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  ),
  WS_MAX_CONNECTIONS: intInRange(1, 1_000_000),
  WS_MAX_PENDING_CONNECTIONS: intInRange(1, 100_000),
  WS_MAX_CONNECTIONS_PER_ADDRESS: intInRange(1, 1_000_000),
  WS_MAX_PENDING_PER_ADDRESS: intInRange(1, 10_000),
  WS_INIT_TIMEOUT_MS: intInRange(100, 60_000),
  WS_MAX_CONNECTIONS_PER_USER: intInRange(1, 10_000),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: intInRange(1, 1000),
  WS_KEEPALIVE_SECONDS: intInRange(1, 3600),
  WS_BUFFER_EVENTS: intInRange(1, 100_000),
});

/** Longest hop count TRUST_PROXY takes: more proxies than that in front is a mistake. */
const MAX_PROXY_HOPS = 10;

/** TRUST_PROXY: unset or `false` (the socket's peer), a hop count, or proxy addresses. */
function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxy {
  const value = raw?.trim();
  if (!value || value === 'false' || value === '0') return false;
  if (value === 'true') {
    problems.push(
      'TRUST_PROXY=true would believe any X-Forwarded-For: give the number of proxies in front, or their addresses',
    );
    return false;
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_PROXY_HOPS) problems.push(`TRUST_PROXY must be at most ${MAX_PROXY_HOPS} hops`);
    return hops;
  }
  const list = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  try {
    proxyaddr.compile(list);
  } catch (error) {
    problems.push(
      `TRUST_PROXY must be a hop count or addresses and subnets (${error instanceof Error ? error.message : 'unreadable'})`,
    );
  }
  return list;
}

/**
 * A secret's entropy as its characters' spread suggests (Shannon, in bits over the whole
 * string): `aaaa…` or a word repeated scores low, random base64 or hex of 32+ characters
 * high. An estimate, enough to refuse a guessable production JWT_SECRET.
 */
export function estimatedEntropyBits(secret: string): number {
  const counts = new Map<string, number>();
  for (const c of secret) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perCharacter = 0;
  for (const count of counts.values()) {
    const p = count / secret.length;
    perCharacter -= p * Math.log2(p);
  }
  return perCharacter * secret.length;
}

/** What production refuses beyond the required variables. */
const MIN_PRODUCTION_SECRET_BITS = 100;
const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

function productionProblems(e: {
  PUBLIC_URL?: string | undefined;
  JWT_SECRET?: string | undefined;
}): string[] {
  const problems: string[] = [];
  if (e.PUBLIC_URL) {
    const url = new URL(e.PUBLIC_URL);
    // Plain http is only for an instance nobody outside this machine reaches.
    if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.test(url.hostname)) {
      problems.push('PUBLIC_URL must be an https:// URL in production');
    }
  }
  if (e.JWT_SECRET && estimatedEntropyBits(e.JWT_SECRET) < MIN_PRODUCTION_SECRET_BITS) {
    problems.push(
      'JWT_SECRET looks guessable: use a random one in production (for example `openssl rand -base64 48`)',
    );
  }
  return problems;
}

/** Every variable the configuration reads, for checks of deployment files against it. */
export function configVariableNames(): string[] {
  const paddle = ['PADDLE_TEST', 'PADDLE_PROD'].flatMap((prefix) => [
    `${prefix}_CLIENT_TOKEN`,
    ...listProducts().map((product) => `${prefix}_PRICE_${productEnvName(product.id)}`),
  ]);
  return [...Object.keys(envSchema.shape), 'PADDLE_API_URL', ...paddle];
}

/**
 * Parses and validates the environment once. Every problem is collected, so one start
 * attempt names every missing or malformed variable. Secrets never appear in the message.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // Each variable is parsed on its own, so malformed ones and missing ones are all reported
  // together instead of one failure hiding the next.
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    const result = (schema as z.ZodType).safeParse(env[name]);
    if (result.success) values[name] = result.data;
    else problems.push(`${name} ${result.error.issues[0]?.message ?? 'is invalid'}`);
  }
  const e = values as z.infer<typeof envSchema>;
  const nodeEnv = e.NODE_ENV ?? 'development';
  const isProduction = nodeEnv === 'production';
  const port = e.PORT ?? 4000;
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const paymentProvider = e.PAYMENT_PROVIDER ?? 'mock';
  const paymentEnv = e.PAYMENT_ENV ?? 'test';

  if (isProduction) {
    if (!e.DATABASE_URL) problems.push('DATABASE_URL is required in production');
    if (!e.PUBLIC_URL) problems.push('PUBLIC_URL is required in production');
    if (!e.JWT_SECRET && !e.JWT_JWKS_URL) {
      problems.push('JWT_SECRET or JWT_JWKS_URL is required in production');
    }
    if (paymentProvider === 'mock') {
      problems.push('PAYMENT_PROVIDER=mock is refused in production: set PAYMENT_PROVIDER=paddle');
    }
    problems.push(...productionProblems(e));
  }
  const trustProxy = parseTrustProxy(e.TRUST_PROXY, problems);
  if (e.JWT_SECRET && e.JWT_JWKS_URL) {
    problems.push('JWT_SECRET and JWT_JWKS_URL are exclusive: set only one');
  }
  for (const name of ['JWT_SECRET', 'MOCK_WEBHOOK_SECRET'] as const) {
    const value = e[name];
    if (value && DEV_SECRETS.has(value) && isProduction) {
      problems.push(`${name} is a development secret and is refused in production`);
    }
  }

  let paddle: PaddleKeys | undefined;
  if (paymentProvider === 'paddle') {
    const prefix = paymentEnv === 'production' ? 'PADDLE_PROD' : 'PADDLE_TEST';
    const apiKey = e[`${prefix}_API_KEY`];
    const webhookSecret = e[`${prefix}_WEBHOOK_SECRET`];
    if (!apiKey) problems.push(`${prefix}_API_KEY is required when PAYMENT_PROVIDER=paddle`);
    if (!webhookSecret) {
      problems.push(`${prefix}_WEBHOOK_SECRET is required when PAYMENT_PROVIDER=paddle`);
    }
    const priceIds: Record<string, string> = {};
    for (const product of listProducts()) {
      const name = `${prefix}_PRICE_${productEnvName(product.id)}`;
      const priceId = env[name]?.trim();
      if (!priceId) problems.push(`${name} is required when PAYMENT_PROVIDER=paddle`);
      else if (!/^pri_[a-z0-9]{6,64}$/.test(priceId))
        problems.push(`${name} must be a Paddle price id (pri_…)`);
      else priceIds[product.id] = priceId;
    }
    const apiUrl =
      env['PADDLE_API_URL']?.trim() ||
      (paymentEnv === 'production' ? 'https://api.paddle.com' : 'https://sandbox-api.paddle.com');
    if (isProduction && env['PADDLE_API_URL']) {
      problems.push('PADDLE_API_URL (a fake Paddle for tests) is refused in production');
    }
    if (apiKey && webhookSecret) {
      paddle = {
        apiKey,
        webhookSecret,
        priceIds,
        clientToken: env[`${prefix}_CLIENT_TOKEN`]?.trim() || undefined,
        apiUrl: apiUrl.replace(/\/+$/, ''),
      };
    }
  }

  const corsOrigins: string[] = [];
  // `none`: no other origin, not even the development default.
  const listedOrigins = (
    e.CORS_ORIGINS === 'none'
      ? ''
      : (e.CORS_ORIGINS ?? (nodeEnv === 'development' ? EXAMPLE_APP_ORIGINS.join(',') : ''))
  )
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of listedOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(
        `CORS_ORIGINS entry "${origin}" must be an origin like https://app.example.com`,
      );
    } else if (origin === '*' && isProduction) {
      problems.push('CORS_ORIGINS=* is refused in production: list the origins');
    } else {
      // As a browser sends it (lower-case host, no default port), or it could never match.
      corsOrigins.push(origin === '*' ? origin : new URL(origin).origin);
    }
  }

  const usingDevSecret = !e.JWT_SECRET && !e.JWT_JWKS_URL;
  if (e.DEV_TOKENS && isProduction) {
    problems.push('DEV_TOKENS=true is refused in production: anyone could sign in as anyone');
  }
  if (e.DEV_TOKENS && e.JWT_JWKS_URL) {
    problems.push(
      'DEV_TOKENS needs JWT_SECRET: with JWT_JWKS_URL tokens come from your identity provider',
    );
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    nodeEnv,
    isProduction,
    port,
    // Outside production, this machine only: a development server has development tokens.
    host: e.HOST ?? (isProduction ? '0.0.0.0' : '127.0.0.1'),
    publicUrl,
    databaseUrl: e.DATABASE_URL,
    embeddedDataDir: e.EMBEDDED_PG_DATA_DIR,
    runMigrations: e.RUN_MIGRATIONS ?? true,
    databasePoolSize: e.DATABASE_POOL_SIZE ?? 20,
    databasePoolWaitMs: e.DATABASE_POOL_WAIT_MS ?? 3000,
    redisUrl: e.REDIS_URL,
    jwt: {
      secret: e.JWT_JWKS_URL ? undefined : (e.JWT_SECRET ?? DEV_JWT_SECRET),
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      usingDevSecret,
      maxLifetimeSeconds: e.JWT_MAX_LIFETIME_SECONDS ?? 24 * 60 * 60,
    },
    trustProxy,
    paymentProvider,
    paymentEnv,
    mockWebhookSecret: e.MOCK_WEBHOOK_SECRET ?? DEV_MOCK_WEBHOOK_SECRET,
    paddle,
    successUrl: e.SUCCESS_URL ?? `${publicUrl}/checkout/success`,
    cancelUrl: e.CANCEL_URL ?? `${publicUrl}/checkout/cancel`,
    rateLimits: {
      checkoutPerMinute: e.RATE_LIMIT_CHECKOUT_PER_MINUTE ?? 10,
      callbackPerMinute: e.RATE_LIMIT_CALLBACK_PER_MINUTE ?? 100,
    },
    corsOrigins,
    devTokens: !isProduction && !e.JWT_JWKS_URL && (e.DEV_TOKENS ?? usingDevSecret),
    logLevel: e.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    graphql: {
      maxDepth: e.GRAPHQL_MAX_DEPTH ?? 12,
      maxCost: e.GRAPHQL_MAX_COST ?? 2000,
      introspection: e.GRAPHQL_INTROSPECTION ?? !isProduction,
      playground: e.GRAPHQL_PLAYGROUND ?? !isProduction,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS ?? 8000,
    jobs: {
      enabled: e.JOBS_ENABLED ?? true,
      reconcileCron: e.RECONCILE_CRON ?? '*/5 * * * *',
      reconcileAfterMinutes: e.RECONCILE_AFTER_MINUTES ?? 15,
      driftCheckCron: e.DRIFT_CHECK_CRON ?? '*/5 * * * *',
      pollSeconds: e.JOBS_POLL_SECONDS ?? 5,
    },
    metricsToken: e.METRICS_TOKEN,
    metricsEnabled: !isProduction || e.METRICS_TOKEN !== undefined,
    websocket: {
      maxConnections: e.WS_MAX_CONNECTIONS ?? 10_000,
      maxPendingConnections: e.WS_MAX_PENDING_CONNECTIONS ?? 200,
      maxConnectionsPerAddress: e.WS_MAX_CONNECTIONS_PER_ADDRESS ?? 100,
      maxPendingPerAddress: e.WS_MAX_PENDING_PER_ADDRESS ?? 10,
      initTimeoutMs: e.WS_INIT_TIMEOUT_MS ?? 3000,
      maxConnectionsPerUser: e.WS_MAX_CONNECTIONS_PER_USER ?? 10,
      maxSubscriptionsPerConnection: e.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION ?? 20,
      keepAliveSeconds: e.WS_KEEPALIVE_SECONDS ?? 15,
      bufferEvents: e.WS_BUFFER_EVENTS ?? 100,
    },
  };
}

import { listProducts } from '../catalog';
import { type ConfigValues } from './registry';
import { browserProblems, paddleProblems, productionProblems, secretProblems } from './rules';
import * as V from './variables';
import type { PaymentEnv, PaymentProviderName, TrustProxy } from './variables';

export {
  DEV_JWT_SECRET,
  DEV_MOCK_WEBHOOK_SECRET,
  EXAMPLE_APP_ORIGINS,
  type PaymentEnv,
  type PaymentProviderName,
  type TrustProxy,
} from './variables';

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

/** Every variable the configuration reads, for checks of deployment files against it. */
export function configVariableNames(): string[] {
  return V.CONFIG_VARIABLES.names();
}

/**
 * Parses and validates the environment once. Every problem is collected, so one start
 * attempt names every missing or malformed variable. Secrets never appear in the message.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // Each variable is parsed on its own, so malformed ones and missing ones are all reported
  // together instead of one failure hiding the next.
  const values = V.CONFIG_VARIABLES.read(env);
  const problems = values.problems;
  problems.push(...productionProblems(values), ...secretProblems(values));
  const paddle = paddleKeys(values);
  problems.push(...browserProblems(values));
  if (problems.length > 0) throw new ConfigError(problems);
  return appConfig(values, paddle);
}

/** The key set PAYMENT_ENV names, when PAYMENT_PROVIDER=paddle; its problems into `values`. */
function paddleKeys(values: ConfigValues): PaddleKeys | undefined {
  if (values.value(V.PAYMENT_PROVIDER) !== 'paddle') return undefined;
  const set = values.value(V.PAYMENT_ENV);
  const required = 'when PAYMENT_PROVIDER=paddle';
  const apiKey = values.member(V.PADDLE_API_KEY, set, required);
  const webhookSecret = values.member(V.PADDLE_WEBHOOK_SECRET, set, required);
  const priceIds: Record<string, string> = {};
  for (const product of listProducts()) {
    const priceId = values.member(V.PADDLE_PRICE_ID, { set, productId: product.id }, required);
    if (priceId) priceIds[product.id] = priceId;
  }
  values.problems.push(...paddleProblems(values));
  if (!apiKey || !webhookSecret) return undefined;
  return {
    apiKey,
    webhookSecret,
    priceIds,
    clientToken: values.member(V.PADDLE_CLIENT_TOKEN, set),
    apiUrl: values.value(V.PADDLE_API_URL),
  };
}

/** The checked values in AppConfig's shape. */
function appConfig(values: ConfigValues, paddle: PaddleKeys | undefined): AppConfig {
  const production = V.isProduction(values);
  return {
    nodeEnv: values.value(V.NODE_ENV),
    isProduction: production,
    port: values.value(V.PORT),
    host: values.value(V.HOST),
    publicUrl: values.value(V.PUBLIC_URL),
    databaseUrl: values.value(V.DATABASE_URL),
    embeddedDataDir: values.value(V.EMBEDDED_PG_DATA_DIR),
    runMigrations: values.value(V.RUN_MIGRATIONS),
    databasePoolSize: values.value(V.DATABASE_POOL_SIZE),
    databasePoolWaitMs: values.value(V.DATABASE_POOL_WAIT_MS),
    redisUrl: values.value(V.REDIS_URL),
    jwt: jwtConfig(values),
    trustProxy: values.value(V.TRUST_PROXY),
    paymentProvider: values.value(V.PAYMENT_PROVIDER),
    paymentEnv: values.value(V.PAYMENT_ENV),
    mockWebhookSecret: values.value(V.MOCK_WEBHOOK_SECRET),
    paddle,
    successUrl: values.value(V.SUCCESS_URL),
    cancelUrl: values.value(V.CANCEL_URL),
    rateLimits: {
      checkoutPerMinute: values.value(V.RATE_LIMIT_CHECKOUT_PER_MINUTE),
      callbackPerMinute: values.value(V.RATE_LIMIT_CALLBACK_PER_MINUTE),
    },
    corsOrigins: values.value(V.CORS_ORIGINS),
    // Never in production, nor with a JWKS: Tally holds no key to sign with then.
    devTokens: !production && !values.given(V.JWT_JWKS_URL) && values.value(V.DEV_TOKENS),
    logLevel: values.value(V.LOG_LEVEL),
    graphql: {
      maxDepth: values.value(V.GRAPHQL_MAX_DEPTH),
      maxCost: values.value(V.GRAPHQL_MAX_COST),
      introspection: values.value(V.GRAPHQL_INTROSPECTION),
      playground: values.value(V.GRAPHQL_PLAYGROUND),
    },
    shutdownTimeoutMs: values.value(V.SHUTDOWN_TIMEOUT_MS),
    jobs: jobsConfig(values),
    metricsToken: values.value(V.METRICS_TOKEN),
    metricsEnabled: !production || values.given(V.METRICS_TOKEN) !== undefined,
    websocket: websocketConfig(values),
  };
}

function jwtConfig(values: ConfigValues): AppConfig['jwt'] {
  return {
    secret: values.value(V.JWT_SECRET),
    jwksUrl: values.value(V.JWT_JWKS_URL),
    issuer: values.value(V.JWT_ISSUER),
    audience: values.value(V.JWT_AUDIENCE),
    usingDevSecret: !values.given(V.JWT_SECRET) && !values.given(V.JWT_JWKS_URL),
    maxLifetimeSeconds: values.value(V.JWT_MAX_LIFETIME_SECONDS),
  };
}

function jobsConfig(values: ConfigValues): AppConfig['jobs'] {
  return {
    enabled: values.value(V.JOBS_ENABLED),
    reconcileCron: values.value(V.RECONCILE_CRON),
    reconcileAfterMinutes: values.value(V.RECONCILE_AFTER_MINUTES),
    driftCheckCron: values.value(V.DRIFT_CHECK_CRON),
    pollSeconds: values.value(V.JOBS_POLL_SECONDS),
  };
}

function websocketConfig(values: ConfigValues): AppConfig['websocket'] {
  return {
    maxConnections: values.value(V.WS_MAX_CONNECTIONS),
    maxPendingConnections: values.value(V.WS_MAX_PENDING_CONNECTIONS),
    maxConnectionsPerAddress: values.value(V.WS_MAX_CONNECTIONS_PER_ADDRESS),
    maxPendingPerAddress: values.value(V.WS_MAX_PENDING_PER_ADDRESS),
    initTimeoutMs: values.value(V.WS_INIT_TIMEOUT_MS),
    maxConnectionsPerUser: values.value(V.WS_MAX_CONNECTIONS_PER_USER),
    maxSubscriptionsPerConnection: values.value(V.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION),
    keepAliveSeconds: values.value(V.WS_KEEPALIVE_SECONDS),
    bufferEvents: values.value(V.WS_BUFFER_EVENTS),
  };
}

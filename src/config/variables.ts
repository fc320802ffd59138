import { listProducts } from '../catalog';
import {
  baseUrl,
  bool,
  corsOrigins,
  cron,
  httpUrl,
  intInRange,
  oneOf,
  optionalString,
  paddlePriceId,
  postgresUrl,
  redisUrl,
  secretOfAtLeast,
  trimmedString,
  trustProxy,
} from './parsers';
import { ConfigRegistry, type ConfigValues, type Family, type Variable } from './registry';

/**
 * Every environment variable Tally reads, each declared once: its parser, its default, and
 * its row in README's configuration table, in the table's order. `npm run config:docs`
 * writes the table from here; `loadConfig` (config.ts) reads the variables through here and
 * checks the rules between them.
 */
export const CONFIG_VARIABLES = new ConfigRegistry();
const v = CONFIG_VARIABLES;

/**
 * Development-only secrets. They let `npm start` work on a bare machine, and are refused
 * outright when NODE_ENV=production (see rules.ts).
 */
export const DEV_JWT_SECRET = 'tally-development-jwt-secret-do-not-use-in-production';
export const DEV_MOCK_WEBHOOK_SECRET = 'tally-development-mock-webhook-secret';

/**
 * Where `npm run example` serves the example SPA. In development, with CORS_ORIGINS unset,
 * browsers there may call the API; in production and in tests nothing is allowed by default.
 */
export const EXAMPLE_APP_ORIGINS = ['http://localhost:5173', 'http://127.0.0.1:5173'];

export type PaymentProviderName = 'mock' | 'paddle';
export type PaymentEnv = 'production' | 'test';

/**
 * TRUST_PROXY: which hops in front of Tally may say who the client is (X-Forwarded-For).
 * `false`: none, the socket's peer is the client; a number: that many proxies in front; a
 * list: the proxies' addresses or subnets (`loopback`, `10.0.0.0/8`, …).
 */
export type TrustProxy = false | number | readonly string[];

export const isProduction = (values: ConfigValues) => values.value(NODE_ENV) === 'production';

export const NODE_ENV = v.variable('NODE_ENV', {
  parser: oneOf(['production', 'development', 'test'], 'must be production, development or test'),
  fallback: 'development',
  row: {
    what: '`production`, `development` or `test`: `production` brings the requirements above and the production defaults below',
  },
});

export const PORT = v.variable('PORT', {
  parser: intInRange(0, 65535),
  fallback: 4000,
  row: {
    what: 'HTTP and WebSocket port, and the interface it listens on: a development server (with its development tokens) is reachable from this machine only',
  },
});

export const HOST = v.variable('HOST', {
  parser: optionalString,
  // Outside production, this machine only: a development server has development tokens.
  fallback: (values) => (isProduction(values) ? '0.0.0.0' : '127.0.0.1'),
  shown: '`127.0.0.1` (production and the Docker image: `0.0.0.0`)',
  row: { sameRowAs: PORT },
});

export const PUBLIC_URL = v.variable('PUBLIC_URL', {
  parser: baseUrl,
  fallback: (values) => `http://localhost:${values.value(PORT)}`,
  shown: '`http://localhost:$PORT`',
  row: { what: 'how the outside reaches this server (checkout and callback URLs)' },
});

export const DATABASE_URL = v.variable('DATABASE_URL', {
  parser: postgresUrl,
  shown: 'none: an embedded PostgreSQL in `.data/postgres`',
  row: { what: 'PostgreSQL connection string' },
});

export const RUN_MIGRATIONS = v.variable('RUN_MIGRATIONS', {
  parser: bool,
  fallback: true,
  row: {
    what: 'apply pending migrations at start; set `false` and run `npm run migrate` in deploys',
  },
});

export const DATABASE_POOL_SIZE = v.variable('DATABASE_POOL_SIZE', {
  parser: intInRange(1, 500),
  fallback: 20,
  row: { what: "connections in the service's PostgreSQL pool" },
});

export const DATABASE_POOL_WAIT_MS = v.variable('DATABASE_POOL_WAIT_MS', {
  parser: intInRange(100, 60_000),
  fallback: 3000,
  row: {
    what: 'how long a request waits for a pool connection before a 503 with Retry-After',
  },
});

export const EMBEDDED_PG_DATA_DIR = v.variable('EMBEDDED_PG_DATA_DIR', {
  parser: optionalString,
  // No default here: unset, src/db picks `.data/postgres`, or a folder under the temp folder
  // where the postgres user cannot enter the project's.
  shown: '`.data/postgres`',
  row: { what: 'where the embedded PostgreSQL keeps its data' },
});

export const REDIS_URL = v.variable('REDIS_URL', {
  parser: redisUrl,
  shown: 'none: in-process pub/sub and rate limits',
  row: { what: 'shared pub/sub and limits for several instances' },
});

export const JWT_SECRET = v.variable('JWT_SECRET', {
  parser: secretOfAtLeast(32),
  // With a JWKS there is no secret (both set is refused, see rules.ts).
  fallback: (values) => (values.given(JWT_JWKS_URL) ? undefined : DEV_JWT_SECRET),
  shown: 'a development secret outside production',
  row: {
    what: 'how tokens are verified, one or the other: an HS256 secret of 32+ characters, or a JWKS',
  },
});

// Typed here: JWT_SECRET's default and this row refer to each other.
export const JWT_JWKS_URL: Variable<string> = v.variable('JWT_JWKS_URL', {
  parser: httpUrl,
  row: { sameRowAs: JWT_SECRET },
});

export const JWT_ISSUER = v.variable('JWT_ISSUER', {
  parser: optionalString,
  row: { what: 'checked when set' },
});

export const JWT_AUDIENCE = v.variable('JWT_AUDIENCE', {
  parser: optionalString,
  row: { sameRowAs: JWT_ISSUER },
});

export const JWT_MAX_LIFETIME_SECONDS = v.variable('JWT_MAX_LIFETIME_SECONDS', {
  parser: intInRange(60, 31_536_000),
  fallback: 24 * 60 * 60,
  row: {
    what: 'tokens must carry `exp`, live at most this long (`exp − iat`, or `exp − now` without `iat`), and not be issued in the future (5 s of clock skew allowed)',
  },
});

export const TRUST_PROXY = v.variable<TrustProxy>('TRUST_PROXY', {
  parser: trustProxy,
  fallback: false,
  shown: "none: the socket's own address",
  row: {
    what: "which proxies' `X-Forwarded-For` is believed for every per-address limit and log line: a hop count (`1` behind one load balancer) or their addresses and subnets (`loopback`, `10.0.0.0/8`); never `true`",
  },
});

export const PAYMENT_PROVIDER = v.variable<PaymentProviderName>('PAYMENT_PROVIDER', {
  parser: oneOf(['mock', 'paddle'], 'must be mock or paddle'),
  fallback: 'mock',
  row: { what: '`mock` or `paddle`' },
});

export const PAYMENT_ENV = v.variable<PaymentEnv>('PAYMENT_ENV', {
  parser: oneOf(['production', 'test'], 'must be production or test'),
  fallback: 'test',
  row: { what: "`production` or `test`: which of the provider's key sets is used" },
});

export const PAYMENT_ENV_TEST_IN_PRODUCTION = v.variable('PAYMENT_ENV_TEST_IN_PRODUCTION', {
  parser: bool,
  fallback: false,
  row: {
    what: "`true` allows `PAYMENT_ENV=test` with `NODE_ENV=production` and `PAYMENT_PROVIDER=paddle`: a staging deployment on Paddle's sandbox, where no real money moves; refused without it",
  },
});

/** Paddle's two key sets, the one PAYMENT_ENV names in use: their variables' prefixes. */
export const PADDLE_KEY_SETS: Readonly<Record<PaymentEnv, string>> = {
  test: 'PADDLE_TEST',
  production: 'PADDLE_PROD',
};
const KEY_SETS = ['test', 'production'] as const;

/** `credits-100` → `CREDITS_100`: how a product id appears in a variable's name. */
export function productEnvName(productId: string): string {
  return productId.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** PADDLE_TEST_<suffix> and PADDLE_PROD_<suffix>. */
function keySetFamily(suffix: string, spec: Pick<Family<PaymentEnv, string>, 'parser' | 'row'>) {
  return v.family<PaymentEnv, string>({
    label: KEY_SETS.map((set) => `\`${PADDLE_KEY_SETS[set]}_${suffix}\``).join(', '),
    keys: () => KEY_SETS,
    name: (set) => `${PADDLE_KEY_SETS[set]}_${suffix}`,
    ...spec,
  });
}

export const PADDLE_API_KEY = keySetFamily('API_KEY', {
  parser: optionalString,
  row: {
    what: "Paddle's API key, required for the chosen `PAYMENT_ENV` when `PAYMENT_PROVIDER=paddle`: a sandbox one (`pdl_sdbx_…`) for `test`, a live one (`pdl_live_…`) for `production`, or a legacy key without a prefix",
  },
});

export const PADDLE_WEBHOOK_SECRET = keySetFamily('WEBHOOK_SECRET', {
  parser: optionalString,
  row: {
    what: "the secret key of Paddle's notification destination (its webhooks), required for the chosen `PAYMENT_ENV` when `PAYMENT_PROVIDER=paddle`",
  },
});

const priceStem = (set: PaymentEnv) => `${PADDLE_KEY_SETS[set]}_PRICE`;

/** `PADDLE_TEST_PRICE_CREDITS_100`, `…_CREDITS_1000` (and `PADDLE_PROD_PRICE_…`). */
function priceLabel(): string {
  const [first, ...rest] = listProducts().map((product) => productEnvName(product.id));
  const test = [`\`${priceStem('test')}_${first}\``, ...rest.map((name) => `\`…_${name}\``)];
  return `${test.join(', ')} (and \`${priceStem('production')}_…\`)`;
}

export const PADDLE_PRICE_ID = v.family<{ set: PaymentEnv; productId: string }, string>({
  label: priceLabel(),
  keys: () =>
    KEY_SETS.flatMap((set) => listProducts().map((product) => ({ set, productId: product.id }))),
  name: ({ set, productId }) => `${priceStem(set)}_${productEnvName(productId)}`,
  parser: paddlePriceId,
  row: {
    what: "the Paddle price id (`pri_…`) of each catalog product; its amount must equal the catalog's, tax-exclusive",
  },
});

export const PADDLE_CLIENT_TOKEN = keySetFamily('CLIENT_TOKEN', {
  parser: trimmedString,
  row: {
    what: 'Paddle.js client-side token for the checkout page Tally serves at `/paddle-checkout`: `test_…` for `PAYMENT_ENV=test`, `live_…` for `production`',
  },
});

export const PADDLE_API_URL = v.variable('PADDLE_API_URL', {
  parser: baseUrl,
  fallback: (values) =>
    values.value(PAYMENT_ENV) === 'production'
      ? 'https://api.paddle.com'
      : 'https://sandbox-api.paddle.com',
  shown: "Paddle's sandbox or production API",
  row: {
    what: 'another base URL for the Paddle API (a fake, in tests); refused in production',
  },
});

export const MOCK_WEBHOOK_SECRET = v.variable('MOCK_WEBHOOK_SECRET', {
  parser: secretOfAtLeast(16),
  fallback: DEV_MOCK_WEBHOOK_SECRET,
  shown: 'a development secret',
  row: { what: "the mock provider's signing secret" },
});

export const SUCCESS_URL = v.variable('SUCCESS_URL', {
  parser: httpUrl,
  fallback: (values) => `${values.value(PUBLIC_URL)}/checkout/success`,
  shown: 'pages of this server',
  row: { what: 'where the redirect callback sends the user' },
});

export const CANCEL_URL = v.variable('CANCEL_URL', {
  parser: httpUrl,
  fallback: (values) => `${values.value(PUBLIC_URL)}/checkout/cancel`,
  shown: 'pages of this server',
  row: { sameRowAs: SUCCESS_URL },
});

export const RATE_LIMIT_CHECKOUT_PER_MINUTE = v.variable('RATE_LIMIT_CHECKOUT_PER_MINUTE', {
  parser: intInRange(1, 100_000),
  fallback: 10,
  row: { what: 'per user' },
});

export const RATE_LIMIT_CALLBACK_PER_MINUTE = v.variable('RATE_LIMIT_CALLBACK_PER_MINUTE', {
  parser: intInRange(1, 1_000_000),
  fallback: 100,
  row: { what: 'per IP' },
});

export const CORS_ORIGINS = v.variable('CORS_ORIGINS', {
  parser: corsOrigins,
  fallback: (values) => (values.value(NODE_ENV) === 'development' ? [...EXAMPLE_APP_ORIGINS] : []),
  shown: 'none (development: the example app, port 5173)',
  row: {
    what: 'browser origins allowed to call the API (HTTP and WebSocket), comma-separated, or `none`; others get 403',
  },
});

export const DEV_TOKENS = v.variable('DEV_TOKENS', {
  parser: bool,
  // Only with the public development secret, where anyone can sign tokens anyway.
  fallback: (values) => !values.given(JWT_SECRET) && !values.given(JWT_JWKS_URL),
  shown: 'true only with the development secret',
  row: {
    what: '`POST /dev/token`: user tokens for any id, for example apps; refused in production',
  },
});

export const GRAPHQL_MAX_DEPTH = v.variable('GRAPHQL_MAX_DEPTH', {
  parser: intInRange(2, 50),
  fallback: 12,
  row: {
    what: "bounds on a GraphQL operation, over HTTP and WebSocket alike: depth, and fields resolved (a connection's children times `first`; a fragment counts at every spread); introspection has its own depth bound and at most 3 `__schema`/`__type` fields",
  },
});

export const GRAPHQL_MAX_COST = v.variable('GRAPHQL_MAX_COST', {
  parser: intInRange(10, 100_000),
  fallback: 2000,
  row: { sameRowAs: GRAPHQL_MAX_DEPTH },
});

export const GRAPHQL_INTROSPECTION = v.variable('GRAPHQL_INTROSPECTION', {
  parser: bool,
  fallback: (values) => !isProduction(values),
  shown: '`true`, but `false` in production',
  row: {
    what: "whether `__schema`/`__type` are answered, and whether a browser's GET `/graphql` gets the playground",
  },
});

export const GRAPHQL_PLAYGROUND = v.variable('GRAPHQL_PLAYGROUND', {
  parser: bool,
  fallback: (values) => !isProduction(values),
  shown: '`true`, but `false` in production',
  row: { sameRowAs: GRAPHQL_INTROSPECTION },
});

export const LOG_LEVEL = v.variable('LOG_LEVEL', {
  parser: oneOf(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'must be one of fatal, error, warn, info, debug, trace, silent',
  ),
  fallback: (values) => (values.value(NODE_ENV) === 'test' ? 'silent' : 'info'),
  shown: '`info` (`silent` with `NODE_ENV=test`)',
  row: { what: 'pino level' },
});

export const SHUTDOWN_TIMEOUT_MS = v.variable('SHUTDOWN_TIMEOUT_MS', {
  parser: intInRange(100, 60_000),
  fallback: 8000,
  row: { what: 'how long SIGTERM waits for in-flight requests' },
});

export const JOBS_ENABLED = v.variable('JOBS_ENABLED', {
  parser: bool,
  fallback: true,
  row: {
    what: 'scheduled jobs (pg-boss, in its own `pgboss` schema) in this instance; each run happens once across all instances',
  },
});

export const RECONCILE_CRON = v.variable('RECONCILE_CRON', {
  parser: cron,
  fallback: '*/5 * * * *',
  row: {
    what: 'when pending orders are checked with the provider (cron, UTC), and how old they must be',
  },
});

export const RECONCILE_AFTER_MINUTES = v.variable('RECONCILE_AFTER_MINUTES', {
  parser: intInRange(1, 10_080),
  fallback: 15,
  row: { sameRowAs: RECONCILE_CRON },
});

export const DRIFT_CHECK_CRON = v.variable('DRIFT_CHECK_CRON', {
  parser: cron,
  fallback: '*/5 * * * *',
  row: { what: 'when the credit drift check runs (cron, UTC)' },
});

export const JOBS_POLL_SECONDS = v.variable('JOBS_POLL_SECONDS', {
  parser: intInRange(1, 60),
  fallback: 5,
  row: { what: 'how often an idle job worker looks for a run' },
});

export const METRICS_TOKEN = v.variable('METRICS_TOKEN', {
  parser: secretOfAtLeast(16),
  shown: 'none: `/metrics` is open, but not served at all in production',
  row: {
    what: 'when set (16+ characters), `/metrics` wants `Authorization: Bearer <token>`; in production `/metrics` exists only with it',
  },
});

export const WS_MAX_CONNECTIONS = v.variable('WS_MAX_CONNECTIONS', {
  parser: intInRange(1, 1_000_000),
  fallback: 10_000,
  row: {
    what: 'signed-in WebSocket connections per instance; one more is closed with 1013 (try again later)',
  },
});

export const WS_MAX_PENDING_CONNECTIONS = v.variable('WS_MAX_PENDING_CONNECTIONS', {
  parser: intInRange(1, 100_000),
  fallback: 200,
  row: {
    what: "sockets that have not signed in yet (`connection_init` pending), in all and per client address: a budget of their own, so they never take a signed-in user's place; more get 503 / 429 at the upgrade",
  },
});

export const WS_MAX_PENDING_PER_ADDRESS = v.variable('WS_MAX_PENDING_PER_ADDRESS', {
  parser: intInRange(1, 10_000),
  fallback: 10,
  row: { sameRowAs: WS_MAX_PENDING_CONNECTIONS },
});

export const WS_MAX_CONNECTIONS_PER_ADDRESS = v.variable('WS_MAX_CONNECTIONS_PER_ADDRESS', {
  parser: intInRange(1, 1_000_000),
  fallback: 100,
  row: { what: 'sockets from one client address, signed in or not (429 at the upgrade)' },
});

export const WS_INIT_TIMEOUT_MS = v.variable('WS_INIT_TIMEOUT_MS', {
  parser: intInRange(100, 60_000),
  fallback: 3000,
  row: {
    what: 'how long a new socket has to send `connection_init` (then closed with 4408)',
  },
});

export const WS_MAX_CONNECTIONS_PER_USER = v.variable('WS_MAX_CONNECTIONS_PER_USER', {
  parser: intInRange(1, 10_000),
  fallback: 10,
  row: {
    what: 'per user token subject (service tokens: the total only); more are closed with 4029',
  },
});

export const WS_MAX_SUBSCRIPTIONS_PER_CONNECTION = v.variable(
  'WS_MAX_SUBSCRIPTIONS_PER_CONNECTION',
  {
    parser: intInRange(1, 1000),
    fallback: 20,
    row: { what: 'operations at once on one connection' },
  },
);

export const WS_KEEPALIVE_SECONDS = v.variable('WS_KEEPALIVE_SECONDS', {
  parser: intInRange(1, 3600),
  fallback: 15,
  row: { what: 'ping interval; no pong within as long terminates the socket' },
});

export const WS_BUFFER_EVENTS = v.variable('WS_BUFFER_EVENTS', {
  parser: intInRange(1, 100_000),
  fallback: 100,
  row: {
    what: 'events buffered per subscription for a client not reading; one more closes it (1008)',
  },
});

import type { ConfigValues } from './registry';
import {
  CORS_ORIGINS,
  DATABASE_URL,
  DEV_JWT_SECRET,
  DEV_MOCK_WEBHOOK_SECRET,
  DEV_TOKENS,
  isProduction,
  JWT_JWKS_URL,
  JWT_SECRET,
  MOCK_WEBHOOK_SECRET,
  PADDLE_API_KEY,
  PADDLE_API_URL,
  PADDLE_CLIENT_TOKEN,
  PAYMENT_ENV,
  PAYMENT_ENV_TEST_IN_PRODUCTION,
  PAYMENT_PROVIDER,
  type PaymentEnv,
  PUBLIC_URL,
} from './variables';

/**
 * The rules between variables, each problem as one sentence for ConfigError; what a single
 * variable must look like is its parser's business (variables.ts).
 */

/** What production requires and refuses. */
export function productionProblems(values: ConfigValues): string[] {
  if (!isProduction(values)) return [];
  const problems: string[] = [];
  if (!values.given(DATABASE_URL)) problems.push('DATABASE_URL is required in production');
  if (!values.given(PUBLIC_URL)) problems.push('PUBLIC_URL is required in production');
  if (!values.given(JWT_SECRET) && !values.given(JWT_JWKS_URL)) {
    problems.push('JWT_SECRET or JWT_JWKS_URL is required in production');
  }
  if (values.value(PAYMENT_PROVIDER) === 'mock') {
    problems.push('PAYMENT_PROVIDER=mock is refused in production: set PAYMENT_PROVIDER=paddle');
  }
  return [...problems, ...hardeningProblems(values)];
}

/** What production refuses beyond the required variables. */
const MIN_PRODUCTION_SECRET_BITS = 100;
const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

function hardeningProblems(values: ConfigValues): string[] {
  const problems: string[] = [];
  const publicUrl = values.given(PUBLIC_URL);
  if (publicUrl) {
    const url = new URL(publicUrl);
    // Plain http is only for an instance nobody outside this machine reaches.
    if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.test(url.hostname)) {
      problems.push('PUBLIC_URL must be an https:// URL in production');
    }
  }
  const jwtSecret = values.given(JWT_SECRET);
  if (jwtSecret && estimatedEntropyBits(jwtSecret) < MIN_PRODUCTION_SECRET_BITS) {
    problems.push(
      'JWT_SECRET looks guessable: use a random one in production (for example `openssl rand -base64 48`)',
    );
  }
  return problems;
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

const DEV_SECRETS = new Set([DEV_JWT_SECRET, DEV_MOCK_WEBHOOK_SECRET]);

/** One way to verify tokens, and no development secret in production. */
export function secretProblems(values: ConfigValues): string[] {
  const problems: string[] = [];
  if (values.given(JWT_SECRET) && values.given(JWT_JWKS_URL)) {
    problems.push('JWT_SECRET and JWT_JWKS_URL are exclusive: set only one');
  }
  for (const variable of [JWT_SECRET, MOCK_WEBHOOK_SECRET]) {
    const value = values.given(variable);
    if (value && DEV_SECRETS.has(value) && isProduction(values)) {
      problems.push(`${variable.name} is a development secret and is refused in production`);
    }
  }
  return problems;
}

/**
 * With PAYMENT_PROVIDER=paddle: a fake Paddle API is for tests, Paddle's sandbox is for
 * production only on purpose, and the chosen key set's credentials are of its environment.
 */
export function paddleProblems(values: ConfigValues): string[] {
  const problems: string[] = [];
  if (isProduction(values) && values.given(PADDLE_API_URL)) {
    problems.push('PADDLE_API_URL (a fake Paddle for tests) is refused in production');
  }
  const env = values.value(PAYMENT_ENV);
  if (isProduction(values) && env === 'test' && !values.value(PAYMENT_ENV_TEST_IN_PRODUCTION)) {
    problems.push(
      "PAYMENT_ENV=test is refused in production (Paddle's sandbox takes no real money): set PAYMENT_ENV=production, or PAYMENT_ENV_TEST_IN_PRODUCTION=true for a staging deployment on the sandbox",
    );
  }
  return [...problems, ...keyEnvironmentProblems(values, env)];
}

/**
 * What Paddle's credentials say of their environment, as Paddle documents it:
 * - client-side tokens start with `test_` (sandbox) or `live_` (live), and nothing else:
 *   https://developer.paddle.com/paddle-js/about/client-side-tokens and the `token` field of
 *   https://developer.paddle.com/api-reference/client-tokens/create-client-token;
 * - API keys made since 6 May 2025 start with `pdl_sdbx_apikey_` (sandbox) or
 *   `pdl_live_apikey_` (live): "API key format" in
 *   https://developer.paddle.com/api-reference/about/authentication and
 *   https://developer.paddle.com/changelog/2025/api-key-improvements. Legacy keys, made
 *   before, are 50 random characters that say nothing of their environment: accepted.
 */
const PADDLE_ENVIRONMENTS: Readonly<
  Record<PaymentEnv, { kind: string; clientToken: string; apiKey: string }>
> = {
  test: { kind: 'sandbox', clientToken: 'test_', apiKey: 'pdl_sdbx_' },
  production: { kind: 'live', clientToken: 'live_', apiKey: 'pdl_live_' },
};

/** The chosen key set's client token and API key against PAYMENT_ENV; never their values. */
function keyEnvironmentProblems(values: ConfigValues, env: PaymentEnv): string[] {
  const wanted = PADDLE_ENVIRONMENTS[env];
  const other = PADDLE_ENVIRONMENTS[env === 'test' ? 'production' : 'test'];
  const needs = `PAYMENT_ENV=${env} needs a ${wanted.kind} one`;
  const problems: string[] = [];
  const clientToken = values.member(PADDLE_CLIENT_TOKEN, env);
  if (clientToken !== undefined && !clientToken.startsWith(wanted.clientToken)) {
    const name = PADDLE_CLIENT_TOKEN.name(env);
    problems.push(
      clientToken.startsWith(other.clientToken)
        ? `${name} is a ${other.kind} client-side token (${other.clientToken}…): ${needs} (${wanted.clientToken}…)`
        : `${name} is not a Paddle client-side token (${wanted.clientToken}… or ${other.clientToken}…): ${needs} (${wanted.clientToken}…)`,
    );
  }
  const apiKey = values.member(PADDLE_API_KEY, env);
  if (apiKey?.startsWith(other.apiKey)) {
    problems.push(
      `${PADDLE_API_KEY.name(env)} is a ${other.kind} API key (${other.apiKey}…): ${needs} (${wanted.apiKey}…, or a legacy key)`,
    );
  }
  return problems;
}

/** Who may call from a browser, and who may mint tokens. */
export function browserProblems(values: ConfigValues): string[] {
  const problems: string[] = [];
  if (isProduction(values) && values.value(CORS_ORIGINS).includes('*')) {
    problems.push('CORS_ORIGINS=* is refused in production: list the origins');
  }
  const devTokens = values.given(DEV_TOKENS);
  if (devTokens && isProduction(values)) {
    problems.push('DEV_TOKENS=true is refused in production: anyone could sign in as anyone');
  }
  if (devTokens && values.given(JWT_JWKS_URL)) {
    problems.push(
      'DEV_TOKENS needs JWT_SECRET: with JWT_JWKS_URL tokens come from your identity provider',
    );
  }
  return problems;
}

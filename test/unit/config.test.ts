import {
  ConfigError,
  DEV_JWT_SECRET,
  DEV_MOCK_WEBHOOK_SECRET,
  EXAMPLE_APP_ORIGINS,
  loadConfig,
  maskSecret,
  maskUrl,
} from '../../src/config';

/** A secret as `openssl rand -base64 48` gives one. */
const PRODUCTION_SECRET = 'q8ZrT1m0vKx3Yb7HwN2cLp9GfUj4Ea6Sd5Ri0Oo1Xt+Vn/Mk8Bz3Cy7Qw2Pe6Lh9Ag';

/** Paddle's sandbox key set, complete. */
const PADDLE_SANDBOX_KEYS = {
  PADDLE_TEST_API_KEY: 'k',
  PADDLE_TEST_WEBHOOK_SECRET: 's',
  PADDLE_TEST_PRICE_CREDITS_100: 'pri_aaaaaaaa',
  PADDLE_TEST_PRICE_CREDITS_1000: 'pri_bbbbbbbb',
  PADDLE_TEST_PRICE_PLAN_MONTHLY: 'pri_cccccccc',
};

/** Paddle's live key set, complete. */
const PADDLE_LIVE_KEYS = {
  PADDLE_PROD_API_KEY: 'k',
  PADDLE_PROD_WEBHOOK_SECRET: 's',
  PADDLE_PROD_PRICE_CREDITS_100: 'pri_aaaaaaaa',
  PADDLE_PROD_PRICE_CREDITS_1000: 'pri_bbbbbbbb',
  PADDLE_PROD_PRICE_PLAN_MONTHLY: 'pri_cccccccc',
};

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/tally',
  PUBLIC_URL: 'https://billing.example.com',
  JWT_SECRET: PRODUCTION_SECRET,
  PAYMENT_PROVIDER: 'paddle',
  PAYMENT_ENV: 'production',
  ...PADDLE_LIVE_KEYS,
};

/** Outside production, on Paddle's sandbox. */
const SANDBOX = { PAYMENT_PROVIDER: 'paddle', PAYMENT_ENV: 'test', ...PADDLE_SANDBOX_KEYS };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('starts with no variables at all, on development defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 4000,
      publicUrl: 'http://localhost:4000',
      databaseUrl: undefined,
      runMigrations: true,
      paymentProvider: 'mock',
      paymentEnv: 'test',
      mockWebhookSecret: DEV_MOCK_WEBHOOK_SECRET,
      successUrl: 'http://localhost:4000/checkout/success',
      rateLimits: { checkoutPerMinute: 10, callbackPerMinute: 100 },
      // The example SPA of `npm run example`, in development only.
      corsOrigins: EXAMPLE_APP_ORIGINS,
    });
    expect(loadConfig({ NODE_ENV: 'test' }).corsOrigins).toEqual([]);
    expect(config.jwt).toMatchObject({ secret: DEV_JWT_SECRET, usingDevSecret: true });
  });

  it('offers development tokens only with the public development secret, unless asked', () => {
    const own = 'an-operator-secret-of-at-least-32-characters';
    expect(loadConfig({}).devTokens).toBe(true);
    // A real secret: a token route would hand out valid tokens for it. Off unless asked.
    expect(loadConfig({ JWT_SECRET: own }).devTokens).toBe(false);
    expect(loadConfig({ JWT_SECRET: own, DEV_TOKENS: 'true' }).devTokens).toBe(true);
    expect(loadConfig({ DEV_TOKENS: 'false' }).devTokens).toBe(false);
    expect(() =>
      loadConfig({ JWT_JWKS_URL: 'https://idp.example/jwks', DEV_TOKENS: 'true' }),
    ).toThrow(/DEV_TOKENS needs JWT_SECRET/);
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://tally@db/tally',
      PUBLIC_URL: 'https://billing.example.com',
      JWT_SECRET: own,
      PAYMENT_PROVIDER: 'paddle',
      PAYMENT_ENV: 'production',
      PADDLE_PROD_API_KEY: 'pdl_live_apikey_key',
      PADDLE_PROD_WEBHOOK_SECRET: 'pdl_ntfset_secret',
      PADDLE_PROD_PRICE_CREDITS_100: 'pri_01credits100',
      PADDLE_PROD_PRICE_CREDITS_1000: 'pri_01credits1000',
      PADDLE_PROD_PRICE_PLAN_MONTHLY: 'pri_01planmonthly',
    };
    expect(loadConfig(production).devTokens).toBe(false);
    expect(() => loadConfig({ ...production, DEV_TOKENS: 'true' })).toThrow(
      /DEV_TOKENS=true is refused in production/,
    );
  });

  it('keeps CORS origins as browsers send them', () => {
    const config = loadConfig({
      CORS_ORIGINS: 'https://App.Example.com:443,http://localhost:5173,http://LOCALHOST:80',
    });
    expect(config.corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
      'http://localhost',
    ]);
    expect(loadConfig({ CORS_ORIGINS: 'none' }).corsOrigins).toEqual([]);
  });

  it('reads every variable of the API table', () => {
    const config = loadConfig({
      PORT: '8080',
      PUBLIC_URL: 'https://billing.example.com/',
      DATABASE_URL: 'postgres://tally@/tally?host=/var/run/postgresql',
      REDIS_URL: 'redis://127.0.0.1:6379',
      JWT_SECRET: 'x'.repeat(40),
      PAYMENT_PROVIDER: 'paddle',
      PAYMENT_ENV: 'production',
      PADDLE_PROD_API_KEY: 'pdl_live_apikey_1234',
      PADDLE_PROD_WEBHOOK_SECRET: 'pdl_ntfset_5678',
      PADDLE_PROD_PRICE_CREDITS_100: 'pri_01credits100',
      PADDLE_PROD_PRICE_CREDITS_1000: 'pri_01credits1000',
      PADDLE_PROD_PRICE_PLAN_MONTHLY: 'pri_01planmonthly',
      PADDLE_PROD_CLIENT_TOKEN: 'live_clienttoken',
      MOCK_WEBHOOK_SECRET: 'y'.repeat(20),
      SUCCESS_URL: 'https://app.example.com/paid',
      CANCEL_URL: 'https://app.example.com/cancelled',
      RATE_LIMIT_CHECKOUT_PER_MINUTE: '3',
      RATE_LIMIT_CALLBACK_PER_MINUTE: '500',
      CORS_ORIGINS: 'https://app.example.com, https://admin.example.com',
      RUN_MIGRATIONS: 'false',
    });
    expect(config).toMatchObject({
      port: 8080,
      publicUrl: 'https://billing.example.com',
      databaseUrl: 'postgres://tally@/tally?host=/var/run/postgresql',
      redisUrl: 'redis://127.0.0.1:6379',
      paymentProvider: 'paddle',
      paymentEnv: 'production',
      paddle: {
        apiKey: 'pdl_live_apikey_1234',
        webhookSecret: 'pdl_ntfset_5678',
        priceIds: {
          'credits-100': 'pri_01credits100',
          'credits-1000': 'pri_01credits1000',
          'plan-monthly': 'pri_01planmonthly',
        },
        clientToken: 'live_clienttoken',
        apiUrl: 'https://api.paddle.com',
      },
      successUrl: 'https://app.example.com/paid',
      cancelUrl: 'https://app.example.com/cancelled',
      rateLimits: { checkoutPerMinute: 3, callbackPerMinute: 500 },
      corsOrigins: ['https://app.example.com', 'https://admin.example.com'],
      runMigrations: false,
    });
  });

  it('names every malformed variable in one error', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://localhost/db',
      REDIS_URL: 'localhost:6379',
      PAYMENT_PROVIDER: 'stripe',
      PAYMENT_ENV: 'staging',
      JWT_SECRET: 'short',
      PUBLIC_URL: 'not a url',
      RATE_LIMIT_CHECKOUT_PER_MINUTE: '-1',
      CORS_ORIGINS: 'app.example.com',
    });
    const named = problems.map((p) => p.split(' ')[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        'PORT',
        'DATABASE_URL',
        'REDIS_URL',
        'PAYMENT_PROVIDER',
        'PAYMENT_ENV',
        'JWT_SECRET',
        'PUBLIC_URL',
        'RATE_LIMIT_CHECKOUT_PER_MINUTE',
        'CORS_ORIGINS',
      ]),
    );
    expect(problems).toContain('PORT must be an integer between 0 and 65535');
    expect(problems).toContain('PAYMENT_PROVIDER must be mock or paddle');
    expect(problems).toContain('JWT_SECRET must be at least 32 characters');
  });

  it('never prints a secret in its message', () => {
    const secret = 'short-secret-value';
    try {
      loadConfig({ JWT_SECRET: secret, MOCK_WEBHOOK_SECRET: 'tiny' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(secret);
      expect(String((error as Error).message)).not.toContain('tiny');
    }
  });

  describe('in production', () => {
    it('names every missing variable, and accepts no development default', () => {
      const problems = problemsOf({ NODE_ENV: 'production' });
      expect(problems).toEqual(
        expect.arrayContaining([
          'DATABASE_URL is required in production',
          'PUBLIC_URL is required in production',
          'JWT_SECRET or JWT_JWKS_URL is required in production',
          'PAYMENT_PROVIDER=mock is refused in production: set PAYMENT_PROVIDER=paddle',
        ]),
      );
    });

    it('refuses the development secrets even when set explicitly', () => {
      const problems = problemsOf({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/tally',
        PUBLIC_URL: 'https://billing.example.com',
        JWT_SECRET: DEV_JWT_SECRET,
        MOCK_WEBHOOK_SECRET: DEV_MOCK_WEBHOOK_SECRET,
        PAYMENT_PROVIDER: 'paddle',
        PAYMENT_ENV: 'production',
        ...PADDLE_LIVE_KEYS,
      });
      expect(problems).toEqual([
        'JWT_SECRET is a development secret and is refused in production',
        'MOCK_WEBHOOK_SECRET is a development secret and is refused in production',
      ]);
    });

    it('requires the key set of the chosen PAYMENT_ENV', () => {
      const problems = problemsOf({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/tally',
        PUBLIC_URL: 'https://billing.example.com',
        JWT_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
        PAYMENT_PROVIDER: 'paddle',
        PAYMENT_ENV: 'production',
        PADDLE_TEST_API_KEY: 'only-the-test-key',
      });
      expect(problems).toEqual([
        'PADDLE_PROD_API_KEY is required when PAYMENT_PROVIDER=paddle',
        'PADDLE_PROD_WEBHOOK_SECRET is required when PAYMENT_PROVIDER=paddle',
        'PADDLE_PROD_PRICE_CREDITS_100 is required when PAYMENT_PROVIDER=paddle',
        'PADDLE_PROD_PRICE_CREDITS_1000 is required when PAYMENT_PROVIDER=paddle',
        'PADDLE_PROD_PRICE_PLAN_MONTHLY is required when PAYMENT_PROVIDER=paddle',
      ]);
    });

    it('starts with a complete production configuration', () => {
      const config = loadConfig(PRODUCTION);
      expect(config.isProduction).toBe(true);
      expect(config.jwt.usingDevSecret).toBe(false);
    });
  });

  describe("Paddle's environments", () => {
    const SANDBOX_IN_PRODUCTION =
      "PAYMENT_ENV=test is refused in production (Paddle's sandbox takes no real money): set PAYMENT_ENV=production, or PAYMENT_ENV_TEST_IN_PRODUCTION=true for a staging deployment on the sandbox";
    const STAGING = { ...PRODUCTION, PAYMENT_ENV: 'test', ...PADDLE_SANDBOX_KEYS };

    it('refuses the sandbox in production unless a staging deployment asks for it', () => {
      expect(problemsOf(STAGING)).toEqual([SANDBOX_IN_PRODUCTION]);
      // PAYMENT_ENV defaults to test: production must say which.
      const { PAYMENT_ENV: _named, ...unnamed } = STAGING;
      expect(problemsOf(unnamed)).toEqual([SANDBOX_IN_PRODUCTION]);
      expect(problemsOf({ ...STAGING, PAYMENT_ENV_TEST_IN_PRODUCTION: 'false' })).toEqual([
        SANDBOX_IN_PRODUCTION,
      ]);
      const staging = loadConfig({ ...STAGING, PAYMENT_ENV_TEST_IN_PRODUCTION: 'true' });
      expect(staging).toMatchObject({ isProduction: true, paymentEnv: 'test' });
      expect(staging.paddle?.apiUrl).toBe('https://sandbox-api.paddle.com');
      // Outside production the sandbox needs nothing more.
      expect(loadConfig(SANDBOX).paymentEnv).toBe('test');
      expect(problemsOf({ PAYMENT_ENV_TEST_IN_PRODUCTION: 'maybe' })).toEqual([
        'PAYMENT_ENV_TEST_IN_PRODUCTION must be true or false',
      ]);
    });

    it('only asks with Paddle: the mock is refused in production anyway', () => {
      const { PAYMENT_PROVIDER: _paddle, ...mock } = STAGING;
      expect(problemsOf(mock)).toEqual([
        'PAYMENT_PROVIDER=mock is refused in production: set PAYMENT_PROVIDER=paddle',
      ]);
    });

    it("takes a client token only of PAYMENT_ENV's environment", () => {
      const sandboxToken = 'test_0123456789abcdef0123456';
      const liveToken = 'live_7d279f61a3499fed520f7cd';
      expect(
        loadConfig({ ...SANDBOX, PADDLE_TEST_CLIENT_TOKEN: sandboxToken }).paddle,
      ).toMatchObject({ clientToken: sandboxToken });
      expect(problemsOf({ ...SANDBOX, PADDLE_TEST_CLIENT_TOKEN: liveToken })).toEqual([
        'PADDLE_TEST_CLIENT_TOKEN is a live client-side token (live_…): PAYMENT_ENV=test needs a sandbox one (test_…)',
      ]);
      expect(
        loadConfig({ ...PRODUCTION, PADDLE_PROD_CLIENT_TOKEN: liveToken }).paddle,
      ).toMatchObject({ clientToken: liveToken });
      expect(problemsOf({ ...PRODUCTION, PADDLE_PROD_CLIENT_TOKEN: sandboxToken })).toEqual([
        'PADDLE_PROD_CLIENT_TOKEN is a sandbox client-side token (test_…): PAYMENT_ENV=production needs a live one (live_…)',
      ]);
      expect(
        problemsOf({ ...PRODUCTION, PADDLE_PROD_CLIENT_TOKEN: 'ctkn_01gtgztp8f4kek3y' }),
      ).toEqual([
        'PADDLE_PROD_CLIENT_TOKEN is not a Paddle client-side token (live_… or test_…): PAYMENT_ENV=production needs a live one (live_…)',
      ]);
      // The other key set is not in use, so not read.
      expect(loadConfig({ ...PRODUCTION, PADDLE_TEST_CLIENT_TOKEN: liveToken }).isProduction).toBe(
        true,
      );
    });

    it('refuses an API key of the other environment, and takes a legacy key as it is', () => {
      const sandboxKey = 'pdl_sdbx_apikey_01gtgztp8f4kek3yd4g1wrksa3_q6TGTJyvoIz7LDtXT65bX7_AQO';
      const liveKey = 'pdl_live_apikey_01gtgztp8f4kek3yd4g1wrksa3_q6TGTJyvoIz7LDtXT65bX7_AQO';
      const legacyKey = 'a1b2c3d4e5'.repeat(5);
      expect(loadConfig({ ...SANDBOX, PADDLE_TEST_API_KEY: sandboxKey }).paddle?.apiKey).toBe(
        sandboxKey,
      );
      expect(problemsOf({ ...SANDBOX, PADDLE_TEST_API_KEY: liveKey })).toEqual([
        'PADDLE_TEST_API_KEY is a live API key (pdl_live_…): PAYMENT_ENV=test needs a sandbox one (pdl_sdbx_…, or a legacy key)',
      ]);
      expect(loadConfig({ ...PRODUCTION, PADDLE_PROD_API_KEY: liveKey }).paddle?.apiKey).toBe(
        liveKey,
      );
      expect(problemsOf({ ...PRODUCTION, PADDLE_PROD_API_KEY: sandboxKey })).toEqual([
        'PADDLE_PROD_API_KEY is a sandbox API key (pdl_sdbx_…): PAYMENT_ENV=production needs a live one (pdl_live_…, or a legacy key)',
      ]);
      for (const env of [SANDBOX, { ...PRODUCTION, PADDLE_PROD_API_KEY: legacyKey }]) {
        const legacy = { ...env, PADDLE_TEST_API_KEY: legacyKey };
        expect(loadConfig(legacy).paddle?.apiKey).toBe(legacyKey);
      }
    });

    it('never prints the token or the key it refuses', () => {
      const liveToken = 'live_7d279f61a3499fed520f7cd';
      const liveKey = 'pdl_live_apikey_01gtgztp8f4kek3yd4g1wrksa3_q6TGTJyvoIz7LDtXT65bX7_AQO';
      const message = (() => {
        try {
          loadConfig({
            ...SANDBOX,
            PADDLE_TEST_CLIENT_TOKEN: liveToken,
            PADDLE_TEST_API_KEY: liveKey,
          });
        } catch (error) {
          return (error as Error).message;
        }
        throw new Error('expected a ConfigError');
      })();
      expect(message).toMatch(/PADDLE_TEST_CLIENT_TOKEN/);
      expect(message).toMatch(/PADDLE_TEST_API_KEY/);
      for (const secret of [liveToken, liveKey]) {
        expect(message).not.toContain(secret);
        expect(message).not.toContain(secret.slice(-4));
        expect(message).not.toContain(secret.slice(5, 15));
      }
    });
  });

  describe('hardening', () => {
    it('refuses a guessable JWT_SECRET and a plain-http PUBLIC_URL in production', () => {
      expect(problemsOf({ ...PRODUCTION, JWT_SECRET: 'p'.repeat(48) })).toEqual([
        'JWT_SECRET looks guessable: use a random one in production (for example `openssl rand -base64 48`)',
      ]);
      expect(problemsOf({ ...PRODUCTION, JWT_SECRET: 'password'.repeat(4) })).toHaveLength(1);
      expect(problemsOf({ ...PRODUCTION, PUBLIC_URL: 'http://billing.example.com' })).toEqual([
        'PUBLIC_URL must be an https:// URL in production',
      ]);
      // Plain http on this machine only (a smoke test, an instance behind a local proxy).
      expect(loadConfig({ ...PRODUCTION, PUBLIC_URL: 'http://127.0.0.1:4000' }).isProduction).toBe(
        true,
      );
      // Outside production the development secret is fine, and so is any http URL.
      expect(loadConfig({ PUBLIC_URL: 'http://tally.test:4000' }).publicUrl).toBe(
        'http://tally.test:4000',
      );
    });

    it('closes the playground, introspection and an open /metrics in production', () => {
      const production = loadConfig(PRODUCTION);
      expect(production.graphql).toMatchObject({ introspection: false, playground: false });
      expect(production.metricsEnabled).toBe(false);
      expect(production.host).toBe('0.0.0.0');
      const withToken = loadConfig({ ...PRODUCTION, METRICS_TOKEN: 'a-metrics-token-of-16+' });
      expect(withToken.metricsEnabled).toBe(true);
      const opened = loadConfig({
        ...PRODUCTION,
        GRAPHQL_INTROSPECTION: 'true',
        GRAPHQL_PLAYGROUND: 'true',
      });
      expect(opened.graphql).toMatchObject({ introspection: true, playground: true });
      const development = loadConfig({});
      expect(development.graphql).toMatchObject({ introspection: true, playground: true });
      expect(development.metricsEnabled).toBe(true);
      // A development server (with its development tokens) listens on this machine only.
      expect(development.host).toBe('127.0.0.1');
    });

    it('reads TRUST_PROXY as nothing, a hop count or proxy addresses', () => {
      expect(loadConfig({}).trustProxy).toBe(false);
      expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
      expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
      expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toEqual([
        'loopback',
        '10.0.0.0/8',
      ]);
      expect(problemsOf({ TRUST_PROXY: 'true' })[0]).toMatch(/TRUST_PROXY=true would believe/);
      expect(problemsOf({ TRUST_PROXY: 'not-an-address' })[0]).toMatch(
        /^TRUST_PROXY must be a hop count or addresses and subnets/,
      );
      expect(problemsOf({ TRUST_PROXY: '50' })).toEqual(['TRUST_PROXY must be at most 10 hops']);
    });

    it('bounds token lifetimes and the WebSocket budgets', () => {
      const config = loadConfig({});
      expect(config.jwt.maxLifetimeSeconds).toBe(86_400);
      expect(config.websocket).toMatchObject({
        maxPendingConnections: 200,
        maxConnectionsPerAddress: 100,
        maxPendingPerAddress: 10,
        initTimeoutMs: 3000,
      });
      expect(problemsOf({ JWT_MAX_LIFETIME_SECONDS: '5' })).toEqual([
        'JWT_MAX_LIFETIME_SECONDS must be an integer between 60 and 31536000',
      ]);
    });
  });

  it('masks secrets to their last four characters', () => {
    expect(maskSecret('pdl_live_apikey_abcd1234')).toBe('****1234');
    expect(maskSecret('short')).toBe('****');
    expect(maskSecret(undefined)).toBe('(unset)');
    expect(maskUrl('postgres://tally:supersecretpw@db:5432/tally')).toBe(
      'postgres://tally:****etpw@db:5432/tally',
    );
  });
});

import 'reflect-metadata';
import 'dotenv/config';
import { signToken } from './auth';
import { ConfigError, configSecrets, loadConfig, maskSecret, type AppConfig } from './config';
import { EmbeddedPostgresError } from './db';
import { createLogger, type Logger } from './observability';
import { startTally } from './server';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, {
    pretty: !config.isProduction && process.stdout.isTTY,
    secrets: configSecrets(config),
  });
  logger.info(
    {
      nodeEnv: config.nodeEnv,
      port: config.port,
      database: config.databaseUrl ? 'DATABASE_URL' : 'embedded',
      provider: config.paymentProvider,
      paymentEnv: config.paymentEnv,
      jwt: config.jwt.jwksUrl ? 'jwks' : `secret ${maskSecret(config.jwt.secret)}`,
      ...(config.paddle
        ? {
            paddle: {
              apiKey: maskSecret(config.paddle.apiKey),
              webhookSecret: maskSecret(config.paddle.webhookSecret),
              api: config.paddle.apiUrl,
            },
          }
        : { mockWebhookSecret: maskSecret(config.mockWebhookSecret) }),
    },
    'starting Tally',
  );

  const server = await startTally({ config, logger });
  await announceListening({ config, logger, url: server.url });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    server.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The start's last lines: where it listens, and in development a ready admin token. */
async function announceListening(options: {
  config: AppConfig;
  logger: Logger;
  url: string;
}): Promise<void> {
  const { config, logger } = options;
  const playground = `${config.publicUrl}/graphql`;
  logger.info(
    { url: options.url, ...(config.graphql.playground ? { playground } : {}) },
    'Tally is listening',
  );
  if (config.isProduction && !config.metricsEnabled) {
    logger.warn('/metrics is off: set METRICS_TOKEN to serve it in production');
  }
  if (!config.jwt.usingDevSecret) return;
  const token = await signToken({
    secret: config.jwt.secret!,
    subject: 'dev-admin',
    role: 'admin',
    expiresIn: '12h',
  });
  process.stdout.write(
    `\nPlayground: ${playground}\n` +
      `Development admin token (12 h; more with \`npm run token -- --sub alice --role user\`):\n` +
      `  Authorization: Bearer ${token}\n\n`,
  );
}

main().catch((error: unknown) => {
  // A known reason is one sentence that says what to do; a stack would only bury it.
  if (error instanceof EmbeddedPostgresError) {
    process.stderr.write(`Tally failed to start: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `Tally failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});

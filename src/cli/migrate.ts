import 'reflect-metadata';
import 'dotenv/config';
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from '../db';
import { createLogger } from '../observability';

/** `npm run migrate`: applies pending migrations and exits; for production deploys. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'silent' ? 'info' : config.logLevel);
  const database = await openDatabase({ ...config, runMigrations: true }, logger);
  const pending = await database.dataSource.showMigrations();
  await database.close();
  logger.info({ pending }, 'migrations done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
});

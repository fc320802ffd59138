import 'reflect-metadata';
import 'dotenv/config';
import { BillingStatus, createBilling } from '../billing';
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from '../db';
import { Ledger, ProfileService } from '../ledger';
import { createLogger } from '../observability';
import { createPaymentProvider, type PaymentProvider } from '../providers';

/**
 * `npm run reconcile [-- --older-than-minutes N]`: asks the provider about every order still
 * pending after N minutes (default 15) and completes or cancels it; exits 1 when any could
 * not be settled (the provider unreachable, say). Safe to run while the service runs: an
 * order is completed at most once.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = args.indexOf('--older-than-minutes');
  const minutes = flag >= 0 ? Number(args[flag + 1]) : 15;
  if (!Number.isInteger(minutes) || minutes < 0) {
    throw new ConfigError(['--older-than-minutes must be a whole number of minutes']);
  }
  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'silent' ? 'silent' : 'warn');
  const database = await openDatabase({ ...config, runMigrations: false }, logger);
  let provider: PaymentProvider | undefined;
  try {
    const { dataSource } = database;
    provider = createPaymentProvider({
      config,
      dataSource,
      logger,
      publicUrl: () => config.publicUrl,
      webhookUrl: () => `${config.publicUrl}/api/payment/callback`,
    });
    const billing = createBilling({
      dataSource,
      ledger: new Ledger(dataSource),
      profiles: new ProfileService(dataSource),
      provider,
      logger,
      status: new BillingStatus({ provider: provider.name, logger }),
      hooks: {},
    });
    const { pending, settled, failed } = await billing.reconcileStuckOrders({
      olderThanMinutes: minutes,
    });
    for (const id of failed) process.stderr.write(`  ${id}: could not be settled\n`);
    const summary = Object.entries(settled)
      .map(([status, n]) => `${n} ${status.toLowerCase()}`)
      .join(', ');
    process.stdout.write(
      `reconcile: ${pending} order(s) pending for over ${minutes} min${summary ? `: ${summary}` : ''}${failed.length ? `, ${failed.length} failed` : ''}\n`,
    );
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    // Before the database: the mock provider's webhook retries use it.
    await provider?.close?.();
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
});

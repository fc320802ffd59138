import 'reflect-metadata';
import 'dotenv/config';
import { PaymentService } from '../billing';
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from '../db';
import { Ledger } from '../ledger';
import { createLogger } from '../observability';
import { createPaymentProvider } from '../providers';

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
  try {
    const { dataSource } = database;
    const provider = createPaymentProvider({
      config,
      dataSource,
      logger,
      publicUrl: () => config.publicUrl,
      webhookUrl: () => `${config.publicUrl}/api/payment/callback`,
    });
    const payments = new PaymentService(dataSource, new Ledger(dataSource), provider, logger, {
      successUrl: config.successUrl,
      cancelUrl: config.cancelUrl,
    });
    const stuck = await payments.stuckOrders(minutes);
    const tally: Record<string, number> = {};
    let failed = 0;
    for (const order of stuck) {
      try {
        const settled = await payments.reconcileOrder(order.id);
        tally[settled.status] = (tally[settled.status] ?? 0) + 1;
      } catch (error) {
        failed++;
        process.stderr.write(
          `  ${order.id}: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      }
    }
    const summary = Object.entries(tally)
      .map(([status, n]) => `${n} ${status.toLowerCase()}`)
      .join(', ');
    process.stdout.write(
      `reconcile: ${stuck.length} order(s) pending for over ${minutes} min${summary ? `: ${summary}` : ''}${failed ? `, ${failed} failed` : ''}\n`,
    );
    if (failed > 0) process.exitCode = 1;
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
});

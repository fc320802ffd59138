import 'reflect-metadata';
import 'dotenv/config';
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from '../db';
// The file, not jobs/index.ts: that loads pg-boss, which a one-shot check has no use for.
import { checkCredits } from '../jobs/drift-check';
import { Ledger } from '../ledger';
import { createLogger } from '../observability';

/**
 * `npm run drift-check`: lists every user whose balance differs from the sum of their
 * transactions (and whose reserved sum differs from their active holds), and exits 1 when
 * there is any (for cron and CI). Read-only: it applies no migration. It checks what the
 * scheduled credit-drift-check job checks: both call `checkCredits` (src/jobs).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'silent' ? 'silent' : 'warn');
  const database = await openDatabase({ ...config, runMigrations: false }, logger);
  try {
    const { drift, reservedDrift: held } = await checkCredits({
      ledger: new Ledger(database.dataSource),
    });
    if (drift.length === 0) {
      process.stdout.write('drift check: every balance equals the sum of its transactions\n');
    } else {
      process.stdout.write(`drift check: ${drift.length} user(s) drifted\n`);
      for (const d of drift) {
        process.stdout.write(
          `  ${d.userId}: balance ${d.credits}, transactions sum ${d.transactionSum}, drift ${d.drift}\n`,
        );
      }
    }
    if (held.length > 0) {
      process.stdout.write(`reservation check: ${held.length} user(s) with a wrong reserved sum\n`);
      for (const h of held) {
        process.stdout.write(
          `  ${h.userId}: reserved ${h.reserved}, active holds sum ${h.activeHoldSum}\n`,
        );
      }
    }
    if (drift.length > 0 || held.length > 0) process.exitCode = 1;
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
});

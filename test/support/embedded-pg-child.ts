/**
 * An embedded PostgreSQL in a process of its own, for tests that stop and start the
 * database under a running service, kill its owner, or run it from another copy of the
 * project. Usage: node -r ts-node/register this-file <dataDir> <port> <database>.
 * Prints one JSON line {"url": …} once ready; SIGTERM stops PostgreSQL and then the process.
 */
import { startEmbeddedPostgres } from '../../src/db';
import { silentLogger } from '../../src/observability';

async function main(): Promise<void> {
  const [dataDir, port, database] = process.argv.slice(2);
  const pg = await startEmbeddedPostgres({
    dataDir: dataDir!,
    port: Number(port),
    database: database!,
    logger: silentLogger,
  });
  process.on('SIGTERM', () => {
    void pg.stop().then(() => process.exit(0));
  });
  process.stdout.write(`${JSON.stringify({ url: pg.url })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});

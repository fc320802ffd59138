/**
 * An embedded PostgreSQL in a process of its own, for tests that stop and start the
 * database under a running service, kill its owner, or run it from another copy of the
 * project. Usage: node -r ts-node/register this-file <dataDir> <port> <database>.
 * Prints one JSON line {"url": …} once ready; SIGTERM stops PostgreSQL and then the process.
 */
// The files themselves, not the modules' index files: ts-node type-checks everything a
// child imports, and src/db's index brings TypeORM, every entity and migration (10 s a
// start instead of 5, enough to push a test of several starts past its timeout).
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { silentLogger } from '../../src/observability/logger';

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

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, startDatabaseProcess } from '../support/process';

/**
 * The embedded PostgreSQL's data folder belongs to the process running it: a second Tally
 * on the same folder is refused with a message instead of stopping the first one's
 * database, while a cluster left by a killed process is still taken over.
 */
describe('the embedded PostgreSQL data folder', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tally-owner-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function answers(url: string): Promise<boolean> {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  it('refuses a second owner while the first runs, and serves the next one after', async () => {
    const first = await startDatabaseProcess(dataDir, await freePort(), 'tally');
    try {
      await expect(startDatabaseProcess(dataDir, await freePort(), 'tally')).rejects.toThrow(
        /belongs to another running Tally \(pid \d+\)/,
      );
      // The first one's database was left alone.
      expect(await answers(first.url)).toBe(true);
    } finally {
      await first.stop();
    }
    // Stopped cleanly, the folder is free again.
    const next = await startDatabaseProcess(dataDir, await freePort(), 'tally');
    expect(await answers(next.url)).toBe(true);
    await next.stop();
  }, 60_000);

  it('takes over a cluster whose process was killed, stopping the orphaned server', async () => {
    const killed = await startDatabaseProcess(dataDir, await freePort(), 'tally');
    process.kill(killed.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Its PostgreSQL outlived it, still holding the folder.
    expect(await answers(killed.url)).toBe(true);
    const after = await startDatabaseProcess(dataDir, await freePort(), 'tally');
    try {
      expect(await answers(after.url)).toBe(true);
      expect(await answers(killed.url)).toBe(false);
    } finally {
      await after.stop();
    }
  }, 60_000);
});

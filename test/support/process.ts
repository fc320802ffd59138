import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

/** The project's root folder. */
export const ROOT = path.join(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the real entry point (src/main.ts) as its own process and waits until it listens. */
export async function startProcess(env: Record<string, string>): Promise<Started> {
  let output = '';
  const child = spawn(process.execPath, ['-r', 'ts-node/register', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      TS_NODE_TRANSPILE_ONLY: 'true',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  while (!output.includes('Tally is listening')) {
    if (child.exitCode !== null) throw new Error(`service exited during start:\n${output}`);
    if (Date.now() > deadline) throw new Error(`service did not start in time:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => output, exited };
}

/**
 * PostgreSQL in a child process (embedded-pg-child.ts) on a fixed port: `stop()` shuts it
 * down cleanly; starting again on the same folder and port brings the same data back.
 * `root` runs it from another copy of the project (default this one); `env` adds variables.
 */
export async function startDatabaseProcess(
  dataDir: string,
  port: number,
  database: string,
  options: { root?: string; env?: Record<string, string> } = {},
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const root = options.root ?? ROOT;
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register',
      path.join(root, 'test', 'support', 'embedded-pg-child.ts'),
      dataDir,
      String(port),
      database,
    ],
    {
      cwd: root,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '/tmp',
        TS_NODE_TRANSPILE_ONLY: 'true',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`database process exited (${code}): ${output}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Waits until the process has printed something matching `pattern` (5 s at most). */
export async function waitForOutput(started: Started, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pattern.test(started.output())) {
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

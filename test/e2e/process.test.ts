import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { alive, freePort, ROOT, startProcess, waitForOutput } from '../support/process';

describe('the service process', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'tally-process-'));
    // As root, PostgreSQL runs as the postgres user, who must be able to enter the folder.
    chmodSync(dataDir, 0o755);
  });
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on an embedded PostgreSQL, finishes in-flight requests on SIGTERM, and stops the database within 10 s', async () => {
    const port = await freePort();
    const pgDir = path.join(dataDir, 'pg');
    const service = await startProcess({ PORT: String(port), EMBEDDED_PG_DATA_DIR: pgDir });
    children.push(service.child);
    // Printed just after the "listening" log line, once the admin token is signed.
    await waitForOutput(service, /Authorization: Bearer ey/);
    expect(service.output()).toMatch(/Playground: http:\/\/localhost:\d+\/graphql/);
    expect(service.output()).toMatch(/Authorization: Bearer ey/);
    const postmasterPid = Number(
      readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    expect(alive(postmasterPid)).toBe(true);

    // An in-flight request: headers and half the body are sent, the rest comes after SIGTERM.
    const body = JSON.stringify({ query: '{ products { id } }' });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/graphql',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 700);
    });
    await new Promise((r) => setTimeout(r, 200));
    const stopStarted = Date.now();
    service.child.kill('SIGTERM');

    const finished = await response;
    expect(finished.status).toBe(200);
    expect(JSON.parse(finished.body).data.products).toHaveLength(3);

    const exit = await service.exited;
    const stopMs = Date.now() - stopStarted;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(stopMs).toBeLessThan(10_000);
    expect(alive(postmasterPid)).toBe(false);
    expect(existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false);
  });

  it('refuses to start with a malformed configuration and names every problem', async () => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        TS_NODE_TRANSPILE_ONLY: 'true',
        PORT: 'x',
        PAYMENT_PROVIDER: 'stripe',
      },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('Invalid configuration');
    expect(stderr).toContain('PORT must be an integer');
    expect(stderr).toContain('PAYMENT_PROVIDER must be mock or paddle');
  });
});

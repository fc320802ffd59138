/**
 * `npm run deploy:check`: builds the image, starts docker-compose.yml (two Tally instances,
 * PostgreSQL, Redis) under its own project name and ports, and checks what the deployment
 * promises, printing a figure for each:
 *
 *  - the image runs as a non-root user that cannot write its code, with a healthcheck;
 *  - no development token route with the operator's JWT secret;
 *  - migrations ran once, in the migrate step, and the two instances share one job schedule;
 *  - a purchase paid through instance 1 reaches a graphql-ws client of instance 2;
 *  - kill -9 of an instance's process: Docker restarts it, healthy again, nothing lost;
 *  - SIGTERM (`docker stop`): clean exit within 10 s;
 *  - PostgreSQL restarted: /readyz says 503, then ready again by itself;
 *  - no configured secret in any container's log.
 *
 * Needs a Docker engine and compose (`docker compose` or `docker-compose`). Where images
 * cannot be pulled, test/deploy/stand-in-images.sh builds local stand-ins first.
 * TALLY_CHECK_KEEP=1 leaves the project running for a look around.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { signToken } from '../../src/auth';
import {
  BalanceChangedDocument,
  CreateCheckoutDocument,
  MyBillingDocument,
} from '../generated/graphql';
import { gql } from '../support/graphql';
import { liveClient, watch } from '../support/live';
import { freePort } from '../support/process';

const ROOT = path.join(__dirname, '..', '..');
const PROJECT = `tallycheck${randomBytes(3).toString('hex')}`;
const IMAGES = ['node:20-bookworm-slim', 'postgres:15-bookworm', 'redis:7-bookworm'];

const figures: Array<[string, string]> = [];
function figure(what: string, value: string): void {
  figures.push([what, value]);
  console.log(`  ✓ ${what}: ${value}`);
}
function fail(what: string): never {
  throw new Error(what);
}

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(command, args, {
    cwd: ROOT,
    env: env ?? process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  }).trim();
}

function composeCommand(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) {
    return ['docker', 'compose'];
  }
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) {
    return ['docker-compose'];
  }
  return fail('neither `docker compose` nor `docker-compose` is installed');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function status(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.status;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    fail('no Docker engine answers (`docker info` failed)');
  }
  const compose = composeCommand();
  const missing = IMAGES.filter(
    (image) => spawnSync('docker', ['image', 'inspect', image], { stdio: 'ignore' }).status !== 0,
  );
  if (missing.length > 0) {
    console.log(`images missing (${missing.join(', ')}): building stand-ins`);
    execFileSync('bash', [path.join(__dirname, 'stand-in-images.sh')], { stdio: 'inherit' });
  }

  const [port1, port2] = [await freePort(), await freePort()];
  const secrets = {
    JWT_SECRET: randomBytes(24).toString('hex'),
    POSTGRES_PASSWORD: randomBytes(12).toString('hex'),
    MOCK_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    METRICS_TOKEN: randomBytes(16).toString('hex'),
  };
  const env = {
    ...process.env,
    ...secrets,
    COMPOSE_PROJECT_NAME: PROJECT,
    TALLY_1_PORT: String(port1),
    TALLY_2_PORT: String(port2),
    TALLY_1_PUBLIC_URL: `http://127.0.0.1:${port1}`,
    TALLY_2_PUBLIC_URL: `http://127.0.0.1:${port2}`,
  };
  const dc = (...args: string[]) => run(compose[0]!, [...compose.slice(1), ...args], env);
  const container = (service: string) => dc('ps', '-q', service);
  const inspect = (id: string, format: string) => run('docker', ['inspect', '-f', format, id]);
  const url1 = `http://127.0.0.1:${port1}`;
  const url2 = `http://127.0.0.1:${port2}`;

  console.log(`project ${PROJECT}: instances at ${url1} and ${url2}`);
  try {
    let started = Date.now();
    dc('build', '-q');
    figure('image built (cached layers count)', `${((Date.now() - started) / 1000).toFixed(1)} s`);
    const imageSize = Number(run('docker', ['image', 'inspect', '-f', '{{.Size}}', 'tally:local']));
    const baseSize = Number(
      run('docker', ['image', 'inspect', '-f', '{{.Size}}', 'node:20-bookworm-slim']),
    );
    figure(
      'image size',
      `${(imageSize / 1e6).toFixed(0)} MB (${((imageSize - baseSize) / 1e6).toFixed(0)} MB over node:20-bookworm-slim)`,
    );

    started = Date.now();
    dc('up', '-d');
    const [tally1, tally2] = await until('both instances healthy', 120_000, () => {
      const ids = [container('tally-1'), container('tally-2')];
      if (ids.some((id) => !id)) return undefined;
      const health = ids.map((id) => inspect(id, '{{.State.Health.Status}}'));
      return health.every((h) => h === 'healthy') ? ids : undefined;
    });
    figure(
      'up to both instances healthy (Docker healthcheck)',
      `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    // The image: its user, its healthcheck, its code read-only to the service.
    const user = inspect(tally1!, '{{.Config.User}}');
    const uid = run('docker', ['exec', tally1!, 'id', '-u']);
    if (user !== 'node' || uid !== '1000') fail(`runs as ${user} (uid ${uid})`);
    const write = spawnSync('docker', ['exec', tally1!, 'touch', '/app/dist/src/main.js'], {
      encoding: 'utf8',
    });
    if (write.status === 0) fail('the service can write its own code');
    const healthcheck = inspect(tally1!, '{{json .Config.Healthcheck.Test}}');
    if (!healthcheck.includes('/healthz')) fail(`healthcheck: ${healthcheck}`);
    figure('runs as', `user ${user}, uid ${uid}; /app read-only to it; healthcheck on /healthz`);
    // With the operator's JWT_SECRET, even in development mode, no token route hands out
    // tokens signed with it.
    const devToken = await fetch(`${url1}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'intruder' }),
    });
    if (devToken.status !== 404) fail(`/dev/token answered ${devToken.status}`);
    figure('development tokens with a real JWT_SECRET', 'none (/dev/token 404)');

    // Migrations: applied by the migrate step, not by the instances.
    const migrate = dc('ps', '-q', '-a', 'migrate');
    const migrateExit = inspect(migrate, '{{.State.ExitCode}}');
    const migrateLog = run('docker', ['logs', migrate]);
    const applied = /"migrations":\[([^\]]*)\]/.exec(migrateLog)?.[1]?.split(',').length ?? 0;
    const instanceLogs = [tally1!, tally2!].map((id) => run('docker', ['logs', id]));
    if (migrateExit !== '0' || applied === 0) fail(`migrate exited ${migrateExit}: ${migrateLog}`);
    if (instanceLogs.some((log) => log.includes('migrations applied'))) {
      fail('an instance applied migrations');
    }
    const psql = (sql: string) =>
      dc('exec', '-T', 'postgres', 'psql', '-U', 'tally', '-d', 'tally', '-tAc', sql);
    const schedules = psql('SELECT count(*) FROM pgboss.schedule');
    if (schedules !== '3') fail(`${schedules} pg-boss schedules, expected 3`);
    figure(
      'migrations',
      `${applied} applied once by the migrate step (exit 0), none by the instances; 3 job schedules shared`,
    );

    // A purchase through instance 1, seen live by a client of instance 2 (Redis pub/sub).
    const userId = `compose-${randomBytes(4).toString('hex')}`;
    const token = await signToken({
      secret: secrets.JWT_SECRET,
      subject: userId,
      role: 'user',
      expiresIn: '10m',
    });
    const client = liveClient(url2, token);
    const live = watch(client, BalanceChangedDocument, {});
    const metricsAuth = { headers: { authorization: `Bearer ${secrets.METRICS_TOKEN}` } };
    await until('the subscription is live on instance 2', 10_000, async () => {
      const text = await (await fetch(`${url2}/metrics`, metricsAuth)).text();
      return /^tally_realtime_subscribers [1-9]/m.test(text) ? true : undefined;
    });
    const checkout = await gql(url1, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'credits-100' } },
    });
    const checkoutUrl = checkout.data?.createCheckout.checkoutUrl;
    if (!checkoutUrl) fail(`createCheckout: ${JSON.stringify(checkout.body)}`);
    const paidAt = performance.now();
    // As the page's Pay button does: a form post, answered with the redirect back to Tally.
    const pay = await fetch(`${checkoutUrl}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    if (pay.status !== 303) fail(`pay: ${pay.status}`);
    const [event] = await live.until(1, 5000);
    const change = event!.data.balanceChanged;
    if (change.transaction.type !== 'PURCHASE' || change.transaction.amount !== 100) {
      fail(JSON.stringify(change));
    }
    const billing = await gql(url2, MyBillingDocument, { token });
    if (billing.data?.me.credits !== 100) fail(`instance 2 says ${JSON.stringify(billing.body)}`);
    figure(
      'paid on instance 1, balanceChanged on instance 2',
      `PURCHASE +100 after ${(event!.at - paidAt).toFixed(0)} ms; me.credits 100 on both`,
    );
    live.stop();
    await client.dispose();

    // kill -9 of an instance's process: Docker's restart policy brings it back; nothing lost.
    const restartsBefore = Number(inspect(tally1!, '{{.RestartCount}}'));
    started = Date.now();
    // From the host, as a crash or the OOM killer would: Docker treats `docker kill` as a
    // deliberate stop and would not restart the container.
    run('kill', ['-9', inspect(tally1!, '{{.State.Pid}}')]);
    await until('instance 1 restarted and healthy', 60_000, () => {
      const restarts = Number(inspect(tally1!, '{{.RestartCount}}'));
      const health = inspect(tally1!, '{{.State.Health.Status}}');
      return restarts > restartsBefore && health === 'healthy' ? true : undefined;
    });
    const afterKill = await gql(url1, MyBillingDocument, { token });
    if (afterKill.data?.me.credits !== 100) fail(`after kill: ${JSON.stringify(afterKill.body)}`);
    figure(
      'kill -9 of instance 1',
      `restarted by Docker, healthy again after ${((Date.now() - started) / 1000).toFixed(1)} s, credits still 100`,
    );

    // SIGTERM: a clean exit well within 10 s, then back.
    started = Date.now();
    run('docker', ['stop', '-t', '10', tally2!]);
    const stopSeconds = (Date.now() - started) / 1000;
    const stopExit = inspect(tally2!, '{{.State.ExitCode}}');
    if (stopExit !== '0' || stopSeconds >= 10) fail(`stop: exit ${stopExit} in ${stopSeconds} s`);
    figure('docker stop (SIGTERM) instance 2', `exit 0 after ${stopSeconds.toFixed(1)} s`);
    run('docker', ['start', tally2!]);

    // PostgreSQL restarted under the instances: 503 meanwhile, ready again by themselves.
    const pg = container('postgres');
    run('docker', ['stop', '-t', '10', pg]);
    const during = await until('instance 1 /readyz 503 without PostgreSQL', 15_000, async () =>
      (await status(`${url1}/readyz`)) === 503 ? 503 : undefined,
    );
    const healthz = await status(`${url1}/healthz`);
    started = Date.now();
    run('docker', ['start', pg]);
    await until('both instances ready after PostgreSQL is back', 30_000, async () => {
      const codes = await Promise.all([status(`${url1}/readyz`), status(`${url2}/readyz`)]);
      return codes.every((code) => code === 200) ? true : undefined;
    });
    figure(
      'PostgreSQL stopped, then started',
      `/readyz ${during} and /healthz ${healthz} meanwhile; both ready ${((Date.now() - started) / 1000).toFixed(1)} s after its start`,
    );
    const afterOutage = await gql(url2, MyBillingDocument, { token });
    if (afterOutage.data?.me.credits !== 100) fail(JSON.stringify(afterOutage.body));

    // No configured secret in any log.
    const logs = dc('logs', '--no-color');
    const leaked = Object.entries(secrets).filter(([, value]) => logs.includes(value));
    if (leaked.length > 0) fail(`in the logs: ${leaked.map(([name]) => name).join(', ')}`);
    figure(
      'secrets in the logs',
      `none of ${Object.keys(secrets).join(', ')} in ${logs.split('\n').length} log lines`,
    );
  } finally {
    if (process.env['TALLY_CHECK_KEEP'] === '1') {
      console.log(`left running: ${compose.join(' ')} -p ${PROJECT} down -v`);
    } else {
      spawnSync(compose[0]!, [...compose.slice(1), 'down', '-v', '--remove-orphans'], {
        cwd: ROOT,
        env,
        stdio: 'ignore',
      });
    }
  }
  console.log(`\ndeploy check passed: ${figures.length} checks`);
}

main().catch((error: unknown) => {
  console.error(`\ndeploy check FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

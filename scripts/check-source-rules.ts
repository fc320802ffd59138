import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseSource, runRules, type SourceFile } from './source-rules';

/**
 * `npm run lint`'s last step: every rule of scripts/source-rules.ts over src/. Prints each
 * violation as `path:line [rule] message` and exits 1 when there is any.
 */
const ROOT = path.join(__dirname, '..');

function sourcesUnder(folder: string): SourceFile[] {
  return readdirSync(path.join(ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${folder}/${entry.name}`;
    if (entry.isDirectory()) return sourcesUnder(relative);
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) return [];
    return [parseSource(relative, readFileSync(path.join(ROOT, relative), 'utf8'))];
  });
}

const violations = runRules(sourcesUnder('src'));
for (const v of violations) process.stdout.write(`${v.path}:${v.line} [${v.rule}] ${v.message}\n`);
if (violations.length > 0) {
  process.stdout.write(`source rules: ${violations.length} violation(s)\n`);
  process.exitCode = 1;
}

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { replaceConfigTable } from '../config';

/**
 * `npm run config:docs`: writes README.md's configuration table from src/config/variables.ts.
 * With `--check` it writes nothing and exits 1 when the table differs (scripts/check-generated.sh).
 */
const readmePath = path.join(__dirname, '..', '..', 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const wanted = replaceConfigTable(readme);

if (readme === wanted) {
  process.stdout.write('README.md: the configuration table is current\n');
} else if (process.argv.includes('--check')) {
  const [line, expected] = firstDifference(readme, wanted);
  process.stderr.write(
    `README.md's configuration table differs from src/config/variables.ts (line ${line}; expected:\n${expected})\n` +
      'edit the variable there, then run npm run config:docs and commit\n',
  );
  process.exitCode = 1;
} else {
  writeFileSync(readmePath, wanted);
  process.stdout.write('README.md: configuration table written\n');
}

function firstDifference(actual: string, expected: string): [number, string] {
  const a = actual.split('\n');
  const b = expected.split('\n');
  const index = b.findIndex((line, i) => line !== a[i]);
  return [index + 1, b[index] ?? '(end of file)'];
}

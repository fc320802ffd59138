import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configVariableNames, loadConfig, replaceConfigTable } from '../../src/config';
import { ConfigRegistry } from '../../src/config/registry';
import { renderConfigTable } from '../../src/config/readme-table';
import { CONFIG_VARIABLES } from '../../src/config/variables';
import { intInRange, optionalString } from '../../src/config/parsers';

/**
 * README's configuration table is written from src/config/variables.ts; here, as in
 * scripts/check-generated.sh, a table edited by hand or a variable added without its row
 * fails.
 */
const README = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

describe("README's configuration table", () => {
  it('is what the registry writes (npm run config:docs)', () => {
    expect(replaceConfigTable(README)).toBe(README);
  });

  it('names every variable loadConfig reads, and shows each constant default', () => {
    const table = renderConfigTable();
    for (const entry of CONFIG_VARIABLES.entries) {
      expect(table).toContain(entry.kind === 'variable' ? `\`${entry.name}\`` : entry.label);
    }
    // The numbers in the default column are the ones loadConfig uses.
    const row = (name: string) =>
      table.split('\n').find((line) => line.startsWith(`| \`${name}\``));
    const config = loadConfig({});
    expect(row('WS_BUFFER_EVENTS')).toContain(`| ${config.websocket.bufferEvents} `);
    expect(row('JWT_MAX_LIFETIME_SECONDS')).toContain(`| ${config.jwt.maxLifetimeSeconds} `);
  });

  it('comes from the same registry as configVariableNames', () => {
    const names = configVariableNames();
    expect(names).toEqual(expect.arrayContaining(['PORT', 'PADDLE_PROD_PRICE_PLAN_MONTHLY']));
    expect(new Set(names).size).toBe(names.length);
  });

  it('refuses a computed default without its README text, and joins a shared row', () => {
    const computed = new ConfigRegistry();
    computed.variable('A', { parser: intInRange(1, 9), fallback: () => 1, row: { what: 'a' } });
    expect(() => renderConfigTable(computed)).toThrow(/A: a computed default needs `shown`/);

    const grouped = new ConfigRegistry();
    const b = grouped.variable('B', { parser: optionalString, row: { what: 'b and c' } });
    grouped.variable('C', { parser: intInRange(1, 9), fallback: 7, row: { sameRowAs: b } });
    expect(renderConfigTable(grouped)).toBe(
      [
        '| variable | default | what    |',
        '| -------- | ------- | ------- |',
        '| `B`, `C` | 7       | b and c |',
        '',
      ].join('\n'),
    );
  });
});

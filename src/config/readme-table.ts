import type { ConfigRegistry, Documented, Variable } from './registry';
import { CONFIG_VARIABLES } from './variables';

/**
 * README's configuration table, written from the registry (`npm run config:docs`) between
 * these markers, so the table never says something the code does not do. CI and a unit
 * test fail when README.md differs from what this writes.
 */
export const CONFIG_TABLE_START =
  '<!-- config-table:start: generated from src/config/variables.ts by npm run config:docs -->';
export const CONFIG_TABLE_END = '<!-- config-table:end -->';

interface TableRow {
  members: Documented[];
  names: string[];
  defaults: string[];
  what: string;
}

/** The table as Markdown, already laid out as Prettier lays it out. */
export function renderConfigTable(registry: ConfigRegistry = CONFIG_VARIABLES): string {
  const rows: TableRow[] = [];
  for (const entry of registry.entries) {
    const label = entry.kind === 'variable' ? `\`${entry.name}\`` : entry.label;
    const shown = defaultShown(entry);
    const place = entry.row;
    const row =
      'what' in place
        ? { members: [], names: [], defaults: [], what: place.what }
        : rows.find((r) => r.members.includes(place.sameRowAs));
    if (!row) throw new Error(`${label} shares the row of a variable declared after it`);
    if (row.members.length === 0) rows.push(row);
    row.members.push(entry);
    row.names.push(label);
    // Members with the same default (`true`, but `false` in production) show it once.
    if (shown && !row.defaults.includes(shown)) row.defaults.push(shown);
  }
  return layOut([
    ['variable', 'default', 'what'],
    ...rows.map((row) => [row.names.join(', '), row.defaults.join(', ') || 'none', row.what]),
  ]);
}

/** README with its table replaced by the registry's. */
export function replaceConfigTable(readme: string, table = renderConfigTable()): string {
  const start = readme.indexOf(CONFIG_TABLE_START);
  const end = readme.indexOf(CONFIG_TABLE_END);
  if (start < 0 || end < start) {
    throw new Error(`README.md has no ${CONFIG_TABLE_START} … ${CONFIG_TABLE_END} markers`);
  }
  return `${readme.slice(0, start)}${CONFIG_TABLE_START}\n\n${table}\n${readme.slice(end)}`;
}

/** A default as README shows it: its `shown` text, or the value itself; '' for none. */
function defaultShown(entry: Documented & { kind: string }): string {
  if (entry.shown !== undefined) return entry.shown;
  if (entry.kind !== 'variable') return '';
  const { name, fallback } = entry as Variable<unknown, unknown>;
  if (typeof fallback === 'function') {
    throw new Error(`${name}: a computed default needs \`shown\`, its text for README`);
  }
  if (fallback === undefined) return '';
  return typeof fallback === 'number' ? String(fallback) : `\`${String(fallback)}\``;
}

/** Cells padded to their column's width, as `prettier --write README.md` leaves them. */
function layOut(table: string[][]): string {
  const cells = table.map((row) => row.map((cell) => cell.replace(/\|/g, '\\|')));
  const widths = cells[0]!.map((_, column) =>
    Math.max(3, ...cells.map((row) => row[column]!.length)),
  );
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n') + '\n';
}

/**
 * How the CLI shows answers to people: aligned columns for lists, `label:
 * value` lines for one thing. With --json the CLI prints the server's JSON
 * body instead, unchanged, for scripts.
 */
export type Column<T> = [header: string, value: (row: T) => unknown];

const cell = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : Array.isArray(v) ? v.join(',') : String(v));

/** Rows under upper-case headers, columns two spaces apart (like kubectl); `(none)` for no rows. */
export function table<T>(rows: readonly T[], columns: Column<T>[], opts: { header?: boolean } = {}): string {
  if (rows.length === 0 && opts.header !== false) return '(none)\n';
  const cells = rows.map((r) => columns.map(([, f]) => cell(f(r))));
  const all = opts.header === false ? cells : [columns.map(([h]) => h.toUpperCase()), ...cells];
  const widths = columns.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** One `label: value` line per field, labels aligned. */
export function record<T>(row: T, fields: Column<T>[]): string {
  const width = Math.max(...fields.map(([l]) => l.length)) + 1;
  return fields.map(([l, f]) => `${`${l}:`.padEnd(width)} ${cell(f(row))}`).join('\n') + '\n';
}

export const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

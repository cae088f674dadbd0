/**
 * Rewrites the configuration reference in README.md (between
 * `<!-- config:start -->` and `<!-- config:end -->`) from `configSpec`
 * (src/config.ts). Run `npm run readme:config` after changing a setting;
 * test/config.test.ts fails while README.md is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configTable } from '../src/config.js';

export const README_FILE = fileURLToPath(new URL('../README.md', import.meta.url));
export const START = '<!-- config:start -->';
export const END = '<!-- config:end -->';

/** The table between the markers, or undefined when README has no markers. */
export function readmeTable(readme: string): string | undefined {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) return undefined;
  return readme.slice(a + START.length, b).trim();
}

export function withTable(readme: string, table: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} … ${END} markers to put the configuration table between`);
  return `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const before = readFileSync(README_FILE, 'utf8');
  const after = withTable(before, configTable());
  if (after !== before) writeFileSync(README_FILE, after);
  process.stdout.write(after === before ? 'README.md configuration table is up to date\n' : 'README.md configuration table rewritten\n');
}

/**
 * A one-line summary of what a PATCH or /Bulk request asked for, for the
 * request log: `PATCH 3 ops: replace active, add members ×2`,
 * `Bulk 4 ops: POST /Users ×3, DELETE /Groups`. Built from the body as sent,
 * valid or not (a refused request is summarised too); never throws. Values
 * never appear: filters in paths become `[…]`, resource ids in Bulk paths
 * are dropped.
 */
import { getCi, isObject } from './json.js';

const MAX_SUMMARY = 300;
const URN_ATTR = /^urn:.*:([^:]+:[^:]+)$/i;

/** `members[value eq "x"]` → `members[…]`; an extension attribute URN → `urn:…:User:manager`. */
function describePath(path: string): string {
  const bare = path.replace(/\[[^\]]*\]?/g, '[…]');
  const urn = URN_ATTR.exec(bare);
  return urn ? `urn:…:${urn[1]}` : bare;
}

/** Distinct items in first-seen order with a count: `add members ×2`. */
function counted(items: string[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  return [...counts].map(([i, n]) => (n > 1 ? `${i} ×${n}` : i)).join(', ');
}

const ops = (n: number) => `${n} op${n === 1 ? '' : 's'}`;
const clip = (s: string) => (s.length > MAX_SUMMARY ? `${s.slice(0, MAX_SUMMARY - 1)}…` : s);

function patchOperation(op: unknown): string {
  if (!isObject(op)) return 'invalid operation';
  const name = String(getCi(op, 'op') ?? '?').toLowerCase();
  const path = getCi(op, 'path');
  if (typeof path === 'string' && path.trim()) return `${name} ${describePath(path.trim())}`;
  const value = getCi(op, 'value');
  // No path (RFC 7644 §3.5.2.1, §3.5.2.3): the value's attribute names say what it sets.
  return isObject(value) ? `${name} {${Object.keys(value).map(describePath).join(', ')}}` : name;
}

export function summarizePatch(body: unknown): string | null {
  const list = isObject(body) ? getCi(body, 'Operations') : undefined;
  if (!Array.isArray(list)) return null;
  return clip(`PATCH ${ops(list.length)}: ${counted(list.map(patchOperation))}`);
}

export function summarizeBulk(body: unknown): string | null {
  const list = isObject(body) ? getCi(body, 'Operations') : undefined;
  if (!Array.isArray(list)) return null;
  const items = list.map((op) => {
    if (!isObject(op)) return 'invalid operation';
    const method = String(getCi(op, 'method') ?? '?').toUpperCase();
    const path = String(getCi(op, 'path') ?? '');
    // `/Users/2819c…` → `/Users`: the ids are in the entry's resource ids.
    const endpoint = /^\/?([^/?]*)/.exec(path)?.[1] ?? '';
    return `${method} /${endpoint}`;
  });
  return clip(`Bulk ${ops(list.length)}: ${counted(items)}`);
}

/**
 * Which attributes differ between two stored-shape resources, as canonical
 * paths: `displayName`, `name.givenName`, `emails`,
 * `urn:…:enterprise:2.0:User:department`. Used to skip no-op writes and to
 * tell the host platform what changed.
 */
import { isDeepStrictEqual } from 'node:util';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Own properties only: a custom field may be called `constructor`. */
const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

export function changedPaths(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const key of unionKeys(before, after)) {
    if (key === 'schemas') continue;
    const a = own(before, key);
    const b = own(after, key);
    if (isDeepStrictEqual(a, b)) continue;
    if (key.startsWith('urn:') && (isObject(a) || isObject(b))) {
      // Extension object: report each attribute as a fully qualified path.
      const ea = isObject(a) ? a : {};
      const eb = isObject(b) ? b : {};
      for (const sub of unionKeys(ea, eb)) {
        if (!isDeepStrictEqual(own(ea, sub), own(eb, sub))) out.push(`${key}:${sub}`);
      }
    } else if (isObject(a) && isObject(b)) {
      // Singular complex attribute (name): report sub-attributes.
      for (const sub of unionKeys(a, b)) {
        if (!isDeepStrictEqual(own(a, sub), own(b, sub))) out.push(`${key}.${sub}`);
      }
    } else {
      out.push(key);
    }
  }
  return out;
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

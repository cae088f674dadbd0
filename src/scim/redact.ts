/**
 * Bodies kept for an administrator to read (the request log's opt-in
 * bodies, the audit trail's request details) without credentials in them:
 * `password` (RFC 7643 §4.1.1: write-only, never returned) and anything named
 * like a secret or token is replaced, by key anywhere in the document and, in
 * PATCH operations (RFC 7644 §3.5.2), as the `value` of a `path` naming one.
 */
import { isObject } from './json.js';

export const REDACTED = '[redacted]';

/** Attribute names whose values are never kept (case-insensitive, anywhere in the name). */
const SECRET_NAME = /password|passwd|passphrase|secret|token|credential|private.?key|api.?key/i;

const MAX_DEPTH = 64;

/** The last attribute a PATCH path names: `urn:…:User:password` → `password`, `password` → `password`. */
function lastName(path: string): string {
  const bare = path.replace(/\[[^\]]*\]/g, '');
  return bare.split(/[:.]/).pop() ?? bare;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A copy of `value` with secrets replaced by "[redacted]". */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (!isObject(value)) return value;
  const secretPath = typeof value.path === 'string' && isSecretName(lastName(value.path));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretName(k) || (secretPath && k.toLowerCase() === 'value') ? REDACTED : redactSecrets(v, depth + 1);
  }
  return out;
}

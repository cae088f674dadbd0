/**
 * Secrets at rest (README "Secrets at rest"): webhook signing secrets and
 * private signing keys are stored sealed with AES-256-GCM under a key given
 * to the process (ENCRYPTION_KEYS), so a database dump or backup alone does
 * not hand them out. A sealed value names its key id, so keys can rotate:
 * the first key seals, every key opens, and rows sealed under an older key
 * (or stored in clear before encryption existed) are resealed at start
 * (src/db/reseal.ts).
 *
 * One keyring per process, set at start (src/app.ts) before anything reads
 * a secret (a transaction handle must seal like the pool it came from);
 * without one, values are stored and read in clear.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const SEALED_PREFIX = 'sealed:v1:';
const ALG = 'aes-256-gcm';

export interface Keyring {
  /** The key that seals. */
  primary: string;
  keys: ReadonlyMap<string, Buffer>;
}

export class KeyringError extends Error {
  override name = 'KeyringError';
}

/** `id:base64,id:base64`: 32-byte keys; the first seals. */
export function parseKeyring(spec: string): Keyring {
  const keys = new Map<string, Buffer>();
  let primary: string | undefined;
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9._-]{1,64}):([A-Za-z0-9+/_=-]+)$/.exec(part);
    if (!m) throw new KeyringError('ENCRYPTION_KEYS: each key must be `id:base64` (id of letters, digits, . _ -)');
    const key = Buffer.from(m[2]!, 'base64');
    if (key.length !== 32) throw new KeyringError(`ENCRYPTION_KEYS: key "${m[1]}" must be 32 bytes (base64 of 32 random bytes: openssl rand -base64 32)`);
    if (keys.has(m[1]!)) throw new KeyringError(`ENCRYPTION_KEYS: key id "${m[1]}" given twice`);
    keys.set(m[1]!, key);
    primary ??= m[1]!;
  }
  if (!primary) throw new KeyringError('ENCRYPTION_KEYS is empty');
  return { primary, keys };
}

/** A new key's `id:base64` form (the embedded database's generated key). */
export const generateKeySpec = (id: string): string => `${id}:${randomBytes(32).toString('base64')}`;

let current: Keyring | undefined;

export function useKeyring(ring: Keyring | undefined): void {
  current = ring;
}

export const currentKeyring = (): Keyring | undefined => current;

export const isSealed = (v: string): boolean => v.startsWith(SEALED_PREFIX);

/** The key id a sealed value names, or undefined for a clear one. */
export const sealedWith = (v: string): string | undefined => (isSealed(v) ? v.slice(SEALED_PREFIX.length).split(':', 1)[0] : undefined);

export function seal(clear: string): string {
  const ring = current;
  if (!ring) return clear;
  const iv = randomBytes(12);
  const cipher = createCipheriv(ALG, ring.keys.get(ring.primary)!, iv);
  const ct = Buffer.concat([cipher.update(clear, 'utf8'), cipher.final()]);
  return `${SEALED_PREFIX}${ring.primary}:${iv.toString('base64url')}:${ct.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
}

/** The clear value; a clear stored value (from before encryption) is returned as it is. */
export function unseal(stored: string): string {
  if (!isSealed(stored)) return stored;
  const [kid, iv, ct, tag] = stored.slice(SEALED_PREFIX.length).split(':');
  const ring = current;
  const key = kid === undefined ? undefined : ring?.keys.get(kid);
  if (!key) throw new KeyringError(`A secret in the database is sealed with encryption key "${kid}", which ENCRYPTION_KEYS does not hold`);
  try {
    const decipher = createDecipheriv(ALG, key, Buffer.from(iv ?? '', 'base64url'));
    decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct ?? '', 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new KeyringError(`A secret in the database does not open with encryption key "${kid}": ENCRYPTION_KEYS holds a different key under that id`);
  }
}

export const sealNullable = (v: string | null): string | null => (v === null ? null : seal(v));
export const unsealNullable = (v: string | null): string | null => (v === null ? null : unseal(v));

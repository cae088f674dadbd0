/**
 * At start: every secret at rest opened (a missing or wrong ENCRYPTION_KEYS
 * fails the start, naming the key id) and resealed under the current key
 * when it is in clear (stored before encryption) or sealed under an older
 * key. Each row is rewritten only if unchanged since it was read, so a
 * secret rotated meanwhile by another replica is never overwritten.
 */
import { sql } from 'kysely';
import type { Db } from './index.js';
import { currentKeyring, isSealed, seal, sealedWith, unseal } from './sealing.js';
import { privateJwkOf } from './webhooks.js';

/** Whether a stored value must be rewritten under the current key (and, opening it, that it opens). */
function stale(v: string | null): boolean {
  if (v === null) return false;
  unseal(v); // throws KeyringError when the key is missing or wrong
  const ring = currentKeyring();
  return ring !== undefined && (!isSealed(v) || sealedWith(v) !== ring.primary);
}

const reseal = (v: string | null): string | null => (v === null ? null : seal(unseal(v)));

/** Returns how many rows were rewritten. */
export async function resealSecrets(db: Db): Promise<number> {
  let n = 0;
  const endpoints = await sql<{ id: string; secret: string; previous_secret: string | null; ed25519_secret: string | null; previous_ed25519_secret: string | null }>`
    select id, secret, previous_secret, ed25519_secret, previous_ed25519_secret from webhook_endpoints`.execute(db);
  for (const r of endpoints.rows) {
    const cols = [r.secret, r.previous_secret, r.ed25519_secret, r.previous_ed25519_secret];
    if (!cols.map(stale).some(Boolean)) continue;
    const [a, b, c, d] = cols.map(reseal);
    const u = await sql`
      update webhook_endpoints set secret = ${a}, previous_secret = ${b}, ed25519_secret = ${c}, previous_ed25519_secret = ${d}
      where id = ${r.id} and secret = ${r.secret} and previous_secret is not distinct from ${r.previous_secret}
        and ed25519_secret is not distinct from ${r.ed25519_secret} and previous_ed25519_secret is not distinct from ${r.previous_ed25519_secret}`.execute(db);
    n += Number(u.numAffectedRows ?? 0);
  }

  // SET signing keys: private_jwk is jsonb, an object in clear or a JSON string holding the sealed JWK.
  const setKeys = await sql<{ kid: string; private_jwk: unknown }>`select kid, private_jwk from event_signing_keys`.execute(db);
  for (const r of setKeys.rows) {
    const stored = typeof r.private_jwk === 'string' && isSealed(r.private_jwk) ? r.private_jwk : null;
    const jwk = privateJwkOf(r.private_jwk); // opens it, or throws
    if (stored !== null && !stale(stored)) continue;
    if (stored === null && currentKeyring() === undefined) continue;
    const u = await sql`update event_signing_keys set private_jwk = ${JSON.stringify(seal(JSON.stringify(jwk)))}::jsonb
      where kid = ${r.kid} and private_jwk = ${JSON.stringify(r.private_jwk)}::jsonb`.execute(db);
    n += Number(u.numAffectedRows ?? 0);
  }

  const oauthKeys = await sql<{ kid: string; private_jwk: string }>`select kid, private_jwk from oauth_signing_keys`.execute(db);
  for (const r of oauthKeys.rows) {
    if (!stale(r.private_jwk)) continue;
    const u = await sql`update oauth_signing_keys set private_jwk = ${reseal(r.private_jwk)} where kid = ${r.kid} and private_jwk = ${r.private_jwk}`.execute(db);
    n += Number(u.numAffectedRows ?? 0);
  }
  return n;
}

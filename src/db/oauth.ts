/** OAuth 2.0 clients of a tenant and the keys that sign Roster's access tokens (migration 0010_credentials). */
import { sql, type Selectable } from 'kysely';
import type { OAuthClientsTable } from './credentials-types.js';
import type { Db } from './index.js';
import { seal, unseal } from './sealing.js';

export interface OAuthClientRecord {
  id: string;
  tenantId: string;
  clientId: string;
  name: string;
  /** Hex SHA-256 of the secret. */
  secretHash: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const toClient = (r: Selectable<OAuthClientsTable>): OAuthClientRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  clientId: r.client_id,
  name: r.name,
  secretHash: r.secret_hash,
  scopes: r.scopes,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export async function insertClient(
  db: Db,
  c: { id: string; tenantId: string; clientId: string; name: string; secretHash: string; scopes: string[]; expiresAt: Date | null },
): Promise<OAuthClientRecord> {
  const row = await db
    .insertInto('oauth_clients')
    .values({ id: c.id, tenant_id: c.tenantId, client_id: c.clientId, name: c.name, secret_hash: c.secretHash, scopes: c.scopes, expires_at: c.expiresAt })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toClient(row);
}

export async function listClients(db: Db, tenantId: string): Promise<OAuthClientRecord[]> {
  return (await db.selectFrom('oauth_clients').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute()).map(toClient);
}

/** By client_id, revoked and expired ones included (the caller decides). */
export async function findClient(db: Db, clientId: string): Promise<OAuthClientRecord | undefined> {
  const row = await db.selectFrom('oauth_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
  return row && toClient(row);
}

export async function revokeClient(db: Db, tenantId: string, id: string): Promise<OAuthClientRecord | undefined> {
  const row = await db
    .updateTable('oauth_clients')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row && toClient(row);
}

export async function touchClient(db: Db, id: string, at: Date): Promise<void> {
  await db.updateTable('oauth_clients').set({ last_used_at: at }).where('id', '=', id).execute();
}

// ------------------------------------------------------------ signing keys

export interface OAuthSigningKeyRecord {
  kid: string;
  alg: string;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  createdAt: Date;
  retiredAt: Date | null;
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;

/**
 * Keys still verifiable: the live ones and those retired after `retiredSince`
 * (their tokens may not have expired yet), newest first.
 */
export async function verifiableSigningKeys(db: Db, retiredSince: Date): Promise<OAuthSigningKeyRecord[]> {
  const rows = await db
    .selectFrom('oauth_signing_keys')
    .selectAll()
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', retiredSince)]))
    .orderBy('created_at', 'desc')
    .orderBy('kid')
    .execute();
  return rows.map((r) => ({ kid: r.kid, alg: r.alg, privateJwk: json(unseal(r.private_jwk)), publicJwk: json(r.public_jwk), createdAt: r.created_at, retiredAt: r.retired_at }));
}

/**
 * Add a signing key. With `retireOthers`, every live key is retired in the
 * same transaction (rotation); without, it is added only if there is no live
 * key (first use; several processes may race).
 */
export async function addSigningKey(db: Db, key: { kid: string; alg: string; privateJwk: Record<string, unknown>; publicJwk: Record<string, unknown> }, retireOthers: boolean): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${0x6f61746b})`.execute(trx);
    if (retireOthers) await trx.updateTable('oauth_signing_keys').set({ retired_at: new Date() }).where('retired_at', 'is', null).execute();
    else if (await trx.selectFrom('oauth_signing_keys').select('kid').where('retired_at', 'is', null).executeTakeFirst()) return;
    await trx
      .insertInto('oauth_signing_keys')
      .values({ kid: key.kid, alg: key.alg, private_jwk: seal(JSON.stringify(key.privateJwk)), public_jwk: JSON.stringify(key.publicJwk), retired_at: null })
      .execute();
  });
}

/** Named admin API keys (migration 0010_credentials; SHA-256 of the key only). */
import type { Selectable } from 'kysely';
import type { AdminKeysTable } from './credentials-types.js';
import type { Db } from './index.js';

export interface AdminKeyRecord {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  tenantId: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const toKey = (r: Selectable<AdminKeysTable>): AdminKeyRecord => ({
  id: r.id,
  name: r.name,
  prefix: r.key_prefix,
  scopes: r.scopes,
  tenantId: r.tenant_id,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export async function insertAdminKey(db: Db, k: { id: string; name: string; hash: string; prefix: string; scopes: string[]; tenantId: string | null }): Promise<AdminKeyRecord> {
  const row = await db
    .insertInto('admin_keys')
    .values({ id: k.id, name: k.name, key_hash: k.hash, key_prefix: k.prefix, scopes: k.scopes, tenant_id: k.tenantId })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toKey(row);
}

/** Every key, revoked ones included, oldest first; `tenantId` narrows to the keys bound to that tenant. */
export async function listAdminKeys(db: Db, tenantId?: string): Promise<AdminKeyRecord[]> {
  let q = db.selectFrom('admin_keys').selectAll().orderBy('created_at').orderBy('id');
  if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
  return (await q.execute()).map(toKey);
}

export async function revokeAdminKey(db: Db, id: string): Promise<AdminKeyRecord | undefined> {
  const row = await db.updateTable('admin_keys').set({ revoked_at: new Date() }).where('id', '=', id).where('revoked_at', 'is', null).returningAll().executeTakeFirst();
  return row && toKey(row);
}

export async function findAdminKey(db: Db, id: string): Promise<AdminKeyRecord | undefined> {
  const row = await db.selectFrom('admin_keys').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toKey(row);
}

/** The live key with this hash, if any. */
export async function findActiveAdminKeyByHash(db: Db, hash: string): Promise<AdminKeyRecord | undefined> {
  const row = await db.selectFrom('admin_keys').selectAll().where('key_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
  return row && toKey(row);
}

export async function touchAdminKey(db: Db, id: string, at: Date): Promise<void> {
  await db.updateTable('admin_keys').set({ last_used_at: at }).where('id', '=', id).execute();
}

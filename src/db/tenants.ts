/** Tenants and their SCIM bearer tokens (stored as SHA-256 hashes only). */
import type { Db } from './index.js';
import type { Database, TenantsTable, TokensTable } from './types.js';
import type { Selectable, Transaction } from 'kysely';
import type { TenantMode } from '../policy/settings.js';

export interface TenantRecord {
  id: string;
  name: string;
  settings: Record<string, unknown>;
  mode: TenantMode;
  createdAt: Date;
  updatedAt: Date;
  /** When the first successful SCIM request arrived (tenant.connected); null before. */
  connectedAt: Date | null;
}

export interface TokenRecord {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** What the token may do (src/services/scopes.ts); null: everything. */
  scopes: string[] | null;
}

const toTenant = (r: Selectable<TenantsTable>): TenantRecord => ({
  id: r.id,
  name: r.name,
  settings: r.settings ?? {},
  mode: r.mode,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  connectedAt: r.connected_at ?? null,
});

const toToken = (r: Selectable<TokensTable>): TokenRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  prefix: r.token_prefix,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
  scopes: r.scopes ?? null,
});

export async function insertTenant(db: Db, t: { id: string; name: string; settings: Record<string, unknown>; mode?: TenantMode }): Promise<TenantRecord> {
  const row = await db
    .insertInto('tenants')
    .values({ id: t.id, name: t.name, settings: JSON.stringify(t.settings), mode: t.mode ?? 'live' })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTenant(row);
}

export async function findTenant(db: Db, id: string): Promise<TenantRecord | undefined> {
  const row = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toTenant(row);
}

export async function listTenants(db: Db, opts: { after?: string | undefined; limit: number }): Promise<TenantRecord[]> {
  let q = db.selectFrom('tenants').selectAll().orderBy('id').limit(opts.limit);
  if (opts.after) q = q.where('id', '>', opts.after);
  return (await q.execute()).map(toTenant);
}

export async function updateTenant(
  db: Db,
  id: string,
  patch: { name?: string | undefined; settings?: Record<string, unknown> | undefined; mode?: TenantMode | undefined },
): Promise<TenantRecord | undefined> {
  const set: { name?: string; settings?: string; mode?: TenantMode; updated_at: Date } = { updated_at: new Date() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.mode !== undefined) set.mode = patch.mode;
  if (patch.settings !== undefined) set.settings = JSON.stringify(patch.settings);
  const row = await db.updateTable('tenants').set(set).where('id', '=', id).returningAll().executeTakeFirst();
  return row && toTenant(row);
}

export async function deleteTenant(db: Db, id: string): Promise<boolean> {
  const r = await db.deleteFrom('tenants').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function insertToken(
  db: Db,
  t: { id: string; tenantId: string; name: string; hash: string; prefix: string; expiresAt: Date | null; scopes?: string[] | null },
): Promise<TokenRecord> {
  const row = await db
    .insertInto('tokens')
    .values({ id: t.id, tenant_id: t.tenantId, name: t.name, token_hash: t.hash, token_prefix: t.prefix, expires_at: t.expiresAt, scopes: t.scopes ?? null })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toToken(row);
}

export async function listTokens(db: Db, tenantId: string): Promise<TokenRecord[]> {
  const rows = await db.selectFrom('tokens').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toToken);
}

export async function revokeToken(db: Db, tenantId: string, tokenId: string): Promise<TokenRecord | undefined> {
  const row = await db
    .updateTable('tokens')
    .set({ revoked_at: new Date() })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', tokenId)
    .returningAll()
    .executeTakeFirst();
  return row && toToken(row);
}

/** The live (not revoked, not expired) token with this hash, if any. */
export async function findActiveTokenByHash(db: Db, hash: string): Promise<TokenRecord | undefined> {
  const row = await db
    .selectFrom('tokens')
    .selectAll()
    .where('token_hash', '=', hash)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
    .executeTakeFirst();
  return row && toToken(row);
}

export async function touchToken(db: Db, tokenId: string, at: Date): Promise<void> {
  await db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', tokenId).execute();
}

/**
 * Mark the tenant connected unless it already is: the conditional UPDATE
 * succeeds for exactly one caller, whatever the number of replicas racing.
 * Returns the time set, or undefined when it was set before (or the tenant is gone).
 */
export async function markConnected(db: Db | Transaction<Database>, id: string): Promise<Date | undefined> {
  const row = await db.updateTable('tenants').set({ connected_at: new Date() }).where('id', '=', id).where('connected_at', 'is', null).returning('connected_at').executeTakeFirst();
  return row?.connected_at ?? undefined;
}

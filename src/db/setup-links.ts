/**
 * Setup links (migrations/0012_setup_links.ts): stored by the SHA-256 of
 * their token, never the token itself.
 */
import { sql } from 'kysely';
import type { Db } from './index.js';
import { date, dateOrNull } from './outbox-rows.js';

export interface SetupLinkRecord {
  id: string;
  tenantId: string;
  createdAt: Date;
  expiresAt: Date;
  openedAt: Date | null;
  revokedAt: Date | null;
  idp: string | null;
  tokenId: string | null;
  actor: Record<string, unknown> | null;
}

type Row = { id: string; tenant_id: string; created_at: unknown; expires_at: unknown; opened_at: unknown; revoked_at: unknown; idp: string | null; token_id: string | null; actor: Record<string, unknown> | null };
const COLUMNS = sql`id, tenant_id, created_at, expires_at, opened_at, revoked_at, idp, token_id, actor`;
const fromRow = (r: Row): SetupLinkRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  createdAt: date(r.created_at),
  expiresAt: date(r.expires_at),
  openedAt: dateOrNull(r.opened_at),
  revokedAt: dateOrNull(r.revoked_at),
  idp: r.idp,
  tokenId: r.token_id,
  actor: r.actor,
});

export async function insertSetupLink(db: Db, link: { id: string; tenantId: string; tokenHash: Buffer; expiresAt: Date; actor: Record<string, unknown> }): Promise<SetupLinkRecord> {
  const r = await sql<Row>`
    insert into setup_links (id, tenant_id, token_hash, expires_at, actor)
    values (${link.id}, ${link.tenantId}, ${link.tokenHash}, ${link.expiresAt.toISOString()}, ${JSON.stringify(link.actor)}::jsonb)
    returning ${COLUMNS}`.execute(db);
  return fromRow(r.rows[0]!);
}

export async function listSetupLinks(db: Db, tenantId: string): Promise<SetupLinkRecord[]> {
  const r = await sql<Row>`select ${COLUMNS} from setup_links where tenant_id = ${tenantId} order by created_at desc, id limit 100`.execute(db);
  return r.rows.map(fromRow);
}

export async function findSetupLink(db: Db, id: string): Promise<SetupLinkRecord | undefined> {
  const r = await sql<Row>`select ${COLUMNS} from setup_links where id = ${id}`.execute(db);
  return r.rows[0] && fromRow(r.rows[0]);
}

export async function findSetupLinkByHash(db: Db, tokenHash: Buffer): Promise<SetupLinkRecord | undefined> {
  const r = await sql<Row>`select ${COLUMNS} from setup_links where token_hash = ${tokenHash}`.execute(db);
  return r.rows[0] && fromRow(r.rows[0]);
}

/** Mark a link opened, once: true for the first opener only. */
export async function markOpened(db: Db, id: string): Promise<boolean> {
  const r = await sql`update setup_links set opened_at = now() where id = ${id} and opened_at is null and revoked_at is null and expires_at > now()`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function setIdp(db: Db, id: string, idp: string): Promise<void> {
  await sql`update setup_links set idp = ${idp} where id = ${id}`.execute(db);
}

/** Record the link's token, once: false when it already has one. */
export async function claimToken(db: Db, id: string, tokenId: string): Promise<boolean> {
  const r = await sql`update setup_links set token_id = ${tokenId} where id = ${id} and token_id is null`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function revokeSetupLink(db: Db, tenantId: string, id: string): Promise<SetupLinkRecord | undefined> {
  const r = await sql<Row>`update setup_links set revoked_at = coalesce(revoked_at, now()) where tenant_id = ${tenantId} and id = ${id} returning ${COLUMNS}`.execute(db);
  return r.rows[0] && fromRow(r.rows[0]);
}

/**
 * Webhook endpoints of a tenant (migration 0002_events) and the key that
 * signs RFC 9967 SETs.
 */
import { sql, type Kysely } from 'kysely';
import type { Endpoint, EndpointFormat, EventType } from '../events/types.js';
import { isSealed, seal, sealNullable, unseal, unsealNullable } from './sealing.js';
import type { Database } from './types.js';

type Db = Kysely<Database>;

export interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  description: string | null;
  events: string[] | null;
  format: string;
  attributes: string[] | null;
  secret: string;
  previous_secret: string | null;
  ed25519_secret: string | null;
  previous_ed25519_secret: string | null;
  previous_expires_at: unknown;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: unknown;
  updated_at: unknown;
}

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

export function endpointFromRow(r: EndpointRow): Endpoint {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    url: r.url,
    description: r.description,
    events: r.events as EventType[] | null,
    format: r.format as EndpointFormat,
    attributes: r.attributes,
    // Sealed at rest (src/db/sealing.ts); rows from before encryption read as they are.
    secret: unseal(r.secret),
    previousSecret: unsealNullable(r.previous_secret),
    ed25519Secret: unsealNullable(r.ed25519_secret),
    previousEd25519Secret: unsealNullable(r.previous_ed25519_secret),
    previousExpiresAt: r.previous_expires_at === null || r.previous_expires_at === undefined ? null : date(r.previous_expires_at),
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

export async function tenantExists(db: Db, tenantId: string): Promise<boolean> {
  const r = await db.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst();
  return r !== undefined;
}

export interface NewEndpoint {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  events: EventType[] | null;
  format: EndpointFormat;
  attributes: string[] | null;
  secret: string;
  ed25519Secret: string | null;
}

export async function insertEndpoint(db: Db, e: NewEndpoint): Promise<Endpoint> {
  const row = await db
    .insertInto('webhook_endpoints')
    .values({
      id: e.id,
      tenant_id: e.tenantId,
      url: e.url,
      description: e.description,
      events: e.events,
      format: e.format,
      attributes: e.attributes,
      secret: seal(e.secret),
      previous_secret: null,
      ed25519_secret: sealNullable(e.ed25519Secret),
      previous_ed25519_secret: null,
      previous_expires_at: null,
      disabled_reason: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return endpointFromRow(row as EndpointRow);
}

export async function listEndpoints(db: Db, tenantId: string): Promise<Endpoint[]> {
  const rows = await db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => endpointFromRow(r as EndpointRow));
}

export async function findEndpoint(db: Db, tenantId: string, id: string): Promise<Endpoint | undefined> {
  if (!UUID.test(id)) return undefined;
  const r = await db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return r ? endpointFromRow(r as EndpointRow) : undefined;
}

export async function findEndpointsByIds(db: Db, tenantId: string, ids: string[]): Promise<Endpoint[]> {
  const valid = ids.filter((id) => UUID.test(id));
  if (valid.length === 0) return [];
  const rows = await db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', valid).execute();
  return rows.map((r) => endpointFromRow(r as EndpointRow));
}

export interface EndpointPatch {
  url?: string;
  description?: string | null;
  events?: EventType[] | null;
  attributes?: string[] | null;
  enabled?: boolean;
}

export async function updateEndpoint(db: Db, tenantId: string, id: string, patch: EndpointPatch): Promise<Endpoint | undefined> {
  if (!UUID.test(id)) return undefined;
  const set: Record<string, unknown> = { updated_at: sql`now()` };
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.events !== undefined) set.events = patch.events;
  if (patch.attributes !== undefined) set.attributes = patch.attributes;
  if (patch.enabled !== undefined) {
    set.enabled = patch.enabled;
    if (patch.enabled) set.disabled_reason = null;
    else set.disabled_reason = 'disabled by an administrator';
  }
  return db.transaction().execute(async (trx) => {
    const r = await trx.updateTable('webhook_endpoints').set(set).where('tenant_id', '=', tenantId).where('id', '=', id).returningAll().executeTakeFirst();
    if (!r) return undefined;
    // Switched back on: its queues (kept while it was off) are ready now.
    if (patch.enabled === true) {
      await sql`update webhook_queues set ready_at = now() where endpoint_id = ${id} and pending > 0 and claim_token is null`.execute(trx);
      await sql`select pg_notify('roster_webhooks', '')`.execute(trx);
    }
    return endpointFromRow(r as EndpointRow);
  });
}

/** Replace the signing secret(s); the previous ones keep signing until `graceUntil`. */
export async function rotateEndpointSecret(
  db: Db,
  tenantId: string,
  id: string,
  next: { secret: string; ed25519Secret: string | null; graceUntil: Date },
): Promise<Endpoint | undefined> {
  if (!UUID.test(id)) return undefined;
  const r = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({
      previous_secret: eb.ref('secret'),
      previous_ed25519_secret: eb.ref('ed25519_secret'),
      previous_expires_at: next.graceUntil,
      secret: seal(next.secret),
      ed25519_secret: sealNullable(next.ed25519Secret),
      updated_at: sql`now()`,
    }))
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return r ? endpointFromRow(r as EndpointRow) : undefined;
}

export async function deleteEndpoint(db: Db, tenantId: string, id: string): Promise<boolean> {
  if (!UUID.test(id)) return false;
  const r = await db.deleteFrom('webhook_endpoints').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Enabled endpoints of a tenant that receive the given event type. */
export async function subscribedEndpoints(db: Db, tenantId: string, type: EventType): Promise<Endpoint[]> {
  const rows = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('enabled', '=', true)
    .where((eb) => eb.or([eb('events', 'is', null), sql<boolean>`${type} = any (events)`]))
    .execute();
  return rows.map((r) => endpointFromRow(r as EndpointRow));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------
// SET signing key

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  createdAt: Date;
}

/** Store a key unless one is already there (several processes may race to create the first). */
export async function insertSigningKeyIfNone(db: Db, key: Omit<SigningKeyRecord, 'createdAt'>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // Serialise first-key creation across processes.
    await sql`select pg_advisory_xact_lock(${0x6a776b73})`.execute(trx);
    const existing = await trx.selectFrom('event_signing_keys').select('kid').where('retired_at', 'is', null).executeTakeFirst();
    if (existing) return;
    await trx
      .insertInto('event_signing_keys')
      .values({ kid: key.kid, alg: key.alg, private_jwk: JSON.stringify(seal(JSON.stringify(key.privateJwk))), public_jwk: JSON.stringify(key.publicJwk), retired_at: null })
      .execute();
  });
}

/** The active key (oldest not retired), or undefined before the first is created. */
export async function activeSigningKey(db: Db): Promise<SigningKeyRecord | undefined> {
  const r = await db
    .selectFrom('event_signing_keys')
    .selectAll()
    .where('retired_at', 'is', null)
    .orderBy('created_at')
    .orderBy('kid')
    .executeTakeFirst();
  return r ? signingKeyFromRow(r) : undefined;
}

/** Public keys to publish: active ones and retired ones kept for verification of SETs still in flight. */
export async function publishedSigningKeys(db: Db): Promise<SigningKeyRecord[]> {
  const rows = await db.selectFrom('event_signing_keys').selectAll().orderBy('created_at').orderBy('kid').execute();
  return rows.map(signingKeyFromRow);
}

function signingKeyFromRow(r: { kid: string; alg: string; private_jwk: unknown; public_jwk: unknown; created_at: unknown }): SigningKeyRecord {
  const j = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;
  return { kid: r.kid, alg: r.alg, privateJwk: privateJwkOf(r.private_jwk), publicJwk: j(r.public_jwk), createdAt: date(r.created_at) };
}

/** The private JWK of a row: a JSON object (stored before encryption) or a JSON string holding it sealed. */
export function privateJwkOf(v: unknown): Record<string, unknown> {
  let x = v;
  if (typeof x === 'string' && !isSealed(x)) x = JSON.parse(x);
  if (typeof x === 'string') return JSON.parse(unseal(x)) as Record<string, unknown>;
  return x as Record<string, unknown>;
}

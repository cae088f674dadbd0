/**
 * Row operations shared by the users and groups repositories. Both tables
 * keep a SCIM resource as JSONB next to its column mirrors, a version and
 * two timestamps, keyed by (tenant_id, id); only the mirrors differ, and
 * each repository passes its own `columnsOf`.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { StoredResource } from '../scim/representation.js';
import { prepared } from './prepared.js';
import type { Database } from './types.js';
import type { columnsOf as userColumns } from './users.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `update` for a write or a deletion (FOR UPDATE); `noKeyUpdate` for a write
 * that keeps the row, so that other transactions may still take KEY SHARE
 * locks on it (see src/db/groups.ts).
 */
export type RowLock = 'update' | 'noKeyUpdate';

/**
 * A resource write not yet sent: src/db/outbox.ts `insertEvents` runs it in
 * the same statement as the change's events. `stored` is the row as the write
 * leaves it (known in advance for an insert: version 1, both timestamps `at`).
 */
export interface ResourceWrite {
  statement: RawBuilder<unknown>;
  stored: StoredResource;
  /**
   * The statement is an UPDATE that may match no row and returns the `version` it wrote
   * (src/db/groups.ts bumpGroupStatement): the events are written only if it matched, and
   * take their version and ETag from it rather than from `stored`.
   */
  guarded?: boolean;
}

export interface ResourceRows {
  insert(db: Kysely<Database>, tenantId: string, id: string, resource: Record<string, unknown>, at: Date): Promise<StoredResource>;
  /** The same insert as a ResourceWrite, to be sent with its events (src/db/outbox.ts insertEvents). */
  insertStatement(db: Kysely<Database>, tenantId: string, id: string, resource: Record<string, unknown>, at: Date, extra?: Record<string, unknown>): ResourceWrite;
  find(db: Kysely<Database>, tenantId: string, id: string, opts?: { lock?: RowLock }): Promise<StoredResource | undefined>;
  /** A new version as a ResourceWrite, sent with its events (the caller holds the row lock it read `current` under, so the next version is known). */
  updateStatement(db: Kysely<Database>, current: StoredResource, tenantId: string, resource: Record<string, unknown>, at: Date, extra?: Record<string, unknown>): ResourceWrite;
  remove(db: Kysely<Database>, tenantId: string, id: string): Promise<boolean>;
}

/** The columns a StoredResource is read from. */
export const storedColumns = ['id', 'resource', 'version', 'created', 'last_modified'] as const;

export const toStored = (r: { id: string; resource: Record<string, unknown>; version: number; created: Date; last_modified: Date }): StoredResource => ({
  id: r.id,
  resource: r.resource,
  version: r.version,
  created: r.created,
  lastModified: r.last_modified,
});

export function resourceRows(table: 'users' | 'groups', columnsOf: (resource: Record<string, unknown>) => object): ResourceRows {
  // Kysely cannot type one query over a union of tables; both share every column used here.
  const t = table as 'users';
  const columns = columnsOf as typeof userColumns;
  return {
    async insert(db, tenantId, id, resource, at) {
      const row = await db
        .insertInto(t)
        .values({ tenant_id: tenantId, id, ...columns(resource), created: at, last_modified: at })
        .returning(storedColumns)
        .modifyEnd(prepared)
        .executeTakeFirstOrThrow();
      return toStored(row);
    },
    insertStatement(db, tenantId, id, resource, at, extra = {}) {
      const insert = db.insertInto(t).values({ tenant_id: tenantId, id, ...columns(resource), ...extra, created: at, last_modified: at, version: 1 });
      return { statement: sql`${insert}`, stored: { id, resource, version: 1, created: at, lastModified: at } };
    },
    async find(db, tenantId, id, opts = {}) {
      if (!UUID_RE.test(id)) return undefined;
      let q = db.selectFrom(t).select(storedColumns).where('tenant_id', '=', tenantId).where('id', '=', id);
      if (opts.lock === 'update') q = q.forUpdate();
      if (opts.lock === 'noKeyUpdate') q = q.forNoKeyUpdate();
      const row = await q.modifyEnd(prepared).executeTakeFirst();
      return row && toStored(row);
    },
    updateStatement(db, current, tenantId, resource, at, extra = {}) {
      const update = db
        .updateTable(t)
        .set({ ...columns(resource), ...extra, version: current.version + 1, last_modified: at })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', current.id);
      return { statement: sql`${update}`, stored: { id: current.id, resource, version: current.version + 1, created: current.created, lastModified: at } };
    },
    async remove(db, tenantId, id) {
      if (!UUID_RE.test(id)) return false;
      const r = await db.deleteFrom(t).where('tenant_id', '=', tenantId).where('id', '=', id).modifyEnd(prepared).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}

/**
 * File imports (migrations/0011_imports.ts, README "Importing files"): the
 * saved mapping, the imports, and their staged rows. Every statement over
 * the rows works in batches by `seq` or in one set-based statement, so a
 * file of a million rows is never loaded whole.
 */
import { sql } from 'kysely';
import type { Db } from './index.js';
import { date, dateOrNull, num, str } from './outbox-rows.js';

export type ImportState = 'review' | 'applying' | 'applied';
export const OUTCOMES = ['created', 'updated', 'deactivated', 'reactivated', 'deleted', 'unchanged', 'rejected'] as const;
export type Outcome = (typeof OUTCOMES)[number];
/** The outcomes an apply writes; unchanged and rejected rows are left as they are. */
export const APPLIED_OUTCOMES: readonly Outcome[] = ['created', 'updated', 'deactivated', 'reactivated', 'deleted'];

export interface ImportRecord {
  id: string;
  tenantId: string;
  state: ImportState;
  mapping: Record<string, unknown>;
  columns: string[];
  counts: Record<string, number>;
  rows: number;
  createdBy: Record<string, unknown> | null;
  createdAt: Date;
  appliedAt: Date | null;
}

export interface StagedRow {
  seq: number;
  line: number | null;
  key: string | null;
  fields: string[] | null;
  resource: Record<string, unknown> | null;
  outcome: Outcome | null;
  reason: string | null;
}

export interface ImportRow extends StagedRow {
  userId: string | null;
  changed: string[];
  applied: boolean;
  error: string | null;
}

/** A row to diff: its user as it is now (undefined when none matched) and whether a file created that user. */
export interface DiffInput {
  seq: number;
  resource: Record<string, unknown>;
  user: Record<string, unknown> | undefined;
  fileOwned: boolean;
}

type Row = Record<string, unknown>;

const importOf = (r: Row): ImportRecord => ({
  id: str(r.id),
  tenantId: str(r.tenant_id),
  state: str(r.state) as ImportState,
  mapping: r.mapping as Record<string, unknown>,
  columns: r.columns as string[],
  counts: r.counts as Record<string, number>,
  rows: num(r.rows),
  createdBy: (r.created_by ?? null) as Record<string, unknown> | null,
  createdAt: date(r.created_at),
  appliedAt: dateOrNull(r.applied_at),
});

const rowOf = (r: Row): ImportRow => ({
  seq: num(r.seq),
  line: r.line === null ? null : num(r.line),
  key: r.key === null ? null : str(r.key),
  fields: (r.fields ?? null) as string[] | null,
  resource: (r.resource ?? null) as Record<string, unknown> | null,
  outcome: (r.outcome ?? null) as Outcome | null,
  reason: (r.reason ?? null) as string | null,
  userId: r.user_id === null ? null : str(r.user_id),
  changed: (r.changed ?? []) as string[],
  applied: r.applied === true,
  error: (r.error ?? null) as string | null,
});

// --- the saved mapping --------------------------------------------------------

export async function getMapping(db: Db, tenantId: string): Promise<Record<string, unknown> | undefined> {
  const r = await sql<{ mapping: Record<string, unknown> }>`select mapping from import_mappings where tenant_id = ${tenantId}`.execute(db);
  return r.rows[0]?.mapping;
}

export async function putMapping(db: Db, tenantId: string, mapping: unknown): Promise<void> {
  await sql`insert into import_mappings (tenant_id, mapping) values (${tenantId}, ${JSON.stringify(mapping)}::jsonb)
    on conflict (tenant_id) do update set mapping = excluded.mapping, updated_at = now()`.execute(db);
}

// --- imports ------------------------------------------------------------------

export async function createImport(db: Db, i: { id: string; tenantId: string; mapping: unknown; columns: string[]; createdBy: unknown }): Promise<void> {
  await sql`insert into imports (id, tenant_id, state, mapping, columns, created_by)
    values (${i.id}, ${i.tenantId}, 'review', ${JSON.stringify(i.mapping)}::jsonb, ${JSON.stringify(i.columns)}::jsonb, ${JSON.stringify(i.createdBy)}::jsonb)`.execute(db);
}

export async function deleteImport(db: Db, id: string): Promise<void> {
  await sql`delete from imports where id = ${id}`.execute(db);
}

export async function findImport(db: Db, tenantId: string, id: string): Promise<ImportRecord | undefined> {
  const r = await sql<Row>`select * from imports where tenant_id = ${tenantId} and id::text = ${id}`.execute(db);
  return r.rows[0] && importOf(r.rows[0]);
}

/** Newest first; `before` is the id of the last import of the previous page. */
export async function listImports(db: Db, tenantId: string, opts: { before?: string | undefined; limit: number }): Promise<ImportRecord[]> {
  const after = opts.before
    ? sql`and (created_at, id) < (select created_at, id from imports where tenant_id = ${tenantId} and id::text = ${opts.before})`
    : sql``;
  const r = await sql<Row>`select * from imports where tenant_id = ${tenantId} ${after} order by created_at desc, id desc limit ${opts.limit}`.execute(db);
  return r.rows.map(importOf);
}

export async function setImportState(db: Db, id: string, state: ImportState, counts?: Record<string, number>, rows?: number): Promise<void> {
  await sql`update imports set state = ${state},
      counts = coalesce(${counts === undefined ? null : JSON.stringify(counts)}::jsonb, counts),
      rows = coalesce(${rows ?? null}::integer, rows),
      applied_at = case when ${state} = 'applied' then now() else applied_at end
    where id = ${id}`.execute(db);
}

/** Take an import for applying; undefined when it was already applied. */
export async function claimImport(db: Db, tenantId: string, id: string): Promise<ImportRecord | undefined> {
  const r = await sql<Row>`update imports set state = 'applying' where tenant_id = ${tenantId} and id::text = ${id} and state <> 'applied' returning *`.execute(db);
  return r.rows[0] && importOf(r.rows[0]);
}

// --- staged rows --------------------------------------------------------------

/** One batch of rows in one statement (a JSON array expanded by jsonb_to_recordset: no limit on bind parameters). */
export async function insertRows(db: Db, importId: string, rows: StagedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`insert into import_rows (import_id, seq, line, key, fields, resource, outcome, reason)
    select ${importId}, x.seq, x.line, x.key, x.fields, x.resource, x.outcome, x.reason
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(seq integer, line integer, key text, fields jsonb, resource jsonb, outcome text, reason text)`.execute(db);
}

/**
 * Fresh statistics after staging: the table was empty when the planner last
 * looked, and a plan made for an empty table (nested loops over sequential
 * scans) is quadratic over a file of 100,000 rows.
 */
export async function analyzeRows(db: Db): Promise<void> {
  await sql`analyze import_rows`.execute(db);
}

/** A key given on several lines: every line after the first is rejected, naming the first. */
export async function rejectDuplicateKeys(db: Db, importId: string): Promise<void> {
  await sql`update import_rows as r set outcome = 'rejected', resource = null, reason = 'duplicate key "' || r.key || '" (first on line ' || f.line || ')'
    from (select key, min(seq) as seq, min(line) as line from import_rows where import_id = ${importId} and outcome is null group by key having count(*) > 1) as f
    where r.import_id = ${importId} and r.outcome is null and r.key = f.key and r.seq > f.seq`.execute(db);
}

/** Find each valid row's user by the key: externalId (exact), or an email (lower-cased, as users.email_values). */
export async function matchUsers(db: Db, tenantId: string, importId: string, key: 'externalId' | 'email'): Promise<void> {
  const on = key === 'externalId' ? sql`u.external_id = r.key` : sql`u.email_values @> array[r.key]::text[]`;
  await sql`update import_rows as r set user_id = (select u.id from users as u where u.tenant_id = ${tenantId} and ${on} order by u.created limit 1)
    where r.import_id = ${importId} and r.outcome is null`.execute(db);
}

/** The next valid rows to diff after `afterSeq`, with their users. */
export async function rowsToDiff(db: Db, tenantId: string, importId: string, afterSeq: number, limit: number): Promise<DiffInput[]> {
  const r = await sql<Row>`select r.seq, r.resource, u.resource as user_resource,
      exists (select 1 from import_owned_users as o where o.tenant_id = ${tenantId} and o.user_id = r.user_id) as file_owned
    from import_rows as r left join users as u on u.tenant_id = ${tenantId} and u.id = r.user_id
    where r.import_id = ${importId} and r.outcome is null and r.seq > ${afterSeq} order by r.seq limit ${limit}`.execute(db);
  return r.rows.map((x) => ({
    seq: num(x.seq),
    resource: x.resource as Record<string, unknown>,
    user: (x.user_resource ?? undefined) as Record<string, unknown> | undefined,
    fileOwned: x.file_owned === true,
  }));
}

export interface Decided {
  seq: number;
  outcome: Outcome;
  changed: string[];
  resource: Record<string, unknown> | null;
  reason: string | null;
}

export async function setOutcomes(db: Db, importId: string, rows: Decided[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`update import_rows as r set outcome = x.outcome, resource = x.resource, reason = x.reason,
      changed = array(select jsonb_array_elements_text(x.changed))
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(seq integer, outcome text, changed jsonb, resource jsonb, reason text)
    where r.import_id = ${importId} and r.seq = x.seq`.execute(db);
}

/**
 * The tenant's users no row of the file names, as rows after the file's
 * last: deactivated (active users only) or deleted. Only users a file
 * created, unless `ownsMissing`.
 */
export async function addMissing(db: Db, tenantId: string, importId: string, opts: { outcome: 'deactivated' | 'deleted'; ownsMissing: boolean; key: 'externalId' | 'email'; afterSeq: number }): Promise<void> {
  const active = opts.outcome === 'deactivated' ? sql`and u.active is distinct from false` : sql``;
  const owned = opts.ownsMissing ? sql`` : sql`and exists (select 1 from import_owned_users as o where o.tenant_id = u.tenant_id and o.user_id = u.id)`;
  const key = opts.key === 'externalId' ? sql`u.external_id` : sql`u.email_values[1]`;
  await sql`insert into import_rows (import_id, seq, key, user_id, outcome, reason)
    select ${importId}, ${opts.afterSeq} + row_number() over (order by u.id), coalesce(${key}, u.user_name), u.id, ${opts.outcome}, 'missing from the file'
    from users as u
    where u.tenant_id = ${tenantId} ${active} ${owned}
      and not exists (select 1 from import_rows as r where r.import_id = ${importId} and r.user_id = u.id)`.execute(db);
}

export async function countOutcomes(db: Db, importId: string): Promise<Record<string, number>> {
  const r = await sql<{ outcome: string; n: unknown; applied: unknown; failed: unknown }>`
    select outcome, count(*) as n, count(*) filter (where applied and error is null) as applied, count(*) filter (where error is not null) as failed
    from import_rows where import_id = ${importId} group by outcome`.execute(db);
  const counts: Record<string, number> = Object.fromEntries([...OUTCOMES.map((o) => [o, 0]), ['applied', 0], ['failed', 0]]);
  for (const x of r.rows) {
    counts[x.outcome] = num(x.n);
    counts.applied! += num(x.applied);
    counts.failed! += num(x.failed);
  }
  return counts;
}

/** One outcome's rows after `afterSeq`, in file order (the CSV downloads). */
export async function rowsOf(db: Db, importId: string, outcome: Outcome, afterSeq: number, limit: number): Promise<ImportRow[]> {
  const r = await sql<Row>`select * from import_rows where import_id = ${importId} and outcome = ${outcome} and seq > ${afterSeq} order by seq limit ${limit}`.execute(db);
  return r.rows.map(rowOf);
}

/** The next rows an apply has still to write, in file order (missing users last). */
export async function rowsToApply(db: Db, importId: string, limit: number): Promise<ImportRow[]> {
  const r = await sql<Row>`select * from import_rows where import_id = ${importId} and not applied
      and outcome in ('created', 'updated', 'deactivated', 'reactivated', 'deleted') order by seq limit ${limit}`.execute(db);
  return r.rows.map(rowOf);
}

/** Rows written, with the user each created or the error that refused it. */
export async function markApplied(db: Db, importId: string, done: { seq: number; userId?: string | undefined; error?: string | undefined }[]): Promise<void> {
  if (done.length === 0) return;
  const list = done.map((d) => ({ seq: d.seq, user_id: d.userId ?? null, error: d.error ?? null }));
  await sql`update import_rows as r set applied = true, user_id = coalesce(x.user_id, r.user_id), error = x.error
    from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as x(seq integer, user_id uuid, error text)
    where r.import_id = ${importId} and r.seq = x.seq`.execute(db);
}

/** A user a file created: later files may deactivate or delete it when it is missing (see addMissing). */
export async function ownUser(db: Db, tenantId: string, userId: string): Promise<void> {
  await sql`insert into import_owned_users (tenant_id, user_id) values (${tenantId}, ${userId}) on conflict do nothing`.execute(db);
}

/** The user a key names now (a creation that went through before a crash). */
export async function userIdByKey(db: Db, tenantId: string, key: 'externalId' | 'email', value: string): Promise<string | undefined> {
  const on = key === 'externalId' ? sql`external_id = ${value}` : sql`email_values @> array[${value}]::text[]`;
  const r = await sql<{ id: unknown }>`select id from users where tenant_id = ${tenantId} and ${on} order by created limit 1`.execute(db);
  return r.rows[0] ? str(r.rows[0].id) : undefined;
}

/**
 * Provisioning policies and the state their rules keep (migrations/0006_policies.ts):
 * policy versions, tombstones of deleted users the host keeps, the schedule
 * of time-driven changes, re-evaluation jobs, and license usage.
 */
import { sql, type Kysely } from 'kysely';
import type { HostState } from '../policy/host-state.js';
import type { Database } from './types.js';
import { UUID_RE } from './resources.js';

type Q = Kysely<Database>;

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export interface PolicyVersion {
  version: number;
  document: Record<string, unknown>;
  actor: Record<string, unknown> | null;
  createdAt: Date;
}

// ---------------------------------------------------------------------------
// Versions

/** The policy in force (the newest version), if the tenant ever set one. */
export async function currentPolicy(db: Q, tenantId: string): Promise<PolicyVersion | undefined> {
  const r = await sql<{ version: number; document: unknown; actor: unknown; created_at: unknown }>`
    select version, document, actor, created_at from tenant_policies where tenant_id = ${tenantId}
    order by version desc limit 1`.execute(db);
  const row = r.rows[0];
  return row && { version: row.version, document: json(row.document), actor: json(row.actor), createdAt: date(row.created_at) };
}

export async function policyVersions(db: Q, tenantId: string, limit: number): Promise<PolicyVersion[]> {
  const r = await sql<{ version: number; document: unknown; actor: unknown; created_at: unknown }>`
    select version, document, actor, created_at from tenant_policies where tenant_id = ${tenantId}
    order by version desc limit ${limit}`.execute(db);
  return r.rows.map((row) => ({ version: row.version, document: json(row.document), actor: json(row.actor), createdAt: date(row.created_at) }));
}

/**
 * Store a new version, numbered after the newest; concurrent writers take
 * turns on the tenant's row. `expected`, when given, is the version the
 * writer read (If-Match): a newer one makes this return undefined.
 */
export async function insertPolicyVersion(
  trx: Q,
  tenantId: string,
  document: Record<string, unknown>,
  actor: Record<string, unknown> | null,
  expected?: number,
): Promise<PolicyVersion | undefined> {
  await sql`select 1 from tenants where id = ${tenantId} for update`.execute(trx);
  const current = (await sql<{ v: number | null }>`select max(version) as v from tenant_policies where tenant_id = ${tenantId}`.execute(trx)).rows[0]?.v ?? 0;
  if (expected !== undefined && expected !== current) return undefined;
  const r = await sql<{ version: number; created_at: unknown }>`
    insert into tenant_policies (tenant_id, version, document, actor)
    values (${tenantId}, ${current + 1}, ${JSON.stringify(document)}::json, ${actor === null ? null : JSON.stringify(actor)}::jsonb)
    returning version, created_at`.execute(trx);
  return { version: r.rows[0]!.version, document, actor, createdAt: date(r.rows[0]!.created_at) };
}

// ---------------------------------------------------------------------------
// Tombstones: users the IdP deleted that the host keeps deactivated

export interface Tombstone {
  userId: string;
  userName: string;
  externalId: string | null;
  /** What the host had when the IdP deleted the user. */
  hostState: HostState;
  resource: Record<string, unknown> | null;
  version: number;
  deletedAt: Date;
}

export async function insertTombstone(trx: Q, tenantId: string, t: Tombstone): Promise<void> {
  await sql`
    insert into host_tombstones (tenant_id, user_id, user_name, external_id, host_state, resource, version, deleted_at)
    values (${tenantId}, ${t.userId}, ${t.userName}, ${t.externalId}, ${t.hostState}, ${t.resource === null ? null : JSON.stringify(t.resource)}::json, ${t.version}, ${t.deletedAt})
    on conflict (tenant_id, user_id) do nothing`.execute(trx);
}

export async function lockTombstone(trx: Q, tenantId: string, userId: string): Promise<Tombstone | undefined> {
  if (!UUID_RE.test(userId)) return undefined;
  const r = await sql<{ user_id: string; user_name: string; external_id: string | null; host_state: HostState; resource: unknown; version: number; deleted_at: unknown }>`
    select user_id, user_name, external_id, host_state, resource, version, deleted_at from host_tombstones
    where tenant_id = ${tenantId} and user_id = ${userId} for update`.execute(trx);
  const row = r.rows[0];
  return row && { userId: row.user_id, userName: row.user_name, externalId: row.external_id, hostState: row.host_state, resource: json(row.resource), version: row.version, deletedAt: date(row.deleted_at) };
}

export async function setTombstoneState(trx: Q, tenantId: string, userId: string, state: HostState): Promise<void> {
  await sql`update host_tombstones set host_state = ${state} where tenant_id = ${tenantId} and user_id = ${userId}`.execute(trx);
}

export async function deleteTombstone(trx: Q, tenantId: string, userId: string): Promise<void> {
  await sql`delete from host_tombstones where tenant_id = ${tenantId} and user_id = ${userId}`.execute(trx);
}

// ---------------------------------------------------------------------------
// Schedule: when time alone may change a user's host state

/** Look at the user again at `dueAt` (replacing an earlier plan); null: never. */
export async function scheduleUser(trx: Q, tenantId: string, userId: string, dueAt: Date | null): Promise<void> {
  if (dueAt === null) {
    await sql`delete from policy_schedule where tenant_id = ${tenantId} and user_id = ${userId}`.execute(trx);
    return;
  }
  await sql`
    insert into policy_schedule (tenant_id, user_id, due_at) values (${tenantId}, ${userId}, ${dueAt})
    on conflict (tenant_id, user_id) do update set due_at = excluded.due_at`.execute(trx);
}

/**
 * Take up to `limit` due entries, inside the caller's transaction: they are
 * deleted (and so skipped by other schedulers, SKIP LOCKED) and come back if
 * the transaction rolls back. Exactly once across replicas.
 */
export async function takeDue(trx: Q, limit: number): Promise<{ tenantId: string; userId: string }[]> {
  const r = await sql<{ tenant_id: string; user_id: string }>`
    delete from policy_schedule s using (
      select tenant_id, user_id from policy_schedule where due_at <= now()
      order by due_at limit ${limit} for update skip locked
    ) due
    where s.tenant_id = due.tenant_id and s.user_id = due.user_id
    returning s.tenant_id, s.user_id`.execute(trx);
  return r.rows.map((row) => ({ tenantId: row.tenant_id, userId: row.user_id }));
}

export async function nextDue(db: Q): Promise<Date | undefined> {
  const r = await sql<{ due_at: unknown }>`select min(due_at) as due_at from policy_schedule`.execute(db);
  const v = r.rows[0]?.due_at;
  return v === null || v === undefined ? undefined : date(v);
}

// ---------------------------------------------------------------------------
// Re-evaluation jobs

export interface PolicyJob {
  id: string;
  tenantId: string;
  /** reevaluate: after a policy change; goLive: a dry-run tenant going live (users, then groups). */
  kind: 'reevaluate' | 'goLive';
  policyVersion: number;
  state: 'running' | 'done' | 'cancelled';
  /** 1: every user by id; 2: the users written since the job started; 3 (goLive): every group. */
  phase: 1 | 2 | 3;
  afterId: string | null;
  total: number;
  processed: number;
  changed: number;
  startedAt: Date;
  finishedAt: Date | null;
}

interface JobRow {
  id: unknown;
  tenant_id: string;
  kind: PolicyJob['kind'];
  policy_version: number;
  state: PolicyJob['state'];
  phase: number;
  after_id: string | null;
  total: number;
  processed: number;
  changed: number;
  started_at: unknown;
  finished_at: unknown;
}

const toJob = (r: JobRow): PolicyJob => ({
  id: String(r.id),
  tenantId: r.tenant_id,
  kind: r.kind,
  policyVersion: r.policy_version,
  state: r.state,
  phase: r.phase === 3 ? 3 : r.phase === 2 ? 2 : 1,
  afterId: r.after_id,
  total: r.total,
  processed: r.processed,
  changed: r.changed,
  startedAt: date(r.started_at),
  finishedAt: r.finished_at === null ? null : date(r.finished_at),
});

/** A new job for the tenant; any earlier running one is cancelled (the new policy supersedes it). */
export async function startJob(trx: Q, tenantId: string, policyVersion: number, total: number, kind: PolicyJob['kind'] = 'reevaluate'): Promise<PolicyJob> {
  // A go-live is never cancelled by a policy change: the new policy applies to the users it has not reached yet.
  await sql`update policy_jobs set state = 'cancelled', finished_at = now() where tenant_id = ${tenantId} and state = 'running' and kind = 'reevaluate'`.execute(trx);
  const r = await sql<JobRow>`
    insert into policy_jobs (tenant_id, kind, policy_version, total) values (${tenantId}, ${kind}, ${policyVersion}, ${total}) returning *`.execute(trx);
  return toJob(r.rows[0]!);
}

/** A running job whose lease has run out (its worker finished a batch, stopped or crashed), leased for `leaseMs`. */
export async function claimJob(db: Q, leaseMs: number): Promise<PolicyJob | undefined> {
  const r = await sql<JobRow>`
    update policy_jobs j set lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    from (select id from policy_jobs where state = 'running' and lease_until <= now() order by id limit 1 for update skip locked) c
    where j.id = c.id returning j.*`.execute(db);
  return r.rows[0] && toJob(r.rows[0]);
}

/** Record a batch's progress (in the batch's transaction); false when the job was cancelled meanwhile. */
export async function advanceJob(trx: Q, id: string, afterId: string, processed: number, changed: number): Promise<boolean> {
  const r = await sql`
    update policy_jobs set after_id = ${afterId}, processed = processed + ${processed}, changed = changed + ${changed}, lease_until = now()
    where id = ${id} and state = 'running'`.execute(trx);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** The next phase, from the first id, not before `notBefore` (phase 2: when every replica has the new policy). */
export async function nextPhase(db: Q, id: string, phase: 2 | 3, notBefore: Date): Promise<void> {
  await sql`update policy_jobs set phase = ${phase}, after_id = null, lease_until = ${notBefore} where id = ${id} and state = 'running'`.execute(db);
}

export async function finishJob(db: Q, id: string): Promise<void> {
  await sql`update policy_jobs set state = 'done', finished_at = now() where id = ${id} and state = 'running'`.execute(db);
}

/** The modes of these tenants (live or dryRun). */
export async function tenantModes(db: Q, tenantIds: string[]): Promise<Map<string, 'live' | 'dryRun'>> {
  if (tenantIds.length === 0) return new Map();
  const r = await sql<{ id: string; mode: 'live' | 'dryRun' }>`select id, mode from tenants where id = any(${tenantIds}::text[])`.execute(db);
  return new Map(r.rows.map((row) => [row.id, row.mode]));
}

export async function hasRunningJob(db: Q): Promise<boolean> {
  const r = await sql<{ n: unknown }>`select count(*) as n from policy_jobs where state = 'running'`.execute(db);
  return Number(r.rows[0]!.n) > 0;
}

export async function latestJob(db: Q, tenantId: string): Promise<PolicyJob | undefined> {
  const r = await sql<JobRow>`select * from policy_jobs where tenant_id = ${tenantId} order by id desc limit 1`.execute(db);
  return r.rows[0] && toJob(r.rows[0]);
}

/** Ids of the tenant's users after `afterId`, in id order; with `modifiedSince`, only those written since then. */
export async function userIdsAfter(db: Q, tenantId: string, afterId: string | null, limit: number, modifiedSince?: Date): Promise<string[]> {
  const r = await sql<{ id: string }>`
    select id from users where tenant_id = ${tenantId} ${afterId ? sql`and id > ${afterId}` : sql``}
    ${modifiedSince ? sql`and last_modified >= ${modifiedSince}` : sql``}
    order by id limit ${limit}`.execute(db);
  return r.rows.map((row) => row.id);
}

export async function countUsers(db: Q, tenantId: string): Promise<number> {
  const r = await sql<{ n: unknown }>`select count(*) as n from users where tenant_id = ${tenantId}`.execute(db);
  return Number(r.rows[0]!.n);
}

// ---------------------------------------------------------------------------
// License usage

export async function countHostStates(db: Q, tenantId: string): Promise<Record<HostState, number>> {
  const r = await sql<{ host_state: HostState; n: unknown }>`
    select host_state, count(*) as n from users where tenant_id = ${tenantId} group by host_state`.execute(db);
  const out: Record<HostState, number> = { absent: 0, active: 0, inactive: 0 };
  for (const row of r.rows) out[row.host_state] = Number(row.n);
  return out;
}

/** Count the active users now and keep the count from here on (a license cap was set). */
export async function resetUsage(db: Q, tenantId: string): Promise<number> {
  const r = await sql<{ active_users: number }>`
    insert into tenant_usage (tenant_id, active_users, cap_reached, counted_at)
    select ${tenantId}, count(*), false, now() from users where tenant_id = ${tenantId} and host_state = 'active'
    on conflict (tenant_id) do update set active_users = excluded.active_users, cap_reached = false, counted_at = now()
    returning active_users`.execute(db);
  return r.rows[0]!.active_users;
}

export async function usage(db: Q, tenantId: string): Promise<{ activeUsers: number; capReached: boolean; countedAt: Date } | undefined> {
  const r = await sql<{ active_users: number; cap_reached: boolean; counted_at: unknown }>`
    select active_users, cap_reached, counted_at from tenant_usage where tenant_id = ${tenantId}`.execute(db);
  const row = r.rows[0];
  return row && { activeUsers: row.active_users, capReached: row.cap_reached, countedAt: date(row.counted_at) };
}

/**
 * One more active user if that stays within `cap` (in the caller's
 * transaction; concurrent writers take turns on the tenant's row). False:
 * the cap is reached.
 */
export async function takeSeat(trx: Q, tenantId: string, cap: number): Promise<boolean> {
  const r = await sql`
    update tenant_usage set active_users = active_users + 1 where tenant_id = ${tenantId} and active_users < ${cap}`.execute(trx);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** One active user less; below the cap again, the next refusal counts as a new crossing. */
export async function freeSeat(trx: Q, tenantId: string, cap: number): Promise<void> {
  await sql`
    update tenant_usage set active_users = greatest(active_users - 1, 0), cap_reached = cap_reached and active_users - 1 >= ${cap}
    where tenant_id = ${tenantId}`.execute(trx);
}

/** Mark the cap reached; true the first time since usage was below it (send tenant.license_limit_reached then). */
export async function markCapReached(db: Q, tenantId: string): Promise<boolean> {
  const r = await sql`update tenant_usage set cap_reached = true where tenant_id = ${tenantId} and not cap_reached`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** The fields not reported yet since the policy was set, now marked reported (tenant.mapping_incomplete once per field). */
export async function claimMappingReports(db: Q, tenantId: string, fields: string[]): Promise<string[]> {
  const r = await sql<{ field: string }>`
    insert into mapping_reports (tenant_id, field) select ${tenantId}, f from unnest(${fields}::text[]) as f
    on conflict do nothing returning field`.execute(db);
  const fresh = new Set(r.rows.map((row) => row.field));
  return fields.filter((f) => fresh.has(f));
}

/** A new policy: its mapping's gaps are reported afresh. */
export async function clearMappingReports(db: Q, tenantId: string): Promise<void> {
  await sql`delete from mapping_reports where tenant_id = ${tenantId}`.execute(db);
}

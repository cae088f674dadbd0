/**
 * Safe go-live (migrations/0007_go_live.ts): the host's existing users and
 * their links to IdP users, the walk over a tenant's users and groups that
 * the dry-run report and the go-live make.
 */
import { sql, type Kysely } from 'kysely';
import type { HostState } from '../policy/host-state.js';
import type { StoredResource } from '../scim/representation.js';
import { toStored, UUID_RE } from './resources.js';
import type { Database } from './types.js';
import type { HostLink } from './users.js';

type Q = Kysely<Database>;

export interface HostUser {
  hostUserId: string;
  email: string | null;
  externalId: string | null;
}

export type { HostLink };

/** Remove the tenant's host users (a new upload replaces them all, in the caller's transaction). */
export async function clearHostUsers(trx: Q, tenantId: string): Promise<void> {
  await sql`delete from host_users where tenant_id = ${tenantId}`.execute(trx);
}

/** Add a batch of host users; a host user id given twice fails the statement (23505). */
export async function insertHostUsers(trx: Q, tenantId: string, batch: HostUser[]): Promise<void> {
  if (batch.length === 0) return;
  const rows = batch.map((u) => ({ id: u.hostUserId, email: u.email, email_lower: u.email?.toLowerCase() ?? null, external_id: u.externalId }));
  await sql`
    insert into host_users (tenant_id, host_user_id, email, email_lower, external_id)
    select ${tenantId}, r.id, r.email, r.email_lower, r.external_id
    from json_to_recordset(${JSON.stringify(rows)}::json) as r(id text, email text, email_lower text, external_id text)`.execute(trx);
}

/** Mark emails two host users share: such an email never links anyone (README "Going live safely"). */
export async function markSharedEmails(trx: Q, tenantId: string): Promise<number> {
  const r = await sql`
    update host_users h set email_shared = true
    where h.tenant_id = ${tenantId} and h.email_lower in (
      select email_lower from host_users where tenant_id = ${tenantId} and email_lower is not null group by email_lower having count(*) > 1)`.execute(trx);
  return Number(r.numAffectedRows ?? 0);
}

export async function countHostUsers(db: Q, tenantId: string): Promise<number> {
  const r = await sql<{ n: unknown }>`select count(*) as n from host_users where tenant_id = ${tenantId}`.execute(db);
  return Number(r.rows[0]!.n);
}

/**
 * Link the tenant's IdP users to its host users, in one statement: by
 * externalId first, then by an email (case-insensitive, any of the user's);
 * a user whose best matches name two host users, or a host user that two
 * users match at their best, is linked to nobody. Returns the links made.
 */
export async function relink(trx: Q, tenantId: string): Promise<number> {
  await sql`update users set host_user_id = null, matched_by = null where tenant_id = ${tenantId} and host_user_id is not null`.execute(trx);
  const r = await sql`
    with candidates as (
      select u.id as user_id, h.host_user_id, 'externalId' as matched_by, 1 as rank
      from users u join host_users h on h.tenant_id = u.tenant_id and h.external_id = u.external_id
      where u.tenant_id = ${tenantId}
      union all
      select u.id, h.host_user_id, 'email', 2
      from users u join host_users h on h.tenant_id = u.tenant_id and h.email_lower = any (u.email_values) and not h.email_shared
      where u.tenant_id = ${tenantId}
    ), best as (
      select distinct on (user_id) user_id, rank from candidates order by user_id, rank
    ), at_best as (
      select c.* from candidates c join best b on b.user_id = c.user_id and b.rank = c.rank
    ), unique_user as (
      select user_id, min(host_user_id) as host_user_id, min(matched_by) as matched_by from at_best group by user_id having count(distinct host_user_id) = 1
    ), unique_host as (
      select user_id, host_user_id, matched_by from (
        select uu.*, count(*) over (partition by host_user_id) as claims from unique_user uu) x
      where claims = 1
    )
    update users u set host_user_id = m.host_user_id, matched_by = m.matched_by
    from unique_host m where u.tenant_id = ${tenantId} and u.id = m.user_id`.execute(trx);
  return Number(r.numAffectedRows ?? 0);
}

/** A user as the dry-run report and the go-live walk see it. */
export interface WalkedUser {
  stored: StoredResource;
  host: { state: HostState; inactiveSince: Date | null };
  link: HostLink | null;
}

/** The tenant's users after `afterId`, in id order, with what the host knows and the link. */
export async function walkUsers(db: Q, tenantId: string, afterId: string | null, limit: number): Promise<WalkedUser[]> {
  const r = await sql<{
    id: string;
    resource: Record<string, unknown>;
    version: number;
    created: Date;
    last_modified: Date;
    host_state: HostState;
    inactive_since: Date | null;
    host_user_id: string | null;
    matched_by: 'externalId' | 'email' | null;
  }>`
    select id, resource, version, created, last_modified, host_state, inactive_since, host_user_id, matched_by from users
    where tenant_id = ${tenantId} ${afterId ? sql`and id > ${afterId}` : sql``} order by id limit ${limit}`.execute(db);
  return r.rows.map((row) => ({
    stored: toStored(row),
    host: { state: row.host_state, inactiveSince: row.inactive_since },
    link: row.host_user_id && row.matched_by ? { hostUserId: row.host_user_id, matchedBy: row.matched_by } : null,
  }));
}

/** Host users no IdP user is linked to, after `afterHostUserId`, in id order. */
export async function hostOnlyUsers(db: Q, tenantId: string, afterHostUserId: string | null, limit: number): Promise<(HostUser & { emailShared: boolean })[]> {
  const r = await sql<{ host_user_id: string; email: string | null; external_id: string | null; email_shared: boolean }>`
    select h.host_user_id, h.email, h.external_id, h.email_shared from host_users h
    where h.tenant_id = ${tenantId} ${afterHostUserId ? sql`and h.host_user_id > ${afterHostUserId}` : sql``}
      and not exists (select 1 from users u where u.tenant_id = h.tenant_id and u.host_user_id = h.host_user_id)
    order by h.host_user_id limit ${limit}`.execute(db);
  return r.rows.map((row) => ({ hostUserId: row.host_user_id, email: row.email, externalId: row.external_id, emailShared: row.email_shared }));
}

/** The tenant's groups after `afterId`, in id order. */
export async function walkGroups(db: Q, tenantId: string, afterId: string | null, limit: number): Promise<StoredResource[]> {
  const r = await sql<{ id: string; resource: Record<string, unknown>; version: number; created: Date; last_modified: Date }>`
    select id, resource, version, created, last_modified from groups
    where tenant_id = ${tenantId} ${afterId ? sql`and id > ${afterId}` : sql``} order by id limit ${limit}`.execute(db);
  return r.rows.map(toStored);
}

/** A group's members the host knows (users it has, every group), after `afterId`, in id order. */
export async function hostKnownMembers(db: Q, tenantId: string, groupId: string, afterId: string | null, limit: number): Promise<{ id: string; type: 'User' | 'Group' }[]> {
  if (!UUID_RE.test(groupId)) return [];
  const r = await sql<{ member_id: string; member_type: 'User' | 'Group' }>`
    select m.member_id, m.member_type from group_members m
    where m.tenant_id = ${tenantId} and m.group_id = ${groupId} ${afterId ? sql`and m.member_id > ${afterId}` : sql``}
      and (m.member_type = 'Group' or exists (select 1 from users u where u.tenant_id = m.tenant_id and u.id = m.member_id and u.host_state <> 'absent'))
    order by m.member_id limit ${limit}`.execute(db);
  return r.rows.map((row) => ({ id: row.member_id, type: row.member_type }));
}

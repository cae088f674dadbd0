/**
 * A change of a group's named members alone (PATCH add / remove of members,
 * Entra ID's and Okta's everyday shape) as ONE autocommitted statement: lock
 * the members being added (FOR KEY SHARE, see src/db/groups.ts), insert and
 * delete the membership rows, bump the group's version and write the events
 * of the members actually added and removed, with their deliveries.
 *
 * Why one statement: concurrent PATCHes of one group queue on its row lock,
 * which is held until commit. Sent as a transaction, the lock was also held
 * across the server's round trips (the next statement, COMMIT), each waiting
 * for the server's event loop; here it is held only from the UPDATE to the
 * end of the statement's own commit.
 *
 * The statement undoes itself (group_member_patch_conflict() of migration
 * 0014 raises SQLSTATE RM001, isMemberPatchConflict) when it cannot stand alone: a member to add
 * is gone since it was checked, or the membership changed but the group no
 * longer has the attributes (or, with If-Match, the version) the change was
 * computed on. The caller then does the change in a transaction under the
 * group's lock. A group deleted meanwhile fails the members' foreign key.
 */
import { sql, type Kysely } from 'kysely';
import type { NewEvent } from '../events/types.js';
import type { StoredResource } from '../scim/representation.js';
import type { MemberType } from './groups.js';
import { deliveryTail } from './outbox.js';
import { num } from './outbox-rows.js';
import { prepared } from './prepared.js';
import type { Database } from './types.js';

export interface MemberPatch {
  tenantId: string;
  /** The group as the change was computed on (its attributes must still be these). */
  current: StoredResource;
  /** If-Match (RFC 7644 §3.14): the versions accepted; undefined for any. */
  versions?: number[] | undefined;
  /** Members to add, as resolved (lower-case ids, with the type they exist as). */
  add: { value: string; type: MemberType }[];
  /** Lower-case member ids to remove (none of them in `add`). */
  remove: string[];
  at: Date;
  /** The group.members.added / removed events naming every member of `add` / `remove`, at most one of each; trimmed to the members that changed. */
  events: NewEvent[];
  txn: string;
}

export interface MemberPatchResult {
  /** The new version; null when no membership changed (nothing was written). */
  version: number | null;
  added: string[];
  removed: string[];
  deliveries: number;
}

/** The statement undid itself: do the change under the group's lock instead (see the header). */
export const isMemberPatchConflict = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === MEMBER_PATCH_CONFLICT;
const MEMBER_PATCH_CONFLICT = 'RM001';

export async function patchMembers(db: Kysely<Database>, p: MemberPatch): Promise<MemberPatchResult> {
  const { tenantId, current } = p;
  const groupId = current.id;
  const ids = (type: MemberType) => p.add.filter((m) => m.type === type).map((m) => m.value);
  const rows = p.events.map((e, i) => ({ uid: e.uid, type: e.type, ord: i + 1, data: e.data }));
  const scope = { tenantId, resourceType: 'Group' as const, resourceId: groupId, txn: p.txn };
  const r = await sql<{ version: number | null; added: string[]; removed: string[]; deliveries: unknown; ok: number }>`
    with lu as (
      select id from users where tenant_id = ${tenantId} and id = any(${ids('User')}::uuid[]) order by id for key share
    ), lg as (
      select id from groups where tenant_id = ${tenantId} and id = any(${ids('Group')}::uuid[]) order by id for key share
    ), ins as (
      insert into group_members (tenant_id, group_id, member_id, member_type)
      select ${tenantId}, ${groupId}::uuid, id, 'User' from lu
      union all
      select ${tenantId}, ${groupId}::uuid, id, 'Group' from lg
      on conflict (tenant_id, group_id, member_id) do nothing
      returning member_id
    ), del as (
      delete from group_members
      where tenant_id = ${tenantId} and group_id = ${groupId} and member_id = any(${p.remove}::uuid[])
      returning member_id
    ), rw as (
      update groups set version = version + 1, last_modified = ${p.at}
      where tenant_id = ${tenantId} and id = ${groupId} and resource = ${JSON.stringify(current.resource)}::jsonb
        ${p.versions ? sql`and version = any(${p.versions}::int[])` : sql``}
        and (exists (select 1 from ins) or exists (select 1 from del))
      returning version
    ), m as (
      select 'group.members.added' as type, (select jsonb_agg(member_id order by member_id) from ins) as members
      union all
      select 'group.members.removed', (select jsonb_agg(member_id order by member_id) from del)
    ), x0 as (
      select r.uid, r.type, row_number() over (order by r.ord) as ord,
        r.data || jsonb_build_object('members', m.members, 'version', rw.version, 'etag', 'W/"' || rw.version || '"') as data
      from json_to_recordset(${JSON.stringify(rows)}::json) as r(uid text, type text, ord int, data jsonb)
      join m on m.type = r.type and m.members is not null
      cross join rw
    ), s as (
      insert into event_sequences (tenant_id, resource_id, last_seq)
      select ${tenantId}, ${groupId}, count(*) from x0 having count(*) > 0
      on conflict (tenant_id, resource_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq
      returning last_seq
    ), x as (
      select x0.uid, x0.type, x0.ord, x0.data, null::json as resource, s.last_seq - (select count(*) from x0) + x0.ord as seq
      from x0 cross join s
    ), ${deliveryTail(scope)}
    select (select version from rw) as version,
      array(select member_id::text from ins order by member_id) as added,
      array(select member_id::text from del order by member_id) as removed,
      (select count(*) from dl) as deliveries, (select count(*) from nt) as notified,
      case when (select count(*) from lu) + (select count(*) from lg) = ${p.add.length}
                and (exists (select 1 from rw) or not (exists (select 1 from ins) or exists (select 1 from del)))
           then 1 else group_member_patch_conflict() end as ok${prepared}`.execute(db);
  const row = r.rows[0]!;
  return { version: row.version, added: row.added, removed: row.removed, deliveries: num(row.deliveries) };
}

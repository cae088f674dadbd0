/**
 * The mass-deprovision safeguard's holds (migrations/0007_go_live.ts,
 * README.md "Deletion safeguard"). A tenant has at most one open hold; every
 * writer that joins it reads it FOR SHARE, so a release or rejection (an
 * UPDATE of the hold row) waits for writers in flight, and writers after it
 * no longer find it open: no event can join a hold that has been decided.
 */
import { sql } from 'kysely';
import type { HostState } from '../policy/host-state.js';
import type { Db, Tx } from './index.js';
import { date, dateOrNull, num, str } from './outbox-rows.js';

export type HoldState = 'open' | 'released' | 'rejected';

export interface HoldRecord {
  id: string;
  tenantId: string;
  state: HoldState;
  reason: string;
  /** Deactivations and deletions held. */
  items: number;
  /** Events waiting behind the hold (0 once decided). */
  heldEvents: number;
  createdAt: Date;
  decidedAt: Date | null;
  decidedBy: Record<string, unknown> | null;
}

export interface HoldItem {
  id: string;
  userId: string;
  userName: string;
  externalId: string | null;
  event: string;
  /** What the host had before (restored when the hold is rejected). */
  from: HostState;
  requestId: string | null;
  at: Date;
}

export type NewHoldItem = Omit<HoldItem, 'id' | 'at'> & { fromInactiveSince: Date | null };

/**
 * Take the tenant's safeguard lock for the rest of the transaction: deciding
 * whether a deprovisioning is beyond the threshold counts the committed ones,
 * so concurrent deciders take turns (else eight at once could all count three).
 */
export async function serializeDeprovisions(trx: Tx, tenantId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`safeguard:${tenantId}`}, 0))`.execute(trx);
}

/** The tenant's open hold, read FOR SHARE (see the header); undefined when there is none. */
export async function openHold(trx: Tx, tenantId: string): Promise<string | undefined> {
  const r = await sql<{ id: unknown }>`select id from safeguard_holds where tenant_id = ${tenantId} and state = 'open' for share`.execute(trx);
  return r.rows[0] ? str(r.rows[0].id) : undefined;
}

/** Open a hold; `created` false when another writer opened one first (then that one is returned). */
export async function createHold(trx: Tx, tenantId: string, reason: string): Promise<{ id: string; created: boolean }> {
  const r = await sql<{ id: unknown }>`
    insert into safeguard_holds (tenant_id, reason) values (${tenantId}, ${reason})
    on conflict (tenant_id) where state = 'open' do nothing returning id`.execute(trx);
  if (r.rows[0]) return { id: str(r.rows[0].id), created: true };
  const id = await openHold(trx, tenantId);
  if (!id) throw new Error(`safeguard: no open hold for tenant ${tenantId} after a conflicting insert`);
  return { id, created: false };
}

/** Deactivations and deletions the host was (or is to be) told of since `since`. */
export async function recentDeprovisions(trx: Tx, tenantId: string, since: Date): Promise<number> {
  const r = await sql<{ n: unknown }>`
    select count(*) as n from events
    where tenant_id = ${tenantId} and type in ('user.deactivated', 'user.deleted') and occurred_at > ${since.toISOString()}`.execute(trx);
  return num(r.rows[0]!.n);
}

/** One held transition; the user's later events wait behind the hold too (users.held_by). */
export async function addHoldItem(trx: Tx, tenantId: string, holdId: string, item: NewHoldItem): Promise<void> {
  await sql`
    insert into hold_items (hold_id, user_id, user_name, external_id, event_type, from_state, from_inactive_since, request_id)
    values (${holdId}, ${item.userId}, ${item.userName}, ${item.externalId}, ${item.event}, ${item.from}, ${item.fromInactiveSince?.toISOString() ?? null}, ${item.requestId})`.execute(trx);
  await sql`update users set held_by = ${holdId} where tenant_id = ${tenantId} and id = ${item.userId}`.execute(trx);
}

const HOLD_COLUMNS = sql`h.id, h.tenant_id, h.state, h.reason, h.created_at, h.decided_at, h.decided_by,
  (select count(*) from hold_items i where i.hold_id = h.id) as items,
  (select count(*) from events e where e.held_by = h.id) as held_events`;

type HoldRow = { id: unknown; tenant_id: string; state: HoldState; reason: string; created_at: unknown; decided_at: unknown; decided_by: Record<string, unknown> | null; items: unknown; held_events: unknown };

const holdFromRow = (r: HoldRow): HoldRecord => ({
  id: str(r.id),
  tenantId: r.tenant_id,
  state: r.state,
  reason: r.reason,
  items: num(r.items),
  heldEvents: num(r.held_events),
  createdAt: date(r.created_at),
  decidedAt: dateOrNull(r.decided_at),
  decidedBy: r.decided_by,
});

/** A tenant's holds, newest first; `before`: an id to continue after. */
export async function listHolds(db: Db, tenantId: string, opts: { state?: HoldState | undefined; before?: string | undefined; limit: number }): Promise<HoldRecord[]> {
  const r = await sql<HoldRow>`
    select ${HOLD_COLUMNS} from safeguard_holds h
    where h.tenant_id = ${tenantId}
      ${opts.state ? sql`and h.state = ${opts.state}` : sql``}
      ${opts.before ? sql`and h.id < ${opts.before}` : sql``}
    order by h.id desc limit ${opts.limit}`.execute(db);
  return r.rows.map(holdFromRow);
}

export async function findHold(db: Db | Tx, tenantId: string, id: string): Promise<HoldRecord | undefined> {
  const r = await sql<HoldRow>`select ${HOLD_COLUMNS} from safeguard_holds h where h.tenant_id = ${tenantId} and h.id = ${id}`.execute(db);
  return r.rows[0] && holdFromRow(r.rows[0]);
}

/** A hold's items in the order they were held; `after`: an item id to continue after. */
export async function holdItems(db: Db, holdId: string, opts: { after?: string | undefined; limit: number }): Promise<HoldItem[]> {
  const r = await sql<{ id: unknown; user_id: string; user_name: string; external_id: string | null; event_type: string; from_state: HostState; request_id: string | null; created_at: unknown }>`
    select id, user_id, user_name, external_id, event_type, from_state, request_id, created_at from hold_items
    where hold_id = ${holdId} ${opts.after ? sql`and id > ${opts.after}` : sql``}
    order by id limit ${opts.limit}`.execute(db);
  return r.rows.map((i) => ({
    id: str(i.id),
    userId: i.user_id,
    userName: i.user_name,
    externalId: i.external_id,
    event: i.event_type,
    from: i.from_state,
    requestId: i.request_id,
    at: date(i.created_at),
  }));
}

/**
 * Decide an open hold: true when it was open (and is now `state`), false
 * when it was already decided. Waits for writers joining it (FOR SHARE).
 */
export async function decideHold(trx: Tx, tenantId: string, id: string, state: 'released' | 'rejected', actor: Record<string, unknown>): Promise<boolean> {
  const r = await sql`
    update safeguard_holds set state = ${state}, decided_at = now(), decided_by = ${JSON.stringify(actor)}::jsonb
    where tenant_id = ${tenantId} and id = ${id} and state = 'open'`.execute(trx);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** The hold's users no longer wait behind it. */
export async function clearHeldUsers(trx: Tx, tenantId: string, holdId: string): Promise<void> {
  await sql`update users set held_by = null where tenant_id = ${tenantId} and held_by = ${holdId}`.execute(trx);
}

/**
 * Rejection: the held events are dropped, and each user still in Roster gets
 * back what the host had before the hold, marked (hold_rejected) until the
 * IdP reactivates it. Returns the number of events dropped.
 */
export async function rejectHeld(trx: Tx, tenantId: string, holdId: string): Promise<number> {
  // Marked only while the IdP has the user inactive: one it reactivated meanwhile must be deprovisioned normally next time.
  await sql`
    update users u set host_state = i.from_state, inactive_since = i.from_inactive_since, held_by = null,
      hold_rejected = coalesce(u.resource ->> 'active', 'true') = 'false'
    from (select distinct on (user_id) user_id, from_state, from_inactive_since from hold_items where hold_id = ${holdId} order by user_id, id) i
    where u.tenant_id = ${tenantId} and u.id = i.user_id`.execute(trx);
  await clearHeldUsers(trx, tenantId, holdId);
  // A held deletion kept as a tombstone (lifecycle.onDelete "deactivate") is forgotten with its purge: the host keeps the user.
  const deleted = sql`select i.user_id from hold_items i where i.hold_id = ${holdId}
    and not exists (select 1 from users u where u.tenant_id = ${tenantId} and u.id = i.user_id)`;
  await sql`delete from host_tombstones where tenant_id = ${tenantId} and user_id in (${deleted})`.execute(trx);
  await sql`delete from policy_schedule where tenant_id = ${tenantId} and user_id in (${deleted})`.execute(trx);
  const r = await sql`delete from events where held_by = ${holdId} and tenant_id = ${tenantId}`.execute(trx);
  return Number(r.numAffectedRows ?? 0);
}

/** Whether a user (or its tombstone) has held changes in the tenant's open hold: its time-driven work waits. */
export async function inOpenHold(trx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const r = await sql`
    select 1 from hold_items i join safeguard_holds h on h.id = i.hold_id
    where h.tenant_id = ${tenantId} and h.state = 'open' and i.user_id = ${userId} limit 1`.execute(trx);
  return r.rows.length > 0;
}

/** The IdP reactivated a user whose deprovisioning was rejected: the mark goes. */
export async function clearRejectedMark(trx: Tx, tenantId: string, userId: string): Promise<void> {
  await sql`update users set hold_rejected = false where tenant_id = ${tenantId} and id = ${userId}`.execute(trx);
}

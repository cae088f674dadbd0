/**
 * The one call services make, inside their transaction, for every committed
 * change of a User or Group (transactional outbox: no change without its
 * event, no event without its change). The events and their deliveries are
 * rows written by the caller's transaction: if it rolls back, they never
 * existed; if it commits, they are there for the delivery workers and the
 * poll feed, however long the host platform is away.
 */
import { randomUUID } from 'node:crypto';
import { insertEvents } from '../db/outbox.js';
import { patchMembers, type MemberPatch, type MemberPatchResult } from '../db/group-member-patch.js';
import { claimMappingReports } from '../db/policies.js';
import type { ResourceWrite } from '../db/resources.js';
import type { Db, Tx } from '../db/index.js';
import type { Actor } from '../services/actor.js';
import { wakeDeliveryWorkers } from './notify.js';
import type { EventType, NewEvent, ResourceEventData, TenantEventType } from './types.js';

export interface ResourceChange {
  tenantId: string;
  resourceType: 'User' | 'Group';
  action: 'created' | 'updated' | 'deleted';
  id: string;
  externalId: string | null;
  /** userName for users, displayName for groups. */
  name: string;
  /** Resource version after the change (the last version for a delete). */
  version: number;
  /** Weak ETag of that version, e.g. W/"3". */
  etag: string;
  /** Canonical attribute paths that changed (empty for create/delete). */
  changed: string[];
  /** Full SCIM representation after the change (id, meta, schemas…); null on delete. */
  resource: Record<string, unknown> | null;
  /** `active` before the change (users), to derive user.deactivated / user.reactivated. */
  activeBefore?: boolean | null;
  /** Group member ids added / removed by this change. */
  membersAdded?: string[];
  membersRemoved?: string[];
  /**
   * Users: the event the provisioning policy decided (src/policy/host-state.ts
   * userEventFor), null for none; when undefined, derived from the action as
   * without a policy.
   */
  userEvent?: EventType | null;
  /** Users: the host user this one was linked to at go-live (README "Going live safely"). */
  link?: { hostUserId: string; matchedBy: 'externalId' | 'email' } | null;
  /** Record no event (a group the host is not told about, policy.audience.groups); the write still happens. */
  silent?: boolean;
  /** Why the policy decided so (`outside the audience`, `after its end date`, …). */
  reason?: string;
  /** The host's fields (policy.mapping) and the mapped fields that yielded nothing. */
  profile?: { profile: Record<string, unknown>; missing: string[] };
  /** Who made the change: copied to every event it produces (`data.actor`, events.actor). */
  actor: Actor;
  /** The safeguard hold the events wait behind (src/services/safeguard.ts): written, not delivered until released. */
  heldBy?: string | null;
}

/** Member ids per group.members.added / group.members.removed event. */
export const MEMBER_CHUNK = 1000;

export function newEventId(): string {
  return `evt_${randomUUID().replaceAll('-', '')}`;
}

const isMembersPath = (p: string) => /^members(\.|\[|$)/i.test(p);

/**
 * The events one change produces, in the order they are delivered:
 * - created → `<type>.created`, then for a group its initial members in
 *   `group.members.added` chunks;
 * - updated → `user.deactivated` (active true→false), `user.reactivated`
 *   (false→true) or `<type>.updated` when any other attribute changed (a
 *   change of nothing emits nothing); for groups, member changes become
 *   `group.members.added` / `group.members.removed` chunks rather than a
 *   group.updated listing `members`;
 * - deleted → `<type>.deleted`.
 * A group's `members` are never copied into event resources: a group of
 * 100,000 would make every event of it huge, and the member events carry
 * exactly what changed (RFC 9967 §5 recommends the same).
 */
export function eventsForChange(change: ResourceChange): NewEvent[] {
  if (change.silent) return [];
  const isUser = change.resourceType === 'User';
  const base: Omit<ResourceEventData, 'sequence' | 'changed'> = {
    tenant: change.tenantId,
    resourceType: change.resourceType,
    id: change.id,
    externalId: change.externalId,
    ...(isUser ? { userName: change.name } : { displayName: change.name }),
    version: change.version,
    etag: change.etag,
    actor: change.actor,
  };
  let resource: Record<string, unknown> | null = null;
  if (change.resource) {
    resource = { ...change.resource };
    if (!isUser) delete resource.members;
  }
  const out: NewEvent[] = [];
  const linked = isUser && change.link ? { link: change.link } : {};
  const push = (type: EventType, changed: string[], extra: Partial<ResourceEventData> = {}, withResource = true) =>
    out.push({ uid: newEventId(), type, data: { ...base, changed, ...extra, ...linked }, resource: withResource ? resource : null });

  if (isUser && change.userEvent !== undefined) {
    if (change.userEvent === null) return out;
    const extra: Partial<ResourceEventData> = {};
    if (change.reason) extra.reason = change.reason;
    if (change.profile && change.userEvent !== 'user.deleted') {
      extra.profile = change.profile.profile;
      if (change.profile.missing.length) extra.profileMissing = change.profile.missing;
    }
    push(change.userEvent, change.userEvent === 'user.updated' || change.userEvent === 'user.deactivated' || change.userEvent === 'user.reactivated' ? [...change.changed] : [], extra, change.userEvent !== 'user.deleted');
    return out;
  }
  if (isUser) {
    const type = plainUserEventType(change);
    if (type) push(type, change.action === 'updated' ? [...change.changed] : [], {}, type !== 'user.deleted');
    return out;
  }
  if (change.action === 'deleted') {
    push('group.deleted', [], {}, false);
    return out;
  }
  if (change.action === 'created') {
    push('group.created', []);
  } else {
    const changed = change.changed.filter((p) => !isMembersPath(p));
    if (changed.length > 0) push('group.updated', changed);
  }
  if (!isUser) {
    for (const [ids, type] of [
      [change.membersAdded, 'group.members.added'],
      [change.membersRemoved, 'group.members.removed'],
    ] as const) {
      const list = [...new Set(ids ?? [])];
      for (let i = 0; i < list.length; i += MEMBER_CHUNK) {
        push(type, [], { members: list.slice(i, i + MEMBER_CHUNK) }, false);
      }
    }
  }
  return out;
}

/**
 * The user event a change makes without a policy: user.created / user.deleted
 * for those actions; for an update, user.deactivated (active true→false),
 * user.reactivated (false→true), user.updated when anything else changed,
 * null when nothing did.
 */
export function plainUserEventType(change: Pick<ResourceChange, 'action' | 'changed' | 'resource' | 'activeBefore'>): EventType | null {
  if (change.action === 'deleted') return 'user.deleted';
  if (change.action === 'created') return 'user.created';
  const after = change.resource?.active;
  let before = change.activeBefore;
  if ((before === undefined || before === null) && change.changed.some((p) => p.toLowerCase() === 'active') && typeof after === 'boolean') before = !after;
  if (before === true && after === false) return 'user.deactivated';
  if (before === false && after === true) return 'user.reactivated';
  return change.changed.length > 0 ? 'user.updated' : null;
}

/**
 * Record a change inside the caller's transaction. With `write` (from
 * src/db/resources.ts insertStatement / updateStatement) the resource write
 * and its events go as one statement: one round trip fewer, and for a create,
 * which needs nothing read first, no transaction at all (one statement is
 * atomic on its own), so `db` need not be a transaction. Returns the version
 * a `guarded` write wrote, null when it matched no row (nothing was recorded)
 * or the write was not guarded.
 */
export async function recordChange(db: Tx, change: ResourceChange): Promise<number | null>;
export async function recordChange(db: Db | Tx, change: ResourceChange, write: ResourceWrite): Promise<number | null>;
export async function recordChange(db: Db, change: ResourceChange, write?: ResourceWrite): Promise<number | null> {
  const events = eventsForChange(change);
  if (events.length === 0 && !write) return null;
  const { deliveries, version } = await insertEvents(db, { tenantId: change.tenantId, resourceType: change.resourceType, resourceId: change.id, txn: randomUUID(), heldBy: change.heldBy ?? null }, events, write);
  if (deliveries > 0) wakeDeliveryWorkers();
  if (write?.guarded && version === null) return null;
  const missing = events.length > 0 ? change.profile?.missing : undefined;
  if (missing?.length) await reportMissingFields(db, change.tenantId, change.id, missing);
  return version;
}

/**
 * A change of a group's named members alone, written with its events as one
 * statement outside any transaction (src/db/group-member-patch.ts). `change`
 * names every member the patch would add and remove; the events list those
 * that it did. Throws what patchMembers throws when it cannot stand alone.
 */
export async function recordMemberPatch(db: Db, change: ResourceChange, patch: Omit<MemberPatch, 'events' | 'txn' | 'tenantId'>): Promise<MemberPatchResult> {
  const r = await patchMembers(db, { ...patch, tenantId: change.tenantId, events: eventsForChange(change), txn: randomUUID() });
  if (r.deliveries > 0) wakeDeliveryWorkers();
  return r;
}

/** Mapped fields that yield nothing: the host hears of each once per policy version (tenant.mapping_incomplete). */
async function reportMissingFields(db: Db, tenantId: string, userId: string, missing: string[]): Promise<void> {
  const fresh = await claimMappingReports(db, tenantId, missing);
  if (fresh.length) await recordTenantEvent(db, tenantId, 'tenant.mapping_incomplete', { fields: fresh, example: userId }, MAPPING_ACTOR);
}

const MAPPING_ACTOR: Actor = { type: 'system', name: 'field mapping' };

/**
 * Record an event about the tenant itself (README "Tenant events"), in the
 * caller's transaction when `db` is one. It goes through the same outbox as
 * resource events: the tenant is its resource (resource id = tenant id), so
 * tenant events are numbered (`data.sequence`) and delivered in order per
 * tenant, to every enabled endpoint subscribed to `type`, and appear in the
 * poll feed. `data` holds what the event says (plain JSON, no personal data).
 */
export async function recordTenantEvent(
  db: Db | Tx,
  tenantId: string,
  type: TenantEventType,
  data: Record<string, unknown>,
  actor: Actor,
): Promise<void> {
  const event: NewEvent = { uid: newEventId(), type, data: { tenant: tenantId, resourceType: 'Tenant', id: tenantId, actor, ...data }, resource: null };
  const { deliveries } = await insertEvents(db, { tenantId, resourceType: 'Tenant', resourceId: tenantId, txn: randomUUID() }, [event]);
  if (deliveries > 0) wakeDeliveryWorkers();
}

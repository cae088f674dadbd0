/**
 * Group membership writes shared by the group service and the deletion of
 * members (src/services/users.ts): checking and locking the members being
 * added, applying a member delta, and which member changes the host is told
 * about. The header of src/services/groups.ts says how membership is stored.
 */
import * as groups from '../db/groups.js';
import type { MemberRow, MemberType } from '../db/groups.js';
import type { Db, Tx } from '../db/index.js';
import { recordChange } from '../events/record.js';
import { changeOf } from './changes.js';
import { badRequest } from '../scim/errors.js';
import { RawJson } from '../scim/json.js';
import type { MemberDelta } from '../scim/patch.js';
import { toScim, type StoredResource } from '../scim/representation.js';
import type { MemberRef } from '../scim/values.js';
import { groupResourceType as RT } from '../scim/schema.js';
import { note, type ScimContext } from './context.js';
import { groupSynced, type CompiledPolicy } from '../policy/compiled.js';

const invalidValue = (detail: string) => badRequest('invalidValue', detail);

/** Build a location for a resource of either type. */
export const locationOf = (ctx: ScimContext, type: MemberType, id: string) => `${ctx.baseUrl}/${type === 'User' ? 'Users' : 'Groups'}/${id}`;

export function presentGroup(ctx: ScimContext, stored: StoredResource, members?: MemberRow[] | RawJson): Record<string, unknown> {
  let derived = {};
  if (members instanceof RawJson) derived = { members };
  else if (members?.length) {
    // A page lists up to 20,000 members: each is built once, with no intermediate objects. The same shape as
    // src/db/groups.ts memberJsonOfGroups writes (test/http/member-display.test.ts holds them equal).
    const { User: userRefs, Group: groupRefs } = memberRefs(ctx);
    derived = {
      members: members.map((m) => {
        const $ref = (m.type === 'User' ? userRefs : groupRefs) + m.value;
        return m.display !== null ? { value: m.value, $ref, display: m.display, type: m.type } : { value: m.value, $ref, type: m.type };
      }),
    };
  }
  return toScim(RT, stored, locationOf(ctx, 'Group', stored.id), derived);
}

/** What a member's `$ref` is, by type, before its id. */
export const memberRefs = (ctx: ScimContext): Record<MemberType, string> => ({ User: `${ctx.baseUrl}/Users/`, Group: `${ctx.baseUrl}/Groups/` });

/**
 * Check that every member to add exists in the tenant as the type it claims,
 * and lock them unless `lock` is false (see src/db/groups.ts). Returns them
 * with their types.
 *
 * Strict tenants: an unknown id or a wrong `type` is 400 invalidValue and
 * nothing changes. Lenient tenants: the members that exist are added with the
 * type the stored resource has, the unknown ones are skipped, and both are
 * noted for the request log (ctx.notes). One stale id (a user deleted out of
 * band, or not provisioned yet) must not lose the whole batch: Okta treats a
 * 400 as final and adds none of the valid members, Entra ID retries and the
 * group never converges. Except when `replacing` the membership with a list
 * of which nothing exists: that would empty the group on what is most likely
 * a client's mistake (ids from another system), so it is 400 everywhere.
 */
export async function resolveMembers(
  trx: Db | Tx,
  ctx: ScimContext,
  groupId: string,
  refs: MemberRef[],
  replacing = false,
  lock = true,
): Promise<{ value: string; type: MemberType }[]> {
  if (refs.length === 0) return [];
  const found = await groups.lockMembers(trx, ctx.tenant.id, refs.map((r) => r.value), lock);
  const out: { value: string; type: MemberType }[] = [];
  const absent: string[] = [];
  const retyped: string[] = [];
  for (const ref of refs) {
    const id = ref.value.toLowerCase();
    if (id === groupId) throw invalidValue(`A group cannot be a member of itself (members value "${ref.value}")`);
    const type = found.get(id);
    if (!type) {
      absent.push(ref.value);
      continue;
    }
    if (ref.type && ref.type !== type) {
      if (!ctx.lenient) throw invalidValue(`Member "${ref.value}" is a ${type}, not a ${ref.type}`);
      retyped.push(`"${ref.value}" (a ${type}, sent as ${ref.type})`);
    }
    out.push({ value: id, type });
  }
  if (absent.length) {
    if (!ctx.lenient || (replacing && out.length === 0)) throw invalidValue(`No User or Group with id ${listed(absent.map((v) => `"${v}"`))} exists in this tenant; no members were changed`);
    note(ctx, `Group ${groupId}: skipped ${absent.length} member(s) that are no User or Group of this tenant: ${listed(absent.map((v) => `"${v}"`))}`);
  }
  if (retyped.length) note(ctx, `Group ${groupId}: member type taken from the stored resource for ${listed(retyped)}`);
  return out;
}

/** The first ten of a list, and how many more. */
const listed = (items: string[]) => items.slice(0, 10).join(', ') + (items.length > 10 ? ` and ${items.length - 10} more` : '');

/** Ids a member delta would add (to resolve and lock them first). */
export const idsAdded = (d: MemberDelta | undefined): MemberRef[] => (d ? (d.replaceWith ?? d.add) : []);

/** Whether a member delta replaces the whole membership. */
export const replaces = (d: MemberDelta | undefined): boolean => d?.replaceWith !== undefined;

/**
 * Apply a member delta to the rows. Cost: the members named (incremental),
 * or the current members that are not kept (absolute).
 */
export async function applyDelta(
  trx: Tx,
  tenantId: string,
  groupId: string,
  delta: MemberDelta,
  resolved: { value: string; type: MemberType }[],
): Promise<{ added: string[]; removed: string[] }> {
  if (delta.replaceWith) {
    const removed = await groups.removeMembersExcept(trx, tenantId, groupId, resolved.map((m) => m.value));
    const added = await groups.addMembers(trx, tenantId, groupId, resolved);
    return { added, removed };
  }
  const removed = await groups.removeMembers(trx, tenantId, groupId, delta.remove.map((id) => id.toLowerCase()));
  const added = await groups.addMembers(trx, tenantId, groupId, resolved);
  return { added, removed };
}

/**
 * Take a deleted User or Group out of every group it belongs to, bumping
 * each of those groups' version and recording a member removal for each.
 * Runs in the caller's transaction (the deletion's), after the caller has
 * locked the member's row. The one place membership cleanup happens.
 */
export async function removeMemberships(trx: Tx, ctx: ScimContext, policy: CompiledPolicy, memberId: string, opts: { tellHost?: boolean } = {}): Promise<void> {
  const affected = await groups.removeMemberEverywhere(trx, ctx.tenant.id, memberId, new Date());
  if (affected.length === 0) return;
  // A deletion the safeguard holds: the host keeps the member in its groups until the hold is released (then user.deleted says it all).
  const host = opts.tellHost === false ? { removed: [] } : await forHost(trx, ctx, policy, [], [memberId.toLowerCase()]);
  for (const g of affected) {
    await recordChange(trx, changeOf(ctx, 'Group', 'updated', g, {
      changed: ['members'],
      resource: presentGroup(ctx, g),
      membersAdded: [],
      membersRemoved: host.removed,
      silent: !toldToHost(ctx, policy, g),
    }));
  }
}

/**
 * Of the members a change added and removed, those the host is told about
 * (README "Provisioning policies"): users it knows (not held back or kept out
 * by the policy) and groups it syncs. Everyone, without a query, under a
 * policy that keeps nobody from the host.
 */
export async function forHost(trx: Tx, ctx: ScimContext, policy: CompiledPolicy, added: string[], removed: string[]): Promise<{ added: string[]; removed: string[] }> {
  if (!hidesMembers(policy) || (added.length === 0 && removed.length === 0)) return { added, removed };
  const visible = await groups.hostVisibleMembers(trx, ctx.tenant.id, [...added, ...removed]);
  const known = new Set([...visible.users, ...visible.groups.filter((g) => groupSynced(policy, g)).map((g) => g.id)]);
  return { added: added.filter((id) => known.has(id)), removed: removed.filter((id) => known.has(id)) };
}

/** Whether the host is told about a change of this group: not in a dry run, and only of groups it syncs. */
export const toldToHost = (ctx: ScimContext, policy: CompiledPolicy, group: StoredResource) => ctx.tenant.mode !== 'dryRun' && groupSynced(policy, group);

/** Whether a policy can keep users or groups from the host (so member events need filtering). */
export function hidesMembers(p: CompiledPolicy): boolean {
  const l = p.policy.lifecycle;
  return p.groups !== 'all' || p.include !== undefined || p.exclude !== undefined || p.startDate !== undefined || p.endDate !== undefined || l.onDeactivate === 'delete' || l.deleteInactiveAfterDays !== null;
}


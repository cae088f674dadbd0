/**
 * Groups (RFC 7643 §4.2, RFC 7644 §3.3–3.6). Like users, every write is one
 * transaction that locks the group row, writes the new version and records
 * the change for the outbox, or does nothing at all.
 *
 * Membership lives in group_members (src/db/groups.ts), never in the JSON:
 * - a write applies only the member delta it carries (PATCH add/remove touch
 *   the named rows; PUT and PATCH replace touch what differs);
 * - members being added must exist in the tenant (one set-based lookup):
 *   strict tenants get 400 invalidValue and nothing changes, lenient ones
 *   get the members that exist (resolveMembers);
 * - members are loaded only for a response that returns them, at most
 *   `memberLimit` per group and PAGE_MEMBER_BUDGET per page of groups,
 *   ordered by member id (see MEMBER_LIMIT);
 * - events carry the group without `members`, and the member ids that were
 *   added or removed.
 *
 * Decisions:
 * - PUT without `members` keeps the membership (RFC 7644 §3.5.1 lets a
 *   service provider treat omitted attributes as "not asserted"); `"members":
 *   []` empties the group. Clearing 100,000 memberships because a client left
 *   the attribute out is not a risk worth taking.
 * - A group cannot be its own member (400 invalidValue). Nested groups are
 *   otherwise allowed; membership is direct only (no transitive expansion).
 * - A member whose `type` says User but whose id is a Group (or the reverse)
 *   is 400 invalidValue for strict tenants; lenient ones store the true type.
 */
import { randomUUID } from 'node:crypto';
import * as groups from '../db/groups.js';
import type { Db, Tx } from '../db/index.js';
import { isForeignKeyViolation, isSerializationFailure } from '../db/errors.js';
import { fetchRows, countRows } from '../db/paging.js';
import { recordChange, recordMemberPatch, MEMBER_CHUNK } from '../events/record.js';
import { isMemberPatchConflict } from '../db/group-member-patch.js';
import { UUID_RE as UUID } from '../db/resources.js';
import { retrying } from './retry.js';
import { changeOf } from './changes.js';
import { changedPaths } from '../scim/diff.js';
import { notFound } from '../scim/errors.js';
import { RawJson } from '../scim/json.js';
import { applyPatch, type MemberDelta } from '../scim/patch.js';
import { parseETagList, type StoredResource } from '../scim/representation.js';
import { normalizeResource } from '../scim/resource.js';
import type { MemberRef } from '../scim/values.js';
import { groupResourceType as RT } from '../scim/schema.js';
import type { ScimContext } from './context.js';
import type { PolicyService } from './policies.js';
import type { CompiledPolicy } from '../policy/compiled.js';
import { pageOf, queryBinding, type ListRequest, type PageResult, type Segment } from './paging.js';
import { checkIfMatch } from './preconditions.js';
import { applyDelta, forHost, hidesMembers, idsAdded, locationOf, memberRefs, presentGroup, removeMemberships, replaces, resolveMembers, toldToHost } from './group-members.js';

export { presentGroup, removeMemberships } from './group-members.js';

/**
 * Most members returned for one group in any response (GET, list, search,
 * write responses). A larger group's `members` lists its first MEMBER_LIMIT
 * members by id; clients that need to know whether a particular user is a
 * member ask with a filter (`members[value eq "<id>"]`), which never loads
 * members at all.
 */
export const MEMBER_LIMIT = 10_000;

/**
 * Most members listed in all by one page of groups (GET /Groups, POST
 * /Groups/.search, the root /.search). Okta's group import asks for
 * `GET /Groups?startIndex=1&count=100` without excludedAttributes (fixture
 * test/fixtures/okta/scim20-retrieve-groups.json): at MEMBER_LIMIT each, a page
 * of large groups would be a million members. 27 groups of 40,000–100,000
 * members already made 44 MB of JSON and 457 MB of RSS, and a second such
 * request exhausted the chart's 256 MB heap (bench/README.md, "Large groups in
 * a list"). The groups of a page share this budget (memberShares): a group
 * whose members fit its share lists all of them, as it would alone, and the
 * larger ones share what the smaller ones leave.
 */
export const PAGE_MEMBER_BUDGET = 20_000;

/**
 * Each group's share of `budget` members, given how many each has: the
 * smallest groups first, each taking all its members or an equal share of what
 * is left, whichever is less (so shares differ only where groups are larger
 * than an equal share). A group with members always lists at least one.
 */
export function memberShares(counts: number[], budget: number): number[] {
  const out = counts.map(() => 0);
  const order = counts.map((_, i) => i).sort((a, b) => counts[a]! - counts[b]!);
  let left = budget;
  let groupsLeft = counts.length;
  for (const i of order) {
    const n = counts[i]!;
    const give = Math.min(n, Math.max(Math.floor(left / groupsLeft), n > 0 ? 1 : 0));
    out[i] = give;
    left = Math.max(0, left - give);
    groupsLeft--;
  }
  return out;
}

export interface GroupResult {
  stored: StoredResource;
  /** Full SCIM representation (before projection); `members` only when they were asked for, as JSON text (RawJson) with membersAsJson. */
  scim: Record<string, unknown>;
}

/** Options of reads and writes that return the group. */
export interface ReadOptions {
  /** Load members for the response (default true). False when the projection leaves them out. */
  withMembers?: boolean;
  /**
   * Members as the response's JSON text (src/scim/json.ts RawJson), not
   * objects: for a response that sends them whole, as they are.
   */
  membersAsJson?: boolean;
}

const missing = (id: string) => notFound(`Group ${id} not found`);
/** A write's change computed on the group as read. */
type Change = (current: StoredResource) => { resource: Record<string, unknown>; changed: string[]; members?: MemberDelta | undefined };

/** Whether a member delta names its members one by one (rather than replacing the whole membership). */
const incremental = (d: MemberDelta | undefined): d is MemberDelta => d !== undefined && d.replaceWith === undefined && d.removeAll !== true;

/** The versions an If-Match header accepts (RFC 7644 §3.14); undefined when it accepts any or is absent. */
function ifMatchVersions(ifMatch: string | undefined): number[] | undefined {
  if (ifMatch === undefined) return undefined;
  const { any, versions } = parseETagList(ifMatch);
  return any ? undefined : versions;
}

/** applyDelta before the group is locked: a group deleted since it was read fails the members' foreign key, which is a 404. */
async function applyEarly(trx: Tx, tenantId: string, id: string, delta: MemberDelta, resolved: Parameters<typeof applyDelta>[4]): Promise<{ added: string[]; removed: string[] }> {
  try {
    return await applyDelta(trx, tenantId, id, delta, resolved);
  } catch (err) {
    if (isForeignKeyViolation(err)) throw missing(id);
    throw err;
  }
}

export class GroupService {
  readonly memberLimit: number;
  readonly pageMemberBudget: number;

  constructor(
    private readonly db: Db,
    private readonly policies: PolicyService,
    opts: { memberLimit?: number; pageMemberBudget?: number } = {},
  ) {
    this.memberLimit = opts.memberLimit ?? MEMBER_LIMIT;
    this.pageMemberBudget = opts.pageMemberBudget ?? PAGE_MEMBER_BUDGET;
  }

  location(ctx: ScimContext, id: string): string {
    return locationOf(ctx, 'Group', id);
  }

  async #withMembers(ctx: ScimContext, stored: StoredResource[], opts: ReadOptions): Promise<GroupResult[]> {
    if (opts.withMembers === false || stored.length === 0) return stored.map((s) => ({ stored: s, scim: presentGroup(ctx, s) }));
    const ids = stored.map((s) => s.id);
    const limits = await this.#memberLimits(ctx, ids);
    if (opts.membersAsJson) {
      const json = await groups.memberJsonOfGroups(this.db, ctx.tenant.id, ids, limits, memberRefs(ctx));
      return stored.map((s) => {
        const text = json.get(s.id);
        return { stored: s, scim: presentGroup(ctx, s, text === undefined ? undefined : new RawJson(text)) };
      });
    }
    const members = await groups.membersOfGroups(this.db, ctx.tenant.id, ids, limits);
    return stored.map((s) => ({ stored: s, scim: presentGroup(ctx, s, members.get(s.id)) }));
  }

  /** How many members of each group a response lists: up to memberLimit for one group; a page of groups shares pageMemberBudget by how many each has. */
  async #memberLimits(ctx: ScimContext, ids: string[]): Promise<number | Map<string, number>> {
    if (ids.length === 1) return this.memberLimit;
    const counts = await groups.memberCounts(this.db, ctx.tenant.id, ids, this.memberLimit);
    const shares = memberShares(ids.map((id) => counts.get(id) ?? 0), Math.max(this.pageMemberBudget, this.memberLimit));
    return new Map(ids.map((id, i) => [id, shares[i]!]));
  }

  /** POST (RFC 7644 §3.3). */
  async create(ctx: ScimContext, body: unknown, opts: ReadOptions = {}): Promise<GroupResult> {
    const { resource, members = [] } = normalizeResource(RT, body, { mode: 'create', lenient: ctx.lenient });
    const id = randomUUID();
    const policy = await this.policies.compiled(ctx.tenant.id);
    const stored = await retrying(() =>
      this.db.transaction().execute(async (trx) => {
        const resolved = await resolveMembers(trx, ctx, id, members);
        const s = await groups.insertGroup(trx, ctx.tenant.id, id, resource, new Date());
        const added = await groups.addMembers(trx, ctx.tenant.id, id, resolved);
        const host = await forHost(trx, ctx, policy, added, []);
        await recordChange(trx, changeOf(ctx, 'Group', 'created', s, {
          changed: [],
          resource: presentGroup(ctx, s),
          membersAdded: host.added,
          membersRemoved: [],
          silent: !toldToHost(ctx, policy, s),
        }));
        return s;
      }),
    );
    return (await this.#withMembers(ctx, [stored], { ...opts, withMembers: (opts.withMembers ?? true) && members.length > 0 }))[0]!;
  }

  /**
   * GET one group. With `ifNoneMatch` matching the current version
   * (RFC 7644 §3.14) the result is `notModified` and members are not loaded.
   */
  async get(ctx: ScimContext, id: string, opts: ReadOptions & { ifNoneMatch?: string | undefined } = {}): Promise<GroupResult & { notModified: boolean }> {
    const stored = await groups.findGroup(this.db, ctx.tenant.id, id);
    if (!stored) throw missing(id);
    if (opts.ifNoneMatch) {
      const { any, versions } = parseETagList(opts.ifNoneMatch);
      if (any || versions.includes(stored.version)) return { stored, scim: presentGroup(ctx, stored), notModified: true };
    }
    const [r] = await this.#withMembers(ctx, [stored], opts);
    return { ...r!, notModified: false };
  }

  /** The query's groups as a paging segment (also used by the root search). */
  segment(ctx: ScimContext, q: Pick<ListRequest, 'filter' | 'sortBy' | 'descending'>): Segment {
    const listing = groups.groupListing(q);
    return {
      type: 'Group',
      count: (limit) => countRows(this.db, ctx.tenant.id, listing, limit),
      fetch: (w) => fetchRows(this.db, ctx.tenant.id, listing, w),
    };
  }

  /** Present groups read by a page, loading members only if asked (one query for the page). */
  present(ctx: ScimContext, stored: StoredResource[], opts: ReadOptions = {}): Promise<GroupResult[]> {
    return this.#withMembers(ctx, stored, opts);
  }

  /** GET /Groups and POST /Groups/.search: index or cursor paging (RFC 7644 §3.4.2, RFC 9865). */
  async list(ctx: ScimContext, q: ListRequest, opts: ReadOptions = {}): Promise<PageResult<GroupResult>> {
    const binding = queryBinding([ctx.tenant.id, 'Groups', q.filterText?.trim(), q.sortBy?.path, q.descending]);
    const page = await pageOf(this.db, ctx.tenant.id, [this.segment(ctx, q)], q, binding);
    return { ...page, items: await this.#withMembers(ctx, page.items.map((i) => i.stored), opts) };
  }

  /** PUT (RFC 7644 §3.5.1): replace the attributes; `members`, when given, becomes the membership. */
  async replace(ctx: ScimContext, id: string, body: unknown, ifMatch?: string, opts: ReadOptions = {}): Promise<GroupResult> {
    return this.#update(ctx, id, ifMatch, opts, (current) => {
      const { resource, members } = normalizeResource(RT, body, { mode: 'replace', existing: current.resource, lenient: ctx.lenient });
      const delta: MemberDelta | undefined = members ? { add: [], remove: [], removeAll: true, replaceWith: members } : undefined;
      return { resource, changed: changedPaths(current.resource, resource), members: delta };
    });
  }

  /** PATCH (RFC 7644 §3.5.2): all operations or none. */
  async patch(ctx: ScimContext, id: string, body: unknown, ifMatch?: string, opts: ReadOptions = {}): Promise<GroupResult> {
    return this.#update(ctx, id, ifMatch, opts, (current) => {
      const { resource, changed, members } = applyPatch(RT, current.resource, body, { lenient: ctx.lenient });
      return { resource, changed, members };
    });
  }

  /**
   * Add members (used by /Bulk to close circular references). Same checks,
   * locking and events as a PATCH add.
   */
  async addMembers(ctx: ScimContext, id: string, members: MemberRef[], opts: ReadOptions = {}): Promise<GroupResult> {
    return this.#update(ctx, id, undefined, opts, (current) => ({ resource: current.resource, changed: [], members: { add: members, remove: [] } }));
  }

  async #update(
    ctx: ScimContext,
    id: string,
    ifMatch: string | undefined,
    opts: ReadOptions,
    change: Change,
  ): Promise<GroupResult> {
    const policy = await this.policies.compiled(ctx.tenant.id);
    const alone = await this.#membersAlone(ctx, id, ifMatch, policy, change);
    if (alone) return (await this.#withMembers(ctx, [alone], opts))[0]!;
    const stored = await retrying(() =>
      this.db.transaction().execute(async (trx) => {
        // Compute the change on an unlocked read to learn which members it adds and lock those (members
        // before the group: see db/groups.ts).
        const before = await groups.findGroup(trx, ctx.tenant.id, id);
        if (!before) throw missing(id);
        checkIfMatch(before.version, ifMatch);
        const first = change(before);
        let resolved = await resolveMembers(trx, ctx, before.id, idsAdded(first.members), replaces(first.members));
        // Members named one by one (not a new membership as a whole) are added and removed before the group
        // is locked: the delta does not depend on the group's state, and the rows it touches queue concurrent
        // writers of the same member by themselves. A change of members alone then locks the group only with
        // its last statement (bumpGroupStatement), so concurrent PATCHes of one group wait for each other
        // just for that statement and the commit.
        const early = incremental(first.members) ? await applyEarly(trx, ctx.tenant.id, id, first.members, resolved) : undefined;
        if (early && first.changed.length === 0) {
          if (early.added.length === 0 && early.removed.length === 0) return before;
          const write = groups.bumpGroupStatement(before, ctx.tenant.id, new Date(), ifMatchVersions(ifMatch));
          const host = await forHost(trx, ctx, policy, early.added, early.removed);
          const version = await recordChange(trx, changeOf(ctx, 'Group', 'updated', write.stored, {
            changed: ['members'],
            resource: presentGroup(ctx, write.stored),
            membersAdded: host.added,
            membersRemoved: host.removed,
            silent: !toldToHost(ctx, policy, before),
          }), write);
          if (version !== null) return { ...write.stored, version };
          // Its attributes changed since `before`, or it is gone, or If-Match no longer holds: go on under the lock.
        }
        const current = await groups.findGroup(trx, ctx.tenant.id, id, { lock: 'noKeyUpdate' });
        if (!current) throw missing(id);
        checkIfMatch(current.version, ifMatch);
        let next = first;
        if (current.version !== before.version) {
          next = change(current);
          if (!early) {
            const known = new Set(resolved.map((m) => m.value));
            const more = idsAdded(next.members).filter((m) => !known.has(m.value.toLowerCase()));
            resolved = [...resolved, ...(await resolveMembers(trx, ctx, current.id, more, replaces(next.members) && resolved.length === 0))];
            const wanted = new Set(idsAdded(next.members).map((m) => m.value.toLowerCase()));
            resolved = resolved.filter((m) => wanted.has(m.value));
          }
        }
        const { added, removed } = early ?? (next.members ? await applyDelta(trx, ctx.tenant.id, id, next.members, resolved) : { added: [], removed: [] });
        const changed = added.length || removed.length ? [...next.changed, 'members'] : next.changed;
        // A write that changes nothing keeps the version and emits nothing.
        if (changed.length === 0) return current;
        // The new version and its events in one statement (the row is locked, so the version is known).
        const write = groups.updateGroupStatement(trx, current, ctx.tenant.id, next.resource, new Date());
        const s = write.stored;
        const host = await forHost(trx, ctx, policy, added, removed);
        await recordChange(trx, changeOf(ctx, 'Group', 'updated', s, {
          changed,
          resource: presentGroup(ctx, s),
          membersAdded: host.added,
          membersRemoved: host.removed,
          silent: !toldToHost(ctx, policy, s),
        }), write);
        return s;
      }),
    );
    return (await this.#withMembers(ctx, [stored], opts))[0]!;
  }

  /**
   * A change of named members alone (no attribute, not the whole membership, at most MEMBER_CHUNK added and
   * removed, a policy that hides no member from the host) as one statement (src/db/group-member-patch.ts).
   * Undefined when the change is not such, or the statement found that it cannot stand alone: the caller
   * then makes it in a transaction.
   */
  async #membersAlone(ctx: ScimContext, id: string, ifMatch: string | undefined, policy: CompiledPolicy, change: Change): Promise<StoredResource | undefined> {
    const before = await groups.findGroup(this.db, ctx.tenant.id, id);
    if (!before) throw missing(id);
    checkIfMatch(before.version, ifMatch);
    const first = change(before);
    const delta = first.members;
    if (first.changed.length > 0 || !incremental(delta) || hidesMembers(policy)) return undefined;
    const remove = [...new Set(delta.remove.map((v) => v.toLowerCase()).filter((v) => UUID.test(v)))];
    const named = new Set(idsAdded(delta).map((m) => m.value.toLowerCase()));
    if (named.size > MEMBER_CHUNK || remove.length > MEMBER_CHUNK || remove.some((v) => named.has(v))) return undefined;
    // Checked without locking: the statement locks them, and undoes itself if one is gone by then.
    const resolved = await resolveMembers(this.db, ctx, before.id, idsAdded(delta), false, false);
    const add = [...new Map(resolved.map((m) => [m.value, m])).values()];
    const at = new Date();
    const stored = { ...before, version: before.version + 1, lastModified: at };
    const record = changeOf(ctx, 'Group', 'updated', stored, {
      changed: ['members'],
      resource: null,
      membersAdded: add.map((m) => m.value),
      membersRemoved: remove,
      silent: !toldToHost(ctx, policy, before),
    });
    try {
      const r = await recordMemberPatch(this.db, record, { current: before, versions: ifMatchVersions(ifMatch), add, remove, at });
      return r.version === null ? before : { ...stored, version: r.version };
    } catch (err) {
      if (isForeignKeyViolation(err)) throw missing(id);
      // A deadlock victim (a concurrent deletion of a member, or a PUT of the group) goes the transaction's way, which retries.
      if (isMemberPatchConflict(err) || isSerializationFailure(err)) return undefined;
      throw err;
    }
  }

  /** DELETE (RFC 7644 §3.6): the group, its memberships, and its own membership in other groups. */
  async delete(ctx: ScimContext, id: string, ifMatch?: string): Promise<void> {
    const policy = await this.policies.compiled(ctx.tenant.id);
    await retrying(() =>
      this.db.transaction().execute(async (trx) => {
        const current = await groups.findGroup(trx, ctx.tenant.id, id, { lock: 'update' });
        if (!current) throw missing(id);
        checkIfMatch(current.version, ifMatch);
        await removeMemberships(trx, ctx, policy, current.id);
        await groups.deleteGroup(trx, ctx.tenant.id, current.id);
        await recordChange(trx, changeOf(ctx, 'Group', 'deleted', current, {
          changed: [],
          resource: null,
          silent: !toldToHost(ctx, policy, current),
        }));
      }),
    );
  }
}

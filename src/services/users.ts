/**
 * Users (RFC 7644 §3.3–3.6). Every write runs in one transaction that locks
 * the row it changes (no lost update between read and write), writes the new
 * version and records the change for the outbox, or does nothing at all.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';
import { isUniqueViolation } from '../db/errors.js';
import * as users from '../db/users.js';
import { plainUserEventType, recordChange } from '../events/record.js';
import { changeOf } from './changes.js';
import { changedPaths } from '../scim/diff.js';
import { conflict, notFound, ScimError } from '../scim/errors.js';
import { applyPatch } from '../scim/patch.js';
import { toScim, type StoredResource } from '../scim/representation.js';
import { normalizeResource } from '../scim/resource.js';
import { userResourceType as RT } from '../scim/schema.js';
import type { ScimContext } from './context.js';
import { checkIfMatch } from './preconditions.js';
import { retrying } from './retry.js';
import { removeMemberships } from './groups.js';
import { countRows, fetchRows } from '../db/paging.js';
import { resourceEvents } from '../db/outbox-feed.js';
import { insertTombstone, scheduleUser } from '../db/policies.js';
import { decideHost, frozenHost, policyOutcome, timeDriven } from './host.js';
import type { PolicyService } from './policies.js';
import type { GuardedUser, SafeguardService } from './safeguard.js';
import { pageOf, queryBinding, type ListRequest, type PagedItem, type PageResult, type Segment } from './paging.js';

export interface UserResult {
  stored: StoredResource;
  /** Full SCIM representation (before projection). */
  scim: Record<string, unknown>;
}

const missing = (id: string) => notFound(`User ${id} not found`);

/** A new user: the host has never heard of it. */
const ABSENT = { state: 'absent', inactiveSince: null } as const;

function duplicateUserName(err: unknown, userName: unknown): never {
  if (isUniqueViolation(err)) throw conflict(`userName "${String(userName)}" is already taken in this tenant`);
  throw err;
}

export class UserService {
  constructor(
    private readonly db: Db,
    private readonly policies: PolicyService,
    private readonly safeguard: SafeguardService,
  ) {}

  location(ctx: ScimContext, id: string): string {
    return `${ctx.baseUrl}/Users/${id}`;
  }

  present(ctx: ScimContext, stored: StoredResource, groups?: users.GroupRef[]): Record<string, unknown> {
    const derived = groups?.length
      ? { groups: groups.map((g) => ({ value: g.value, $ref: `${ctx.baseUrl}/Groups/${g.value}`, display: g.display, type: 'direct' })) }
      : {};
    return toScim(RT, stored, this.location(ctx, stored.id), derived);
  }

  async create(ctx: ScimContext, body: unknown): Promise<UserResult> {
    const { resource } = normalizeResource(RT, body, { mode: 'create', lenient: ctx.lenient });
    const policy = await this.policies.compiled(ctx.tenant.id);
    const now = new Date();
    const id = randomUUID();
    // What the host is told about the new user (README "Provisioning policies"); without a policy: user.created.
    const d = ctx.tenant.mode === 'dryRun' ? frozenHost(ABSENT) : decideHost(policy, { id, resource, created: now, lastModified: now }, ABSENT, { changed: false, now });
    const write = users.insertUserStatement(this.db, ctx.tenant.id, id, resource, now, d.facts);
    const stored = write.stored;
    // A new user is in no group: the event's representation is the response's too (events copy it, never change it).
    const scim = this.present(ctx, stored);
    const plain = changeOf(ctx, 'User', 'created', stored, { changed: [], resource: scim });
    const change = { ...plain, ...policyOutcome(d, plainUserEventType(plain)) };
    const seat = policy.policy.licenseCap !== null && d.to === 'active';
    if (!seat && !(d.next && timeDriven(policy))) {
      // The row and its user.created event in one statement (no BEGIN/COMMIT round trips).
      await recordChange(this.db, change, write).catch((err) => duplicateUserName(err, resource.userName));
      return { stored, scim };
    }
    await this.db
      .transaction()
      .execute(async (trx) => {
        await this.policies.account(trx, ctx.tenant.id, policy, d);
        await recordChange(trx, change, write);
        if (d.next) await scheduleUser(trx, ctx.tenant.id, id, d.next);
      })
      .catch((err) => this.#refused(ctx, err, resource.userName));
    return { stored, scim };
  }

  /** A write refused for the license cap tells the host once per crossing; every other error as it is. */
  async #refused(ctx: ScimContext, err: unknown, userName: unknown): Promise<never> {
    if (err instanceof ScimError && err.status === 403) await this.policies.capReached(ctx.tenant.id, ctx.actor);
    return duplicateUserName(err, userName);
  }

  async get(ctx: ScimContext, id: string, opts: { withGroups?: boolean } = {}): Promise<UserResult> {
    if (opts.withGroups === false) {
      const stored = await users.findUser(this.db, ctx.tenant.id, id);
      if (!stored) throw missing(id);
      return { stored, scim: this.present(ctx, stored) };
    }
    const found = await users.findUserWithGroups(this.db, ctx.tenant.id, id);
    if (!found) throw missing(id);
    return { stored: found.stored, scim: this.present(ctx, found.stored, found.groups) };
  }

  /** The user's events, newest first: what the host was told (or is held), for the console. */
  history(ctx: ScimContext, id: string, limit: number): ReturnType<typeof resourceEvents> {
    return resourceEvents(this.db, ctx.tenant.id, id, limit);
  }

  /** The query's users as a paging segment (also used by the root search). */
  segment(ctx: ScimContext, q: Pick<ListRequest, 'filter' | 'sortBy' | 'descending'>, opts: { withGroups?: boolean } = {}): Segment {
    const listing = users.userListing(q, opts);
    return {
      type: 'User',
      count: (limit) => countRows(this.db, ctx.tenant.id, listing, limit),
      fetch: (w) => fetchRows(this.db, ctx.tenant.id, listing, w),
    };
  }

  /** GET /Users and POST /Users/.search with index or cursor paging (RFC 7644 §3.4.2, RFC 9865). */
  async search(ctx: ScimContext, q: ListRequest, opts: { withGroups?: boolean } = {}): Promise<PageResult<UserResult>> {
    const binding = queryBinding([ctx.tenant.id, 'Users', q.filterText?.trim(), q.sortBy?.path, q.descending]);
    const withGroups = opts.withGroups !== false;
    const page = await pageOf(this.db, ctx.tenant.id, [this.segment(ctx, q, { withGroups })], q, binding);
    return { ...page, items: page.items.map((i) => ({ stored: i.stored, scim: this.presentRow(ctx, i) })) };
  }

  /** A user read by a page (segment); its groups came with the row when the segment selected them (withGroups). */
  presentRow(ctx: ScimContext, item: PagedItem): Record<string, unknown> {
    return this.present(ctx, item.stored, users.groupsWithRow(item.extra));
  }

  /** PUT: replace every writable attribute (RFC 7644 §3.5.1). */
  async replace(ctx: ScimContext, id: string, body: unknown, ifMatch?: string): Promise<UserResult> {
    return this.#update(ctx, id, ifMatch, (current) => {
      const { resource } = normalizeResource(RT, body, {
        mode: 'replace',
        existing: current.resource,
        lenient: ctx.lenient,
      });
      return { resource, changed: changedPaths(current.resource, resource) };
    });
  }

  /** PATCH (RFC 7644 §3.5.2): all operations or none. */
  async patch(ctx: ScimContext, id: string, body: unknown, ifMatch?: string): Promise<UserResult> {
    return this.#update(ctx, id, ifMatch, (current) => {
      const { resource, changed } = applyPatch(RT, current.resource, body, { lenient: ctx.lenient });
      return { resource, changed };
    });
  }

  async #update(
    ctx: ScimContext,
    id: string,
    ifMatch: string | undefined,
    change: (current: StoredResource) => { resource: Record<string, unknown>; changed: string[] },
  ): Promise<UserResult> {
    let next: Record<string, unknown> | undefined;
    let groups: users.GroupRef[] | undefined;
    const policy = await this.policies.compiled(ctx.tenant.id);
    const stored = await retrying(() => this.db
      .transaction()
      .execute(async (trx) => {
        // The user's groups (readOnly, not changed by this write) come with the locked row.
        const found = await users.findUserWithGroups(trx, ctx.tenant.id, id, { lock: 'update' });
        if (!found) throw missing(id);
        const current = found.stored;
        groups = found.groups;
        checkIfMatch(current.version, ifMatch);
        const { resource, changed } = change(current);
        next = resource;
        // A write that changes nothing keeps the version and emits nothing.
        if (changed.length === 0) return current;
        const now = new Date();
        const decided = ctx.tenant.mode === 'dryRun' ? frozenHost(found.host) : decideHost(policy, { id: current.id, resource, created: current.created, lastModified: now }, found.host, { changed: true, now });
        const { d, heldBy } = await this.safeguard.guard(trx, ctx.tenant.id, policy, guarded(current, resource, found), decided, ctx);
        await this.policies.account(trx, ctx.tenant.id, policy, d);
        // The new version and its event in one statement (the row is locked, so the version is known).
        const write = users.updateUserStatement(trx, current, ctx.tenant.id, resource, now, d.facts);
        const s = write.stored;
        const plain = changeOf(ctx, 'User', 'updated', s, {
          changed,
          // A user the host learns of now comes with its groups, as its memberships were never sent.
          resource: d.event === 'user.created' ? this.present(ctx, s, groups) : this.present(ctx, s),
          activeBefore: typeof current.resource.active === 'boolean' ? current.resource.active : null,
          link: found.link,
        });
        await recordChange(trx, { ...plain, ...policyOutcome(d, plainUserEventType(plain)), heldBy }, write);
        if (timeDriven(policy)) await scheduleUser(trx, ctx.tenant.id, s.id, d.next);
        return s;
      }))
      .catch((err) => this.#refused(ctx, err, next?.userName));
    return { stored, scim: this.present(ctx, stored, groups) };
  }

  /**
   * DELETE (RFC 7644 §3.6): the user and its memberships go together. What
   * the host is told follows lifecycle.onDelete: user.deleted, or
   * user.deactivated and a tombstone kept until the purge (src/db/policies.ts).
   */
  async delete(ctx: ScimContext, id: string, ifMatch?: string): Promise<void> {
    const policy = await this.policies.compiled(ctx.tenant.id);
    await retrying(() => this.db.transaction().execute(async (trx) => {
      const found = await users.lockUser(trx, ctx.tenant.id, id);
      if (!found) throw missing(id);
      const current = found.stored;
      checkIfMatch(current.version, ifMatch);
      const now = new Date();
      const decided = ctx.tenant.mode === 'dryRun' ? frozenHost(found.host) : decideHost(policy, current, found.host, { changed: false, deletedAt: now, now });
      const { d, heldBy } = await this.safeguard.guard(trx, ctx.tenant.id, policy, guarded(current, { active: false }, found), decided, ctx);
      await this.policies.account(trx, ctx.tenant.id, policy, d);
      await removeMemberships(trx, ctx, policy, current.id, { tellHost: heldBy === null });
      await users.deleteUser(trx, ctx.tenant.id, id);
      if (d.to !== 'absent') {
        await insertTombstone(trx, ctx.tenant.id, {
          userId: current.id,
          userName: String(current.resource.userName),
          externalId: typeof current.resource.externalId === 'string' ? current.resource.externalId : null,
          hostState: d.to,
          resource: this.present(ctx, current),
          version: current.version,
          deletedAt: now,
        });
      }
      if (timeDriven(policy) || d.next) await scheduleUser(trx, ctx.tenant.id, current.id, d.next);
      const plain = changeOf(ctx, 'User', 'deleted', current, { changed: [], resource: d.to === 'absent' ? null : this.present(ctx, current), link: found.link });
      await recordChange(trx, { ...plain, ...policyOutcome(d, plainUserEventType(plain)), heldBy });
    }));
  }
}

/** The user as the safeguard sees it (src/services/safeguard.ts): its row, and whether the IdP has it active after this write. */
function guarded(current: StoredResource, after: Record<string, unknown>, found: { host: users.HostFacts; hold: users.HoldMark }): GuardedUser {
  return {
    id: current.id,
    userName: String(current.resource.userName),
    externalId: typeof current.resource.externalId === 'string' ? current.resource.externalId : null,
    host: found.host,
    hold: found.hold,
    idpActive: after.active !== false,
  };
}

/**
 * Users (RFC 7644 §3.3–3.6). Every write runs in one transaction that locks
 * the row it changes (no lost update between read and write), writes the new
 * version and records the change for the outbox, or does nothing at all.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';
import { isUniqueViolation } from '../db/errors.js';
import * as users from '../db/users.js';
import { recordChange } from '../events/record.js';
import { changeOf } from './changes.js';
import { changedPaths } from '../scim/diff.js';
import { conflict, notFound } from '../scim/errors.js';
import { applyPatch } from '../scim/patch.js';
import { toScim, type StoredResource } from '../scim/representation.js';
import { normalizeResource } from '../scim/resource.js';
import { userResourceType as RT } from '../scim/schema.js';
import type { ScimContext } from './context.js';
import { checkIfMatch } from './preconditions.js';
import { removeMemberships } from './groups.js';
import { countRows, fetchRows } from '../db/paging.js';
import { pageOf, queryBinding, type ListRequest, type PagedItem, type PageResult, type Segment } from './paging.js';

export interface UserResult {
  stored: StoredResource;
  /** Full SCIM representation (before projection). */
  scim: Record<string, unknown>;
}

const missing = (id: string) => notFound(`User ${id} not found`);

function duplicateUserName(err: unknown, userName: unknown): never {
  if (isUniqueViolation(err)) throw conflict(`userName "${String(userName)}" is already taken in this tenant`);
  throw err;
}

export class UserService {
  constructor(private readonly db: Db) {}

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
    const write = users.insertUserStatement(this.db, ctx.tenant.id, randomUUID(), resource, new Date());
    const stored = write.stored;
    // A new user is in no group: the event's representation is the response's too (events copy it, never change it).
    const scim = this.present(ctx, stored);
    // The row and its user.created event in one statement (no BEGIN/COMMIT round trips).
    await recordChange(this.db, changeOf(ctx, 'User', 'created', stored, { changed: [], resource: scim }), write).catch((err) =>
      duplicateUserName(err, resource.userName),
    );
    return { stored, scim };
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

  /** The query's users as a paging segment (also used by the root search). */
  segment(ctx: ScimContext, q: Pick<ListRequest, 'filter' | 'sortBy' | 'descending'>, opts: { withGroups?: boolean } = {}): Segment {
    const listing = users.userListing(q, opts);
    return {
      type: 'User',
      count: () => countRows(this.db, ctx.tenant.id, listing),
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
    const stored = await this.db
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
        // The new version and its event in one statement (the row is locked, so the version is known).
        const write = users.updateUserStatement(trx, current, ctx.tenant.id, resource, new Date());
        const s = write.stored;
        await recordChange(trx, changeOf(ctx, 'User', 'updated', s, {
          changed,
          resource: this.present(ctx, s),
          activeBefore: typeof current.resource.active === 'boolean' ? current.resource.active : null,
        }), write);
        return s;
      })
      .catch((err) => duplicateUserName(err, next?.userName));
    return { stored, scim: this.present(ctx, stored, groups) };
  }

  /** DELETE (RFC 7644 §3.6): the user and its memberships go together. */
  async delete(ctx: ScimContext, id: string, ifMatch?: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const current = await users.findUser(trx, ctx.tenant.id, id, { lock: 'update' });
      if (!current) throw missing(id);
      checkIfMatch(current.version, ifMatch);
      await removeMemberships(trx, ctx, current.id);
      await users.deleteUser(trx, ctx.tenant.id, id);
      await recordChange(trx, changeOf(ctx, 'User', 'deleted', current, {
        changed: [],
        resource: null,
      }));
    });
  }
}

/**
 * Searching at the tenant root (RFC 7644 §3.4.2.1, §3.4.3: `GET /` and
 * `POST /.search`): one listing over Users and Groups.
 *
 * Decisions (the RFC leaves order and paging across types open):
 * - Results are Users first, then Groups. Each type is ordered by the
 *   request's sortBy when that attribute exists for it (displayName,
 *   externalId, meta.* exist for both), else by meta.created; ties by id.
 * - totalResults is the sum over both types. Index paging counts through
 *   Users, then Groups; cursor paging (RFC 9865) carries the resource type in
 *   the cursor, so a page may end in Users and the next begin in Groups.
 * - A filter applies to the resource types in whose schemas every attribute
 *   it names exists: `userName eq "bjensen"` searches Users only,
 *   `displayName sw "A"` both. A filter no type understands is 400
 *   invalidFilter. (A filter that mixes a Users-only and a Groups-only
 *   attribute with `or` therefore matches neither type.)
 */
import type { Db } from '../db/index.js';
import type { ResolvedAttr } from '../scim/attributes.js';
import type { ValidatedFilter } from '../scim/filter.js';
import type { ScimContext } from './context.js';
import type { GroupService } from './groups.js';
import { pageOf, queryBinding, type PageRequest, type PageResult, type Segment } from './paging.js';
import type { UserService } from './users.js';

export type RootType = 'User' | 'Group';

/** What to search in one resource type; a type left out is not searched. */
export interface TypeQuery {
  filter?: ValidatedFilter | undefined;
  sortBy?: ResolvedAttr | undefined;
}

export interface RootQuery extends PageRequest {
  types: Partial<Record<RootType, TypeQuery>>;
  /** filter and sortBy as sent (cursors are bound to them). */
  filterText?: string | undefined;
  sortByText?: string | undefined;
  descending: boolean;
}

export interface RootItem {
  type: RootType;
  scim: Record<string, unknown>;
}

const EMPTY = (type: RootType): Segment => ({ type, count: async () => 0, fetch: async () => [] });

export class SearchService {
  constructor(
    private readonly db: Db,
    private readonly users: UserService,
    private readonly groups: GroupService,
  ) {}

  async search(ctx: ScimContext, q: RootQuery, opts: { withGroups?: boolean; withMembers?: boolean } = {}): Promise<PageResult<RootItem>> {
    const u = q.types.User;
    const g = q.types.Group;
    const segments = [
      u ? this.users.segment(ctx, { ...u, descending: q.descending }, { withGroups: opts.withGroups !== false }) : EMPTY('User'),
      g ? this.groups.segment(ctx, { ...g, descending: q.descending }) : EMPTY('Group'),
    ];
    const binding = queryBinding([ctx.tenant.id, 'root', q.filterText?.trim(), q.sortByText, q.descending]);
    const page = await pageOf(this.db, ctx.tenant.id, segments, q, binding);
    const users = page.items.filter((i) => i.type === 'User').map((i) => ({ scim: this.users.presentRow(ctx, i) }));
    const groups = await this.groups.present(ctx, page.items.filter((i) => i.type === 'Group').map((i) => i.stored), { withMembers: opts.withMembers });
    let ui = 0;
    let gi = 0;
    const items = page.items.map((i): RootItem => ({ type: i.type, scim: (i.type === 'User' ? users[ui++] : groups[gi++])!.scim }));
    return { ...page, items };
  }
}

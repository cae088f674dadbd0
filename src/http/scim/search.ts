/**
 * Searching at the tenant root: `GET /` and `POST /.search`
 * (RFC 7644 §3.4.2.1, §3.4.3) over Users and Groups. See
 * src/services/search.ts for how results of both types are ordered and paged.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { resolveAttrPath, type ResolvedAttr } from '../../scim/attributes.js';
import { ScimError } from '../../scim/errors.js';
import { parseFilter, type ValidatedFilter } from '../../scim/filter.js';
import { parseAttributeList, project } from '../../scim/projection.js';
import { groupResourceType, userResourceType, type ResourceTypeDef } from '../../scim/schema.js';
import type { RootQuery, RootType, SearchService, TypeQuery } from '../../services/search.js';
import { parsePaging, parseSortOrder, stringParam, wants, type Limits, type Projection } from './list-params.js';
import { listResponse, searchParams } from './listing.js';
import { ListQuery, ScimBody, ScimListResponse } from './schemas.js';

type Raw = Record<string, unknown>;

const TYPES: [RootType, ResourceTypeDef][] = [
  ['User', userResourceType],
  ['Group', groupResourceType],
];

/**
 * Apply `parse` for each resource type; types for which it fails are left
 * out. When it fails for every type, the first failure is the answer.
 */
function perType<T>(parse: (rt: ResourceTypeDef) => T): Partial<Record<RootType, T>> {
  const out: Partial<Record<RootType, T>> = {};
  let first: unknown;
  for (const [name, rt] of TYPES) {
    try {
      out[name] = parse(rt);
    } catch (err) {
      if (!(err instanceof ScimError)) throw err;
      first ??= err;
    }
  }
  if (Object.keys(out).length === 0) throw first;
  return out;
}

/** attributes / excludedAttributes per type: each name must exist in at least one type and applies where it exists. */
function projectionPerType(raw: Raw): Record<RootType, Projection> {
  const lists = { attributes: stringParam(raw, 'attributes'), excludedAttributes: stringParam(raw, 'excludedAttributes') };
  const out: Record<RootType, Projection> = { User: { attributes: [], excludedAttributes: [] }, Group: { attributes: [], excludedAttributes: [] } };
  for (const key of ['attributes', 'excludedAttributes'] as const) {
    for (const name of (lists[key] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const found = perType((rt) => parseAttributeList(rt, name));
      for (const [type, attrs] of Object.entries(found) as [RootType, ResolvedAttr[]][]) out[type][key].push(...attrs);
    }
  }
  // `attributes` naming nothing of a type: that type returns only what is always returned (id, schemas, …).
  if (lists.attributes?.trim()) {
    for (const [type, rt] of TYPES) if (out[type].attributes.length === 0) out[type].attributes = parseAttributeList(rt, 'id');
  }
  return out;
}

export function parseRootParams(raw: Raw, limits: Limits): { query: RootQuery; projection: Record<RootType, Projection> } {
  const filterText = stringParam(raw, 'filter');
  const sortByText = stringParam(raw, 'sortBy');
  const hasFilter = filterText !== undefined && filterText.trim() !== '';
  const filters: Partial<Record<RootType, ValidatedFilter | undefined>> = hasFilter ? perType((rt) => parseFilter(filterText, rt)) : { User: undefined, Group: undefined };
  const sorts: Partial<Record<RootType, ResolvedAttr>> = sortByText ? perType((rt) => resolveAttrPath(rt, sortByText, 'invalidValue')) : {};
  const types: Partial<Record<RootType, TypeQuery>> = {};
  for (const [name] of TYPES) {
    if (!(name in filters)) continue;
    types[name] = { filter: filters[name], sortBy: sorts[name] };
  }
  return {
    query: { types, filterText, sortByText, descending: parseSortOrder(raw), ...parsePaging(raw, limits) },
    projection: projectionPerType(raw),
  };
}

export function rootSearchRoutes(app: FastifyInstance, deps: { search: SearchService; limits: Limits }): void {
  const { search, limits } = deps;
  const tags = ['SCIM search'];
  const RT: Record<RootType, ResourceTypeDef> = { User: userResourceType, Group: groupResourceType };

  const run = async (req: FastifyRequest, raw: Raw) => {
    const { query, projection } = parseRootParams(raw, limits);
    const page = await search.search(req.scim, query, {
      withGroups: wants(projection.User, 'groups'),
      withMembers: wants(projection.Group, 'members'),
    });
    return listResponse(page, page.items.map((i) => project(RT[i.type], i.scim, projection[i.type])));
  };

  app.get('/', { schema: { tags, summary: 'Query Users and Groups together (RFC 7644 §3.4.2.1)', querystring: ListQuery, response: { 200: ScimListResponse } } }, async (req: FastifyRequest<{ Querystring: Raw }>) =>
    run(req, req.query),
  );
  app.post('/.search', { schema: { tags, summary: 'Search Users and Groups together (RFC 7644 §3.4.3)', body: ScimBody, response: { 200: ScimListResponse } } }, async (req: FastifyRequest) =>
    run(req, searchParams(req.body, req.scim.lenient)),
  );
}

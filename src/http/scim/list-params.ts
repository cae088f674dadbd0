/**
 * Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3),
 * from a query string or a SearchRequest body, parsed into one shape.
 */
import { resolveAttrPath, type ResolvedAttr } from '../../scim/attributes.js';
import { badRequest } from '../../scim/errors.js';
import { parseFilter, type ValidatedFilter } from '../../scim/filter.js';
import { parseAttributeList } from '../../scim/projection.js';
import type { ResourceTypeDef } from '../../scim/schema.js';

export interface Projection {
  attributes: ResolvedAttr[];
  excludedAttributes: ResolvedAttr[];
}

export interface ListParams extends Projection {
  filter?: ValidatedFilter | undefined;
  sortBy?: ResolvedAttr | undefined;
  descending: boolean;
  startIndex: number;
  count: number;
}

export interface Limits {
  defaultPageSize: number;
  maxPageSize: number;
}

type Raw = Record<string, unknown>;

function intParam(raw: Raw, name: string): number | undefined {
  const v = raw[name];
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n)) throw badRequest('invalidValue', `${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

function stringParam(raw: Raw, name: string): string | undefined {
  const v = raw[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.map(String).join(',');
  if (typeof v !== 'string') throw badRequest('invalidValue', `${name} must be a string`);
  return v;
}

export function parseProjection(rt: ResourceTypeDef, raw: Raw): Projection {
  return {
    attributes: parseAttributeList(rt, stringParam(raw, 'attributes')),
    excludedAttributes: parseAttributeList(rt, stringParam(raw, 'excludedAttributes')),
  };
}

export function parseListParams(rt: ResourceTypeDef, raw: Raw, limits: Limits): ListParams {
  const filterText = stringParam(raw, 'filter');
  const sortByText = stringParam(raw, 'sortBy');
  const sortOrder = stringParam(raw, 'sortOrder');
  if (sortOrder !== undefined && !/^(ascending|descending)$/i.test(sortOrder)) {
    throw badRequest('invalidValue', `sortOrder must be "ascending" or "descending"`);
  }
  // §3.4.2.4: startIndex < 1 is interpreted as 1; a negative count as 0; count above the maximum is capped.
  const startIndex = Math.max(1, intParam(raw, 'startIndex') ?? 1);
  const count = Math.min(limits.maxPageSize, Math.max(0, intParam(raw, 'count') ?? limits.defaultPageSize));
  return {
    ...parseProjection(rt, raw),
    filter: filterText === undefined || filterText.trim() === '' ? undefined : parseFilter(filterText, rt),
    sortBy: sortByText ? resolveAttrPath(rt, sortByText, 'invalidValue') : undefined,
    descending: /^descending$/i.test(sortOrder ?? ''),
    startIndex,
    count,
  };
}

/** Whether the projection will return `path` (used to skip loading derived attributes nobody asked for). */
export function wants(p: Projection, path: string): boolean {
  const lower = path.toLowerCase();
  const named = (a: ResolvedAttr) => a.attribute.name.toLowerCase() === lower;
  if (p.excludedAttributes.some((a) => named(a) && !a.sub)) return false;
  return p.attributes.length === 0 || p.attributes.some(named);
}

/**
 * ListResponse bodies (RFC 7644 §3.4.2) and SearchRequest bodies
 * (RFC 7644 §3.4.3), shared by /Users, /Groups and the root search.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../../scim/errors.js';
import { LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA, type ResourceTypeDef } from '../../scim/schema.js';
import type { PageResult } from '../../services/paging.js';
import { patchAnswersNoContent } from '../../policy/settings.js';
import type { Projection } from './list-params.js';

/**
 * The ListResponse of one page. Index paging reports startIndex; cursor
 * paging (RFC 9865 §2) reports nextCursor (absent on the last page) and
 * previousCursor (absent on the first) instead.
 */
export function listResponse(page: PageResult<unknown>, resources: Record<string, unknown>[]): Record<string, unknown> {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    ...(page.totalResults !== undefined ? { totalResults: page.totalResults } : {}),
    ...(page.startIndex !== undefined ? { startIndex: page.startIndex } : {}),
    itemsPerPage: resources.length,
    ...(page.previousCursor !== undefined ? { previousCursor: page.previousCursor } : {}),
    ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
    Resources: resources,
  };
}

/**
 * A SearchRequest body (POST …/.search, RFC 7644 §3.4.3) as the same raw
 * parameters a query string gives. `schemas` must name the SearchRequest
 * message; tenants in lenient compatibility mode may leave it out.
 */
export function searchParams(body: unknown, lenient: boolean): Record<string, unknown> {
  if (body === undefined || body === null) {
    if (lenient) return {};
    throw badRequest('invalidSyntax', `A search request needs a SearchRequest body (RFC 7644 §3.4.3)`);
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalidSyntax', 'A SearchRequest body must be a JSON object (RFC 7644 §3.4.3)');
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) raw[k.toLowerCase() === 'schemas' ? 'schemas' : k] = v;
  const schemas = raw.schemas;
  const named = Array.isArray(schemas) && schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SEARCH_REQUEST_SCHEMA.toLowerCase());
  if (!named && !lenient) throw badRequest('invalidSyntax', `"schemas" must contain "${SEARCH_REQUEST_SCHEMA}" (RFC 7644 §3.4.3)`);
  for (const name of ['attributes', 'excludedAttributes']) {
    const v = raw[name];
    if (v !== undefined && !(typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')))) {
      throw badRequest('invalidValue', `"${name}" must be an array of attribute names (RFC 7644 §3.4.3)`);
    }
  }
  for (const name of ['filter', 'sortBy', 'sortOrder', 'cursor']) {
    const v = raw[name];
    if (v !== undefined && v !== null && typeof v !== 'string') throw badRequest('invalidValue', `"${name}" must be a string (RFC 7644 §3.4.3)`);
    if (v === null) delete raw[name];
  }
  for (const name of ['startIndex', 'count']) {
    const v = raw[name];
    if (v === null) delete raw[name];
  }
  return raw;
}

/**
 * Whether a successful PATCH answers 204 No Content rather than 200 with the
 * resource (RFC 7644 §3.5.2 allows both), in this order:
 * 1. `attributes` or `excludedAttributes` on the request URL: 200 with the
 *    resource so shaped. RFC 7644 §3.5.2: "The server MUST return a 200 OK if
 *    the attributes parameter is specified in the request"; excludedAttributes
 *    asks for a shaped body just the same.
 * 2. `Prefer: return=minimal` (204) or `Prefer: return=representation` (200),
 *    RFC 7240 §4.2.
 * 3. The tenant's `patchResponse` setting for this resource type
 *    (patchAnswersNoContent in src/policy/settings.ts).
 * Returns the preference applied, for the Preference-Applied header: none
 * when the attributes parameter overrode `return=minimal`.
 */
export function patchNoContent(req: FastifyRequest, rt: ResourceTypeDef, p: Projection): { noContent: boolean; applied?: string } {
  const prefer = String(req.headers.prefer ?? '').toLowerCase();
  const m = /(?:^|[,;\s])return\s*=\s*"?(minimal|representation)"?/.exec(prefer);
  if (p.attributes.length > 0 || p.excludedAttributes.length > 0) {
    return m?.[1] === 'representation' ? { noContent: false, applied: 'return=representation' } : { noContent: false };
  }
  if (m) return { noContent: m[1] === 'minimal', applied: `return=${m[1]}` };
  return { noContent: patchAnswersNoContent(req.scim.settings, rt.name) };
}

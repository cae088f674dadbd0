/** /Users routes (RFC 7644 §3.3–3.6). Thin: parse, call the service, project, reply. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { project } from '../../scim/projection.js';
import { userResourceType as RT } from '../../scim/schema.js';
import type { UserResult, UserService } from '../../services/users.js';
import { etagOf, parseETagList } from '../../scim/representation.js';
import { parseListParams, parseProjection, wants, type Limits, type ListParams, type Projection } from './list-params.js';
import { listResponse, patchNoContent, searchParams } from './listing.js';
import { IdParams, ListQuery, ScimBody, ScimResourceResponse, ScimListResponse, ProjectionQuery } from './schemas.js';

type Req = FastifyRequest<{ Params: { tenant: string; id: string }; Querystring: Record<string, unknown> }>;

export function userRoutes(app: FastifyInstance, deps: { users: UserService; limits: Limits }): void {
  const { users, limits } = deps;

  const reply1 = (req: FastifyRequest, reply: FastifyReply, r: UserResult, p: Projection, status = 200) => {
    reply.header('etag', etagOf(r.stored.version));
    if (status === 201) reply.header('location', r.scim.meta && (r.scim.meta as { location: string }).location);
    return reply.code(status).send(project(RT, r.scim, p));
  };

  const list = async (req: FastifyRequest, params: ListParams) => {
    const page = await users.search(req.scim, params, { withGroups: wants(params, 'groups') });
    return listResponse(page, page.items.map((r) => project(RT, r.scim, params)));
  };

  app.get('/Users', { schema: { tags: ['SCIM Users'], summary: 'List and filter users (index or cursor paging)', querystring: ListQuery, response: { 200: ScimListResponse } } }, async (req: Req) =>
    list(req, parseListParams(RT, req.query, limits)),
  );

  app.post('/Users/.search', { schema: { tags: ['SCIM Users'], summary: 'Search users with a SearchRequest body (RFC 7644 §3.4.3)', body: ScimBody, response: { 200: ScimListResponse } } }, async (req: Req) =>
    list(req, parseListParams(RT, searchParams(req.body, req.scim.lenient), limits)),
  );

  app.post('/Users', { schema: { tags: ['SCIM Users'], summary: 'Create a user', querystring: ProjectionQuery, body: ScimBody, response: { 201: ScimResourceResponse } } }, async (req: Req, reply) => {
    const p = parseProjection(RT, req.query);
    return reply1(req, reply, await users.create(req.scim, req.body), p, 201);
  });

  app.get('/Users/:id', { schema: { tags: ['SCIM Users'], summary: 'Get a user', params: IdParams, querystring: ProjectionQuery, response: { 200: ScimResourceResponse } } }, async (req: Req, reply) => {
    const p = parseProjection(RT, req.query);
    const r = await users.get(req.scim, req.params.id, { withGroups: wants(p, 'groups') });
    // RFC 7644 §3.14: If-None-Match on GET answers 304 when the version is current.
    const inm = req.headers['if-none-match'];
    if (inm) {
      const { any, versions } = parseETagList(inm);
      if (any || versions.includes(r.stored.version)) return reply.code(304).header('etag', etagOf(r.stored.version)).send();
    }
    return reply1(req, reply, r, p);
  });

  app.put('/Users/:id', { schema: { tags: ['SCIM Users'], summary: 'Replace a user', params: IdParams, querystring: ProjectionQuery, body: ScimBody, response: { 200: ScimResourceResponse } } }, async (req: Req, reply) => {
    const p = parseProjection(RT, req.query);
    return reply1(req, reply, await users.replace(req.scim, req.params.id, req.body, req.headers['if-match']), p);
  });

  app.patch('/Users/:id', { schema: { tags: ['SCIM Users'], summary: 'Modify a user (PatchOp)', params: IdParams, querystring: ProjectionQuery, body: ScimBody, response: { 200: ScimResourceResponse, 204: { type: 'null', description: 'No Content: Prefer: return=minimal, or tenant setting patchResponse=noContent (patchResponse=auto, the default, answers a User PATCH with 200); never when attributes or excludedAttributes is given' } } } }, async (req: Req, reply) => {
    const p = parseProjection(RT, req.query);
    const r = await users.patch(req.scim, req.params.id, req.body, req.headers['if-match']);
    const { noContent, applied } = patchNoContent(req, RT, p);
    if (applied) reply.header('preference-applied', applied);
    if (noContent) return reply.code(204).header('etag', etagOf(r.stored.version)).send();
    return reply1(req, reply, r, p);
  });

  app.delete('/Users/:id', { schema: { tags: ['SCIM Users'], summary: 'Delete a user', params: IdParams, response: { 204: { type: 'null', description: 'Deleted' } } } }, async (req: Req, reply) => {
    await users.delete(req.scim, req.params.id, req.headers['if-match']);
    return reply.code(204).send();
  });
}

/**
 * /Groups routes (RFC 7644 §3.3–3.6, §3.4.3). Thin: parse, call the service,
 * project, reply. Members are loaded only when the response returns them
 * (`attributes` / `excludedAttributes`, RFC 7644 §3.9).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { project } from '../../scim/projection.js';
import { etagOf } from '../../scim/representation.js';
import { groupResourceType as RT } from '../../scim/schema.js';
import type { GroupResult, GroupService } from '../../services/groups.js';
import { parseListParams, parseProjection, wants, wantsWhole, type Limits, type ListParams, type Projection } from './list-params.js';
import { listResponse, patchNoContent, searchParams } from './listing.js';
import { IdParams, ListQuery, ProjectionQuery, ScimBody, ScimListResponse, ScimResourceResponse } from './schemas.js';

type Req = FastifyRequest<{ Params: { tenant: string; id: string }; Querystring: Record<string, unknown> }>;

const tags = ['SCIM Groups'];

/** Members only when the response returns them; as the JSON text Postgres builds when it returns them whole. */
const memberReads = (p: Projection) => ({ withMembers: wants(p, 'members'), membersAsJson: wantsWhole(p, 'members') });

export function groupRoutes(app: FastifyInstance, deps: { groups: GroupService; limits: Limits }): void {
  const { groups, limits } = deps;

  const reply1 = (req: FastifyRequest, reply: FastifyReply, r: GroupResult, p: Projection, status = 200) => {
    reply.header('etag', etagOf(r.stored.version));
    if (status === 201) reply.header('location', groups.location(req.scim, r.stored.id));
    return reply.code(status).send(project(RT, r.scim, p));
  };

  const list = async (req: FastifyRequest, params: ListParams) => {
    const page = await groups.list(req.scim, params, memberReads(params));
    return listResponse(page, page.items.map((r) => project(RT, r.scim, params)));
  };

  app.get('/Groups', { schema: { tags, summary: 'List and filter groups (index or cursor paging)', querystring: ListQuery, response: { 200: ScimListResponse } } }, async (req: Req) =>
    list(req, parseListParams(RT, req.query, limits)),
  );

  app.post('/Groups/.search', { schema: { tags, summary: 'Search groups with a SearchRequest body (RFC 7644 §3.4.3)', body: ScimBody, response: { 200: ScimListResponse } } }, async (req: Req) =>
    list(req, parseListParams(RT, searchParams(req.body, req.scim.lenient), limits)),
  );

  app.post('/Groups', { schema: { tags, summary: 'Create a group', querystring: ProjectionQuery, body: ScimBody, response: { 201: ScimResourceResponse } } }, async (req: Req, reply) => {
    const p = parseProjection(RT, req.query);
    return reply1(req, reply, await groups.create(req.scim, req.body, memberReads(p)), p, 201);
  });

  app.get('/Groups/:id', { schema: { tags, summary: 'Get a group', params: IdParams, querystring: ProjectionQuery, response: { 200: ScimResourceResponse } } }, async (req: Req, reply) => {
    const p = parseProjection(RT, req.query);
    // RFC 7644 §3.14: If-None-Match on GET answers 304 when the version is current.
    const r = await groups.get(req.scim, req.params.id, { ...memberReads(p), ifNoneMatch: req.headers['if-none-match'] });
    if (r.notModified) return reply.code(304).header('etag', etagOf(r.stored.version)).send();
    return reply1(req, reply, r, p);
  });

  app.put('/Groups/:id', { schema: { tags, summary: 'Replace a group', params: IdParams, querystring: ProjectionQuery, body: ScimBody, response: { 200: ScimResourceResponse } } }, async (req: Req, reply) => {
    const p = parseProjection(RT, req.query);
    return reply1(req, reply, await groups.replace(req.scim, req.params.id, req.body, req.headers['if-match'], memberReads(p)), p);
  });

  app.patch(
    '/Groups/:id',
    {
      schema: {
        tags,
        summary: 'Modify a group (PatchOp); membership changes touch only the members named',
        params: IdParams,
        querystring: ProjectionQuery,
        body: ScimBody,
        response: { 200: ScimResourceResponse, 204: { type: 'null', description: 'No Content: Prefer: return=minimal, or tenant setting patchResponse=auto (the default) or noContent; never when attributes or excludedAttributes is given' } },
      },
    },
    async (req: Req, reply) => {
      const p = parseProjection(RT, req.query);
      const { noContent, applied } = patchNoContent(req, RT, p);
      const r = await groups.patch(req.scim, req.params.id, req.body, req.headers['if-match'], { ...memberReads(p), withMembers: !noContent && wants(p, 'members') });
      if (applied) reply.header('preference-applied', applied);
      if (noContent) return reply.code(204).header('etag', etagOf(r.stored.version)).send();
      return reply1(req, reply, r, p);
    },
  );

  app.delete('/Groups/:id', { schema: { tags, summary: 'Delete a group', params: IdParams, response: { 204: { type: 'null', description: 'Deleted' } } } }, async (req: Req, reply) => {
    await groups.delete(req.scim, req.params.id, req.headers['if-match']);
    return reply.code(204).send();
  });
}

/**
 * Discovery endpoints (RFC 7644 §4). Read-only: other methods get 405.
 */
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { ScimError, notFound } from '../../scim/errors.js';
import {
  discoveryResourceTypes,
  discoverySchemas,
  resourceTypeResource,
  schemaResource,
  serviceProviderConfig,
  type Features,
} from '../../scim/discovery.js';
import { LIST_RESPONSE_SCHEMA } from '../../scim/schema.js';
import { NameParams, ScimListResponse, ScimResourceResponse, TenantParams } from './schemas.js';

const list = (resources: Record<string, unknown>[]) => ({
  schemas: [LIST_RESPONSE_SCHEMA],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
});

type Req = FastifyRequest<{ Params: { tenant: string; name: string } }>;

export function discoveryRoutes(app: FastifyInstance, deps: { features: () => Features }): void {
  const tags = ['SCIM discovery'];
  const spc = async (req: Req) => serviceProviderConfig(req.scim.baseUrl, deps.features());
  app.get('/ServiceProviderConfig', { schema: { tags, summary: 'Service provider configuration', params: TenantParams, response: { 200: ScimResourceResponse } } }, spc);
  // Microsoft's SCIM validation collection for Entra ID (AzureAD/SCIMReferenceCode's
  // PostmanCollection.json, "Get ServiceProviderConfig") reads /serviceConfiguration, its
  // reference server's name for it. Lenient tenants answer it; strict ones 404 (RFC 7644 §4).
  app.get('/serviceConfiguration', { schema: { hide: true } as FastifySchema }, async (req: Req) => {
    if (!req.scim.lenient) throw notFound(`No endpoint GET ${req.url.split('?')[0]}`);
    return spc(req);
  });

  app.get('/Schemas', { schema: { tags, summary: 'Schemas', params: TenantParams, response: { 200: ScimListResponse } } }, async (req: Req) =>
    list(discoverySchemas.map((s) => schemaResource(s, req.scim.baseUrl))),
  );
  app.get('/Schemas/:name', { schema: { tags, summary: 'One schema by URN', params: NameParams, response: { 200: ScimResourceResponse } } }, async (req: Req) => {
    const s = discoverySchemas.find((x) => x.id.toLowerCase() === req.params.name.toLowerCase());
    if (!s) throw notFound(`Schema ${req.params.name} not found`);
    return schemaResource(s, req.scim.baseUrl);
  });

  app.get('/ResourceTypes', { schema: { tags, summary: 'Resource types', params: TenantParams, response: { 200: ScimListResponse } } }, async (req: Req) =>
    list(discoveryResourceTypes.map((rt) => resourceTypeResource(rt, req.scim.baseUrl))),
  );
  app.get('/ResourceTypes/:name', { schema: { tags, summary: 'One resource type', params: NameParams, response: { 200: ScimResourceResponse } } }, async (req: Req) => {
    const rt = discoveryResourceTypes.find((x) => x.name.toLowerCase() === req.params.name.toLowerCase());
    if (!rt) throw notFound(`ResourceType ${req.params.name} not found`);
    return resourceTypeResource(rt, req.scim.baseUrl);
  });

  // RFC 7644 §4: these endpoints are read-only.
  const readOnly = async (req: FastifyRequest) => {
    throw new ScimError(405, `${req.method} is not allowed on ${req.routeOptions.url}; discovery endpoints are read-only`, undefined, { allow: 'GET' });
  };
  // Answered before the body is parsed: Okta's SCIM 2.0 SPEC test POSTs the text "test" and expects 405.
  for (const url of ['/ServiceProviderConfig', '/Schemas', '/Schemas/:name', '/ResourceTypes', '/ResourceTypes/:name']) {
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url, schema: { hide: true } as FastifySchema, preParsing: readOnly, handler: readOnly });
  }
}

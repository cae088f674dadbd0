/**
 * Discovery documents (RFC 7644 §4, RFC 7643 §5–7) built from the same
 * schema data that drives validation, so they describe exactly what Roster
 * does.
 */
import {
  allSchemas,
  resourceTypes,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SPC_SCHEMA,
  type ResourceTypeDef,
  type SchemaDef,
} from './schema.js';

export interface Features {
  maxResults: number;
  bulk?: { maxOperations: number; maxPayloadSize: number } | undefined;
  /** RFC 9865 cursor pagination block, when supported. */
  pagination?: Record<string, unknown> | undefined;
  /** The OAuth 2.0 token endpoint (client credentials), when Roster issues access tokens. */
  tokenEndpoint?: string | undefined;
  /** Extra members, e.g. RFC 9967 event support. */
  extra?: Record<string, unknown> | undefined;
}

export function serviceProviderConfig(baseUrl: string, f: Features): Record<string, unknown> {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: 'https://github.com/roster-scim/roster#readme',
    patch: { supported: true },
    bulk: f.bulk ? { supported: true, ...f.bulk } : { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: f.maxResults },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    ...(f.pagination ? { pagination: f.pagination } : {}),
    authenticationSchemes: [
      {
        // RFC 7643 §5: every credential Roster accepts is presented as an RFC 6750 bearer token.
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: [
          'A bearer token (RFC 6750): a per-tenant SCIM token issued by the Roster admin API or CLI',
          f.tokenEndpoint ? `; an OAuth 2.0 access token from the client credentials grant (RFC 6749 §4.4) at ${f.tokenEndpoint}` : '',
          "; or a JWT from an issuer the tenant trusts. Each may carry the scopes scim:read and scim:write.",
        ].join(''),
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        documentationUri: 'https://github.com/roster-scim/roster#authentication',
        primary: true,
      },
    ],
    ...(f.extra ?? {}),
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function schemaResource(s: SchemaDef, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: s.attributes,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${s.id}` },
  };
}

export function resourceTypeResource(rt: ResourceTypeDef, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: rt.name,
    name: rt.name,
    endpoint: rt.endpoint,
    description: rt.description,
    schema: rt.schema,
    schemaExtensions: rt.schemaExtensions,
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${rt.name}` },
  };
}

export const discoverySchemas = allSchemas;
export const discoveryResourceTypes = resourceTypes;

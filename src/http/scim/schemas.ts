/**
 * TypeBox route schemas for the SCIM API. They document the routes in the
 * OpenAPI document; SCIM bodies are validated by the schema-driven core in
 * src/scim (which gives RFC 7644 error types), so bodies are open objects here.
 */
import { Type } from 'typebox';
import { CURSOR_COUNT_LIMIT } from '../../services/paging.js';

export const TenantParams = Type.Object({ tenant: Type.String({ description: 'Tenant id' }) });
export const IdParams = Type.Object({ tenant: Type.String({ description: 'Tenant id' }), id: Type.String({ description: 'Resource id' }) });
export const NameParams = Type.Object({ tenant: Type.String(), name: Type.String() });

export const ProjectionQuery = Type.Object(
  {
    attributes: Type.Optional(Type.String({ description: 'Comma-separated attributes to return (RFC 7644 §3.9)' })),
    excludedAttributes: Type.Optional(Type.String({ description: 'Comma-separated attributes to leave out (RFC 7644 §3.9)' })),
  },
  { additionalProperties: true },
);

export const ListQuery = Type.Object(
  {
    filter: Type.Optional(Type.String({ description: 'SCIM filter (RFC 7644 §3.4.2.2), e.g. userName eq "bjensen"' })),
    sortBy: Type.Optional(Type.String({ description: 'Attribute to sort by (RFC 7644 §3.4.2.3)' })),
    sortOrder: Type.Optional(Type.String({ description: 'ascending (default) or descending' })),
    startIndex: Type.Optional(Type.String({ description: '1-based index of the first result (RFC 7644 §3.4.2.4)' })),
    count: Type.Optional(Type.String({ description: 'Page size, capped at MAX_PAGE_SIZE (with cursor paging, larger is 400 invalidCount)' })),
    cursor: Type.Optional(Type.String({ description: 'Cursor paging (RFC 9865): empty for the first page, then a nextCursor or previousCursor value' })),
    attributes: Type.Optional(Type.String()),
    excludedAttributes: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const ScimBody = Type.Unsafe<unknown>({ description: 'SCIM JSON body (application/scim+json or application/json)' });

export const ScimResourceResponse = Type.Object({}, { additionalProperties: true, description: 'SCIM resource' });

export const ScimListResponse = Type.Object(
  {
    schemas: Type.Array(Type.String()),
    totalResults: Type.Optional(Type.Integer({ description: `Always on index pages (RFC 7644 §3.4.2); absent on cursor pages of more than ${CURSOR_COUNT_LIMIT.toLocaleString('en-US')} matches (RFC 9865 §2.2)` })),
    startIndex: Type.Optional(Type.Integer()),
    itemsPerPage: Type.Integer(),
    nextCursor: Type.Optional(Type.String({ description: 'RFC 9865: cursor of the next page; absent on the last page' })),
    previousCursor: Type.Optional(Type.String({ description: 'RFC 9865: cursor of the previous page; absent on the first page' })),
    Resources: Type.Array(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true, description: 'SCIM ListResponse (RFC 7644 §3.4.2)' },
);

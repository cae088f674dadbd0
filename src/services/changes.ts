/**
 * The ResourceChange a service records for a stored resource: who, which
 * resource, which version (src/events/record.ts). Callers add what the change
 * did (changed attributes, representation, members). The resource is noted
 * as touched by the request (its request-log entry lists it).
 */
import type { ResourceChange } from '../events/record.js';
import { etagOf, type StoredResource } from '../scim/representation.js';
import type { ScimContext } from './context.js';

type Detail = Omit<ResourceChange, 'tenantId' | 'resourceType' | 'action' | 'id' | 'externalId' | 'name' | 'version' | 'etag' | 'actor'>;

export function changeOf(
  ctx: ScimContext,
  resourceType: ResourceChange['resourceType'],
  action: ResourceChange['action'],
  stored: StoredResource,
  detail: Detail,
): ResourceChange {
  const r = stored.resource;
  ctx.touched.add(stored.id);
  return {
    tenantId: ctx.tenant.id,
    resourceType,
    action,
    id: stored.id,
    externalId: typeof r.externalId === 'string' ? r.externalId : null,
    name: String(resourceType === 'User' ? r.userName : r.displayName),
    version: stored.version,
    etag: etagOf(stored.version),
    actor: ctx.actor,
    ...detail,
  };
}

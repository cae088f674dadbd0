/**
 * What an endpoint receives for an event in the Standard Webhooks format:
 * `{type, timestamp, data}` (https://www.standardwebhooks.com, "Payload
 * structure"), `data.resource` projected to the endpoint's attributes.
 */
import { tryResolveAttrPath } from '../scim/attributes.js';
import { project } from '../scim/projection.js';
import { groupResourceType, userResourceType } from '../scim/schema.js';
import type { Endpoint, StoredEvent } from './types.js';

/** The event's resource as this endpoint should see it (undefined when the event carries none). */
export function resourceFor(event: StoredEvent, endpoint: Pick<Endpoint, 'attributes'>): Record<string, unknown> | undefined {
  if (!event.resource) return undefined;
  if (!endpoint.attributes || endpoint.attributes.length === 0) return event.resource;
  const rt = event.resourceType === 'User' ? userResourceType : groupResourceType;
  // One list serves users and groups: keep the paths this resource type has;
  // none left means the endpoint wants nothing beyond what is always returned (id).
  const mine = endpoint.attributes.filter((a) => tryResolveAttrPath(rt, a) !== undefined);
  return project(rt, event.resource, { attributes: mine.length ? mine : ['id'] });
}

export interface WebhookEnvelope {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export function webhookEnvelope(event: StoredEvent, endpoint: Pick<Endpoint, 'attributes'> | null): WebhookEnvelope {
  const envelope = (data: Record<string, unknown>) => ({ type: event.type, timestamp: event.occurredAt.toISOString(), data });
  // Fields in a fixed, readable order (the database keeps them in jsonb's own order); `actor` after what happened.
  if (event.data.resourceType === 'Tenant') {
    const { tenant, resourceType, id, sequence, actor, ...detail } = event.data;
    return envelope({ tenant, resourceType, id, sequence, ...detail, ...(actor ? { actor } : {}) });
  }
  const resource = endpoint ? resourceFor(event, endpoint) : (event.resource ?? undefined);
  const { tenant, resourceType, id, externalId, userName, displayName, sequence, version, etag, changed, members, actor, ...rest } = event.data;
  return envelope({
    tenant,
    resourceType,
    id,
    externalId,
    ...(userName !== undefined ? { userName } : {}),
    ...(displayName !== undefined ? { displayName } : {}),
    sequence,
    version,
    etag,
    changed,
    ...(members !== undefined ? { members } : {}),
    ...(actor ? { actor } : {}),
    ...rest,
    ...(resource ? { resource } : {}),
  });
}

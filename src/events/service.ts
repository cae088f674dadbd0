/**
 * Admin operations on webhook endpoints and events: what the admin routes
 * (src/http/admin/webhooks.ts, events.ts) call. Validation lives here so the
 * routes stay thin; every error is a ScimError.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';
import { eventDeliveries, feedPage, findEvent, sequenceFeed } from '../db/outbox-feed.js';
import { endpointHealth } from '../db/outbox-housekeeping.js';
import { enqueueRedelivery, enqueueReplay } from '../db/outbox-requeue.js';
import * as repo from '../db/webhooks.js';
import { tryResolveAttrPath } from '../scim/attributes.js';
import { badRequest, notFound } from '../scim/errors.js';
import { groupResourceType, userResourceType } from '../scim/schema.js';
import { checkPort, DestinationPolicy, type DestinationRules } from './destinations.js';
import { ed25519PublicKey, generateEd25519Secret, generateWebhookSecret } from './signing.js';
import { wakeDeliveryWorkers } from './notify.js';
import { webhookEnvelope } from './payload.js';
import { ENDPOINT_FORMATS, EVENT_TYPES, type DeliveryRecord, type Endpoint, type EndpointFormat, type EndpointHealth, type EventType, type StoredEvent } from './types.js';

export interface EndpointInput {
  url: string;
  description?: string | null;
  events?: string[] | null;
  format?: string;
  attributes?: string[] | null;
  /** Also sign with ed25519 (`v1a`); the response then carries the `whpk_` public key. */
  ed25519?: boolean;
}

export interface EndpointPatchInput {
  url?: string;
  description?: string | null;
  events?: string[] | null;
  attributes?: string[] | null;
  enabled?: boolean;
}

export interface FeedItem {
  /** The event id (`webhook-id` of its deliveries). */
  id: string;
  /** Resume after this item with `?after=<cursor>`. */
  cursor: string;
  type: EventType;
  timestamp: string;
  data: Record<string, unknown>;
}

export const MAX_FEED_PAGE = 1000;

function checkUrl(url: string, destinations: DestinationPolicy): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badRequest('invalidValue', `url ${JSON.stringify(url)} is not an absolute URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw badRequest('invalidValue', 'url must be http or https');
  if (u.username || u.password) throw badRequest('invalidValue', 'url must not carry credentials; receivers authenticate deliveries by their signature');
  // The host as written (names are checked again, resolved, at every delivery: src/events/http-client.ts).
  const v = destinations.checkHost(u.hostname);
  if (!v.allowed) throw badRequest('invalidValue', `url: ${v.reason}; webhooks are not sent there unless WEBHOOK_ALLOWED_CIDRS allows it`);
  const port = checkPort(u);
  if (!port.allowed) throw badRequest('invalidValue', `url: ${port.reason}`);
  return u.toString();
}

function checkEvents(events: string[] | null | undefined): EventType[] | null {
  if (events === undefined || events === null) return null;
  if (events.length === 0) throw badRequest('invalidValue', 'events must list at least one event type, or be omitted for all');
  const bad = events.filter((e) => !(EVENT_TYPES as readonly string[]).includes(e));
  if (bad.length) throw badRequest('invalidValue', `Unknown event type(s): ${bad.map((b) => JSON.stringify(b)).join(', ')}. The event types are: ${EVENT_TYPES.join(', ')}`);
  return [...new Set(events)] as EventType[];
}

function checkAttributes(attributes: string[] | null | undefined): string[] | null {
  if (attributes === undefined || attributes === null || attributes.length === 0) return null;
  for (const a of attributes) {
    if (!tryResolveAttrPath(userResourceType, a) && !tryResolveAttrPath(groupResourceType, a)) {
      throw badRequest('invalidValue', `attributes: "${a}" is not an attribute of User or Group`);
    }
  }
  return [...new Set(attributes)];
}

function checkFormat(format: string | undefined): EndpointFormat {
  if (format === undefined) return 'standard-webhooks';
  if (!(ENDPOINT_FORMATS as readonly string[]).includes(format)) throw badRequest('invalidValue', `format must be one of ${ENDPOINT_FORMATS.join(', ')}`);
  return format as EndpointFormat;
}

export class WebhookService {
  private readonly destinations: DestinationPolicy;

  constructor(
    private readonly db: Db,
    private readonly opts: { secretGraceSeconds: number; destinations?: DestinationRules },
  ) {
    this.destinations = new DestinationPolicy(opts.destinations);
  }

  private async tenant(tenantId: string): Promise<void> {
    if (!(await repo.tenantExists(this.db, tenantId))) throw notFound(`Tenant ${tenantId} not found`);
  }

  private async endpoint(tenantId: string, id: string): Promise<Endpoint> {
    await this.tenant(tenantId);
    const e = await repo.findEndpoint(this.db, tenantId, id);
    if (!e) throw notFound(`Webhook endpoint ${id} not found`);
    return e;
  }

  async create(tenantId: string, input: EndpointInput): Promise<{ endpoint: Endpoint; secret: string }> {
    await this.tenant(tenantId);
    const endpoint = await repo.insertEndpoint(this.db, {
      id: randomUUID(),
      tenantId,
      url: checkUrl(input.url, this.destinations),
      description: input.description ?? null,
      events: checkEvents(input.events),
      format: checkFormat(input.format),
      attributes: checkAttributes(input.attributes),
      secret: generateWebhookSecret(),
      ed25519Secret: input.ed25519 ? generateEd25519Secret() : null,
    });
    return { endpoint, secret: endpoint.secret };
  }

  async list(tenantId: string): Promise<Endpoint[]> {
    await this.tenant(tenantId);
    return repo.listEndpoints(this.db, tenantId);
  }

  get(tenantId: string, id: string): Promise<Endpoint> {
    return this.endpoint(tenantId, id);
  }

  async update(tenantId: string, id: string, patch: EndpointPatchInput): Promise<Endpoint> {
    await this.endpoint(tenantId, id);
    const e = await repo.updateEndpoint(this.db, tenantId, id, {
      ...(patch.url !== undefined ? { url: checkUrl(patch.url, this.destinations) } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.events !== undefined ? { events: checkEvents(patch.events) } : {}),
      ...(patch.attributes !== undefined ? { attributes: checkAttributes(patch.attributes) } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    });
    if (!e) throw notFound(`Webhook endpoint ${id} not found`);
    if (patch.enabled) wakeDeliveryWorkers();
    return e;
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.tenant(tenantId);
    if (!(await repo.deleteEndpoint(this.db, tenantId, id))) throw notFound(`Webhook endpoint ${id} not found`);
  }

  /** New secret (and ed25519 key, if the endpoint has one); the old ones keep signing for the grace period. */
  async rotateSecret(tenantId: string, id: string, opts: { graceSeconds?: number | undefined } = {}): Promise<{ endpoint: Endpoint; secret: string }> {
    const current = await this.endpoint(tenantId, id);
    const grace = opts.graceSeconds ?? this.opts.secretGraceSeconds;
    if (!Number.isInteger(grace) || grace < 0) throw badRequest('invalidValue', 'graceSeconds must be a whole number ≥ 0');
    const e = await repo.rotateEndpointSecret(this.db, tenantId, id, {
      secret: generateWebhookSecret(),
      ed25519Secret: current.ed25519Secret ? generateEd25519Secret() : null,
      graceUntil: new Date(Date.now() + grace * 1000),
    });
    if (!e) throw notFound(`Webhook endpoint ${id} not found`);
    return { endpoint: e, secret: e.secret };
  }

  /** Send again, in order, every subscribed event of [from, to) to this endpoint. */
  async replay(tenantId: string, id: string, range: { from: string; to?: string | undefined }): Promise<{ queued: number }> {
    const e = await this.endpoint(tenantId, id);
    const from = new Date(range.from);
    const to = range.to ? new Date(range.to) : new Date();
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw badRequest('invalidValue', 'from and to must be date-times (RFC 3339)');
    if (to <= from) throw badRequest('invalidValue', 'to must be after from');
    const queued = await enqueueReplay(this.db, e, from, to);
    if (queued) wakeDeliveryWorkers();
    return { queued };
  }

  async health(tenantId: string, id: string): Promise<{ endpoint: Endpoint; health: EndpointHealth }> {
    const e = await this.endpoint(tenantId, id);
    return { endpoint: e, health: await endpointHealth(this.db, id) };
  }
}

/** The public key receivers verify `v1a` signatures with, when the endpoint has one. */
export function endpointPublicKeys(e: Endpoint): { publicKey: string | null; previousPublicKey: string | null } {
  const inGrace = e.previousExpiresAt !== null && e.previousExpiresAt.getTime() > Date.now();
  return {
    publicKey: e.ed25519Secret ? ed25519PublicKey(e.ed25519Secret) : null,
    previousPublicKey: inGrace && e.previousEd25519Secret ? ed25519PublicKey(e.previousEd25519Secret) : null,
  };
}

export class EventService {
  constructor(private readonly db: Db) {}

  private async tenant(tenantId: string): Promise<void> {
    if (!(await repo.tenantExists(this.db, tenantId))) throw notFound(`Tenant ${tenantId} not found`);
  }

  /**
   * One page of the tenant's poll feed after `after` (a cursor from an earlier
   * page; absent = from the oldest retained event). `cursor` is where to
   * resume next time; it stays put when there is nothing new.
   */
  async feed(tenantId: string, q: { after?: string | undefined; limit?: number | undefined; types?: string[] | undefined }): Promise<{ events: FeedItem[]; cursor: string | null; hasMore: boolean }> {
    await this.tenant(tenantId);
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FEED_PAGE) throw badRequest('invalidValue', `limit must be an integer from 1 to ${MAX_FEED_PAGE}`);
    if (q.after !== undefined && !/^\d{1,18}$/.test(q.after)) throw badRequest('invalidValue', 'after must be a cursor returned by this feed');
    const types = q.types?.length ? checkEvents(q.types)! : undefined;
    await sequenceFeed(this.db);
    const after = BigInt(q.after ?? '0');
    const rows = await feedPage(this.db, tenantId, { after, limit: limit + 1, types });
    const page = rows.slice(0, limit);
    return {
      events: page.map(feedItem),
      cursor: page.length ? page[page.length - 1]!.position : (q.after ?? null),
      hasMore: rows.length > limit,
    };
  }

  async get(tenantId: string, uid: string): Promise<{ event: StoredEvent; deliveries: DeliveryRecord[] }> {
    await this.tenant(tenantId);
    const event = await findEvent(this.db, tenantId, uid);
    if (!event) throw notFound(`Event ${uid} not found`);
    return { event, deliveries: await eventDeliveries(this.db, event.id) };
  }

  /** Queue the event again for the given endpoints, or for every enabled endpoint subscribed to its type. */
  async redeliver(tenantId: string, uid: string, opts: { endpointIds?: string[] | undefined } = {}): Promise<{ queued: number; endpointIds: string[] }> {
    await this.tenant(tenantId);
    const event = await findEvent(this.db, tenantId, uid);
    if (!event) throw notFound(`Event ${uid} not found`);
    let endpoints: Endpoint[];
    if (opts.endpointIds?.length) {
      endpoints = await repo.findEndpointsByIds(this.db, tenantId, opts.endpointIds);
      const missing = opts.endpointIds.filter((id) => !endpoints.some((e) => e.id === id));
      if (missing.length) throw notFound(`Webhook endpoint(s) not found: ${missing.join(', ')}`);
    } else {
      endpoints = await repo.subscribedEndpoints(this.db, tenantId, event.type);
    }
    const ids = endpoints.map((e) => e.id);
    const queued = await enqueueRedelivery(this.db, [event.id], ids);
    if (queued) wakeDeliveryWorkers();
    return { queued, endpointIds: ids };
  }
}

export function feedItem(e: StoredEvent): FeedItem {
  const env = webhookEnvelope(e, null);
  return { id: e.uid, cursor: e.position ?? '', type: e.type, timestamp: env.timestamp, data: env.data };
}

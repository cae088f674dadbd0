/**
 * Domain shapes of provisioning events and webhook endpoints, shared by the
 * outbox repositories (src/db/outbox*.ts, src/db/webhooks.ts) and the delivery
 * code. No Kysely row type leaves src/db; these are what it returns.
 */
import type { Actor } from '../services/actor.js';

/** Events about a User or Group (README.md, "Event catalogue"). */
export const RESOURCE_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deactivated',
  'user.reactivated',
  'user.deleted',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.members.added',
  'group.members.removed',
] as const;

/** Events about the tenant itself (README.md, "Tenant events"), recorded with recordTenantEvent. */
export const TENANT_EVENT_TYPES = ['tenant.connected', 'tenant.license_limit_reached', 'tenant.mapping_incomplete', 'tenant.safeguard_triggered', 'tenant.webhook_disabled'] as const;
export type TenantEventType = (typeof TENANT_EVENT_TYPES)[number];

/** The event catalogue: every type an endpoint may subscribe to and the feed may carry. */
export const EVENT_TYPES = [...RESOURCE_EVENT_TYPES, ...TENANT_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What an event is about: a user, a group, or the tenant (resource id = the tenant id). */
export type EventResourceType = 'User' | 'Group' | 'Tenant';

export const ENDPOINT_FORMATS = ['standard-webhooks', 'set'] as const;
export type EndpointFormat = (typeof ENDPOINT_FORMATS)[number];

/**
 * `data` of the Standard Webhooks envelope as stored (the per-endpoint
 * projection of `resource` is added when sending).
 */
export type EventData = ResourceEventData | TenantEventData;

export interface ResourceEventData {
  tenant: string;
  resourceType: 'User' | 'Group';
  id: string;
  externalId: string | null;
  /** Users only. */
  userName?: string;
  /** Groups only. */
  displayName?: string;
  /** Per-resource event counter: 1, 2, 3… in the order the events happened. */
  sequence: number;
  /** Resource version after the change (meta.version is its weak ETag). */
  version: number;
  etag: string;
  /** Canonical attribute paths that changed (empty for created/deleted/members events). */
  changed: string[];
  /** group.members.added / group.members.removed: the member ids of this chunk. */
  members?: string[];
  /** User events decided by the provisioning policy: why (README.md, "Provisioning policies"). */
  reason?: string;
  /** The host's fields of the user (policy.mapping), when the policy maps any. */
  profile?: Record<string, unknown>;
  /** Mapped fields that yielded nothing for this user. */
  profileMissing?: string[];
  /** The host's own user this one was linked to at go-live, and how (README "Going live safely"). */
  link?: { hostUserId: string; matchedBy: 'externalId' | 'email' };
  /** Who caused the change (absent on events recorded before actors were). */
  actor?: Actor;
}

export interface TenantEventData {
  tenant: string;
  resourceType: 'Tenant';
  /** The tenant id. */
  id: string;
  /** Per-tenant counter of tenant events: 1, 2, 3… */
  sequence: number;
  actor?: Actor;
  /** What the event says, by type (tenant.connected: `client`). */
  [detail: string]: unknown;
}

/** An event about to be written (sequence and ids are assigned by the outbox). */
export interface NewEvent {
  uid: string;
  type: EventType;
  data: Omit<ResourceEventData, 'sequence'> | Omit<TenantEventData, 'sequence'>;
  resource: Record<string, unknown> | null;
}

export interface StoredEvent {
  /** Internal, ordered id (bigint as a decimal string). */
  id: string;
  /** Public id (`evt_…`): the `webhook-id` header, the SET `jti`. */
  uid: string;
  tenantId: string;
  /** Poll-feed position, null until the feed sequencer has seen the event. */
  position: string | null;
  type: EventType;
  resourceType: EventResourceType;
  resourceId: string;
  sequence: number;
  /** Id of the change (database transaction) the event came from: the SET `txn`. */
  txn: string;
  data: EventData;
  resource: Record<string, unknown> | null;
  occurredAt: Date;
}

export interface Endpoint {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  /** Event types delivered; null = all. */
  events: EventType[] | null;
  format: EndpointFormat;
  /** Attributes the resource is projected to; null = the default representation. */
  attributes: string[] | null;
  /** `whsec_…` */
  secret: string;
  previousSecret: string | null;
  /** `whsk_…` when ed25519 (`v1a`) signatures are on. */
  ed25519Secret: string | null;
  previousEd25519Secret: string | null;
  /** End of the rotation grace period during which the previous secret also signs. */
  previousExpiresAt: Date | null;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'dead';
export type AttemptOutcome = 'succeeded' | 'retry' | 'dead' | 'disabled';

export interface DeliveryAttempt {
  attemptedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  outcome: AttemptOutcome;
}

export interface DeliveryRecord {
  id: string;
  endpointId: string;
  reason: 'live' | 'replay' | 'redeliver';
  status: DeliveryStatus;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  attemptLog: DeliveryAttempt[];
}

export interface EndpointHealth {
  /** Attempts in the window and the share that succeeded (null when none). */
  windowHours: number;
  attempts: number;
  successRate: number | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  /** Pending deliveries and the age of the oldest one. */
  backlog: number;
  oldestPendingAgeSeconds: number | null;
  deadLettered: number;
}

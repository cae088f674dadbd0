/**
 * Row mapping shared by the outbox modules: events as stored (with the
 * columns a statement selects for them) and the endpoint a claimed delivery
 * goes to.
 */
import { sql } from 'kysely';
import type { EventData, EventType, StoredEvent, EventResourceType } from '../events/types.js';

export const str = (v: unknown): string => String(v);
export const num = (v: unknown): number => Number(v);
export const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
export const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export interface EventRow {
  id: unknown;
  uid: string;
  tenant_id: string;
  position: unknown;
  type: string;
  resource_type: EventResourceType;
  resource_id: string;
  seq: unknown;
  txn: string;
  data: unknown;
  resource: unknown;
  occurred_at: unknown;
}

export function eventFromRow(r: EventRow): StoredEvent {
  return {
    id: str(r.id),
    uid: r.uid,
    tenantId: r.tenant_id,
    position: r.position === null || r.position === undefined ? null : str(r.position),
    type: r.type as EventType,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    sequence: num(r.seq),
    txn: r.txn,
    data: json<EventData>(r.data),
    resource: r.resource === null ? null : json<Record<string, unknown>>(r.resource),
    occurredAt: date(r.occurred_at),
  };
}

export const EVENT_COLUMNS = sql`e.id, e.uid, e.tenant_id, e.position, e.type, e.resource_type, e.resource_id, e.seq, e.txn, e.data, e.resource, e.occurred_at`;
/** The endpoint a claimed delivery goes to, read in the same statement (alias w). */
export const ENDPOINT_COLUMNS = sql`w.id as w_id, w.tenant_id as w_tenant_id, w.url, w.description, w.events, w.format, w.attributes, w.secret,
  w.previous_secret, w.ed25519_secret, w.previous_ed25519_secret, w.previous_expires_at, w.enabled,
  w.disabled_reason, w.created_at, w.updated_at`;

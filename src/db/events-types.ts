/**
 * Kysely table types of the event outbox and webhook delivery (migration
 * 0002_events). Internal to src/db, like types.ts, which includes them in
 * `Database`.
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json = ColumnType<Record<string, unknown>, string, string>;
/** bigint columns come back as strings from pg and as numbers/bigints from PGlite; repositories normalise. */
type BigId = ColumnType<string | number | bigint, never, never>;

export interface EventsTable {
  id: BigId;
  uid: string;
  tenant_id: string;
  position: ColumnType<string | number | bigint | null, never, string | number | bigint>;
  type: string;
  resource_type: 'User' | 'Group' | 'Tenant';
  resource_id: string;
  seq: ColumnType<string | number | bigint, number | string, never>;
  txn: string;
  data: Json;
  resource: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  occurred_at: CreatedAt;
  actor: ColumnType<Record<string, unknown> | null, string | null | undefined, never>;
}

export interface EventSequencesTable {
  tenant_id: string;
  resource_id: string;
  last_seq: ColumnType<string | number | bigint, number, number>;
}

export interface WebhookEndpointsTable {
  id: string;
  tenant_id: string;
  url: string;
  description: string | null;
  events: string[] | null;
  format: 'standard-webhooks' | 'set';
  attributes: string[] | null;
  secret: string;
  previous_secret: string | null;
  ed25519_secret: string | null;
  previous_ed25519_secret: string | null;
  previous_expires_at: Timestamp | null;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface WebhookDeliveriesTable {
  id: BigId;
  event_id: ColumnType<string | number | bigint, string | number, never>;
  endpoint_id: string;
  resource_id: string;
  reason: Generated<'live' | 'replay' | 'redeliver'>;
  status: Generated<'pending' | 'succeeded' | 'dead'>;
  attempts: Generated<number>;
  last_status: number | null;
  last_error: string | null;
  created_at: CreatedAt;
  finished_at: Timestamp | null;
}

export interface WebhookQueuesTable {
  endpoint_id: string;
  resource_id: string;
  pending: Generated<number>;
  ready_at: Generated<Date>;
  claim_token: string | null;
}

export interface WebhookAttemptsTable {
  id: BigId;
  delivery_id: ColumnType<string | number | bigint, string | number, never>;
  endpoint_id: string;
  attempted_at: Timestamp;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  outcome: 'succeeded' | 'retry' | 'dead' | 'disabled';
}

export interface EventSigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: Json;
  public_jwk: Json;
  created_at: CreatedAt;
  retired_at: Timestamp | null;
}

export interface EventsDatabase {
  events: EventsTable;
  event_sequences: EventSequencesTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_queues: WebhookQueuesTable;
  webhook_attempts: WebhookAttemptsTable;
  event_signing_keys: EventSigningKeysTable;
}

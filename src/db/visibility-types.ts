/**
 * Kysely table types of the request log and the audit trail (migration
 * 0005_visibility). Internal to src/db, like types.ts, which includes them in
 * `Database`.
 */
import type { ColumnType, Generated } from 'kysely';

type BigId = ColumnType<string | number | bigint, never, never>;
type Json = ColumnType<Record<string, unknown>, string, string>;

export interface RequestLogTable {
  id: BigId;
  tenant_id: string;
  at: ColumnType<Date, Date | string, never>;
  request_id: string | null;
  actor: ColumnType<Record<string, unknown> | null, string | null, never>;
  token_prefix: string | null;
  user_agent: string | null;
  idp: string | null;
  method: string;
  path: string;
  filter: string | null;
  status: number;
  scim_type: string | null;
  detail: string | null;
  duration_ms: number;
  resource_ids: Generated<string[]>;
  summary: string | null;
  notes: Generated<string[]>;
  request_body: string | null;
  response_body: string | null;
}

export interface AuditLogTable {
  id: BigId;
  at: ColumnType<Date, Date | string, never>;
  tenant_id: string | null;
  actor: Json;
  action: string;
  target_type: string;
  target_id: string | null;
  request_id: string | null;
  details: Json;
}

export interface VisibilityDatabase {
  request_log: RequestLogTable;
  audit_log: AuditLogTable;
}

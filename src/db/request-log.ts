/**
 * The provisioning log (migration 0005_visibility): one row per SCIM request
 * of a tenant, written in batches by src/services/request-log.ts, read newest
 * first, pruned by age and to a row cap per tenant.
 */
import { sql, type Selectable } from 'kysely';
import type { Actor } from '../services/actor.js';
import type { Db } from './index.js';
import type { RequestLogTable } from './visibility-types.js';
import { dateOf, timelineOrder, timelineWhere, type TimelinePosition, type TimeRange } from './timeline.js';

export interface RequestLogEntry {
  tenantId: string;
  /** When the request arrived. */
  at: Date;
  requestId: string | null;
  /** The credential; null when authentication failed. */
  actor: Actor | null;
  /** Authentication failed: the start of the bearer token presented (if it was one of Roster's). */
  tokenPrefix: string | null;
  userAgent: string | null;
  idp: string | null;
  method: string;
  /** Path below the tenant's SCIM base URL, without the query: `/Users/2819c…`. */
  path: string;
  filter: string | null;
  status: number;
  scimType: string | null;
  detail: string | null;
  durationMs: number;
  resourceIds: string[];
  summary: string | null;
  notes: string[];
  requestBody: string | null;
  responseBody: string | null;
}

export interface StoredRequestLogEntry extends RequestLogEntry {
  id: string;
}

export interface RequestLogQuery extends TimeRange {
  tenantId: string;
  before?: TimelinePosition | undefined;
  limit: number;
  /** Inclusive status bounds (a class: 400–499; one code: 409–409). */
  status?: { min: number; max: number } | undefined;
  resourceId?: string | undefined;
  tokenId?: string | undefined;
}

/**
 * Write entries with one statement, whatever their number. Entries of a
 * tenant that does not exist (an unknown tenant's 401, a tenant deleted since)
 * are left out. Returns the number written.
 */
export async function insertRequestLog(db: Db, entries: RequestLogEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const rows = entries.map((e) => ({
    tenant_id: e.tenantId,
    at: e.at.toISOString(),
    request_id: e.requestId,
    actor: e.actor,
    token_prefix: e.tokenPrefix,
    user_agent: e.userAgent,
    idp: e.idp,
    method: e.method,
    path: e.path,
    filter: e.filter,
    status: e.status,
    scim_type: e.scimType,
    detail: e.detail,
    duration_ms: e.durationMs,
    resource_ids: e.resourceIds,
    summary: e.summary,
    notes: e.notes,
    request_body: e.requestBody,
    response_body: e.responseBody,
  }));
  const r = await sql`
    insert into request_log (tenant_id, at, request_id, actor, token_prefix, user_agent, idp, method, path, filter, status,
                             scim_type, detail, duration_ms, resource_ids, summary, notes, request_body, response_body)
    select r.tenant_id, r.at, r.request_id, r.actor, r.token_prefix, r.user_agent, r.idp, r.method, r.path, r.filter, r.status,
           r.scim_type, r.detail, r.duration_ms, coalesce(r.resource_ids, '{}'), r.summary, coalesce(r.notes, '{}'), r.request_body, r.response_body
    from json_to_recordset(${JSON.stringify(rows)}::json) as r(
      tenant_id text, at timestamptz, request_id text, actor jsonb, token_prefix text, user_agent text, idp text, method text, path text,
      filter text, status smallint, scim_type text, detail text, duration_ms real, resource_ids text[], summary text, notes text[],
      request_body text, response_body text)
    where exists (select 1 from tenants t where t.id = r.tenant_id)
    order by r.at`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

type Row = Selectable<RequestLogTable>;

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function entryOf(r: Row): StoredRequestLogEntry {
  return {
    id: String(r.id),
    tenantId: r.tenant_id,
    at: dateOf(r.at),
    requestId: r.request_id,
    actor: r.actor === null || r.actor === undefined ? null : json<Actor>(r.actor),
    tokenPrefix: r.token_prefix,
    userAgent: r.user_agent,
    idp: r.idp,
    method: r.method,
    path: r.path,
    filter: r.filter,
    status: Number(r.status),
    scimType: r.scim_type,
    detail: r.detail,
    durationMs: Number(r.duration_ms),
    resourceIds: r.resource_ids,
    summary: r.summary,
    notes: r.notes,
    requestBody: r.request_body,
    responseBody: r.response_body,
  };
}

/** One page, newest first. */
export async function listRequestLog(db: Db, q: RequestLogQuery): Promise<StoredRequestLogEntry[]> {
  const status = q.status ? sql`and l.status between ${q.status.min} and ${q.status.max}` : sql``;
  const resource = q.resourceId !== undefined ? sql`and l.resource_ids @> array[${q.resourceId}]::text[]` : sql``;
  const token = q.tokenId !== undefined ? sql`and l.actor ->> 'id' = ${q.tokenId}` : sql``;
  const r = await sql<Row>`
    select l.* from request_log l
    where l.tenant_id = ${q.tenantId} ${timelineWhere('l', q.before, q)} ${status} ${resource} ${token}
    ${timelineOrder('l')} limit ${q.limit}`.execute(db);
  return r.rows.map(entryOf);
}

/** Requests and errors (status ≥ 400) since a time, with the latest request (for the tenant's status). */
export async function requestActivity(db: Db, tenantId: string, since: Date): Promise<{ requests: number; errors: number; last: StoredRequestLogEntry | undefined }> {
  const c = await sql<{ requests: unknown; errors: unknown }>`
    select (select count(*) from request_log where tenant_id = ${tenantId} and at >= ${since.toISOString()}::timestamptz) as requests,
           (select count(*) from request_log where tenant_id = ${tenantId} and at >= ${since.toISOString()}::timestamptz and status >= 400) as errors`.execute(db);
  const [last] = await listRequestLog(db, { tenantId, limit: 1 });
  return { requests: Number(c.rows[0]!.requests), errors: Number(c.rows[0]!.errors), last };
}

/** Delete up to `batch` entries older than `days`, oldest first. Returns the number deleted. */
export async function pruneRequestLogByAge(db: Db, days: number, batch = 5000): Promise<number> {
  const r = await sql`
    delete from request_log where id in (
      select id from request_log where at < now() - make_interval(days => ${days}) order by at limit ${batch})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * Delete up to `batch` of a tenant's entries beyond its newest `keep`, oldest
 * first. Finding the boundary reads `keep` index entries of the tenant.
 */
export async function pruneRequestLogOverCap(db: Db, tenantId: string, keep: number, batch = 5000): Promise<number> {
  const r = await sql`
    delete from request_log where id in (
      select l.id from request_log l
      where l.tenant_id = ${tenantId}
        and (l.at, l.id) <= (select b.at, b.id from request_log b where b.tenant_id = ${tenantId} order by b.at desc, b.id desc offset ${keep} limit 1)
      order by l.at, l.id limit ${batch})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

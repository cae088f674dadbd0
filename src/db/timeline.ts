/**
 * Newest-first keyset paging over append-only logs (request_log, audit_log):
 * rows ordered by (at desc, id desc), a page continuing strictly before the
 * (at, id) of the previous page's last row. Both columns are set by Roster at
 * millisecond precision, so the position round-trips exactly through a
 * cursor; the (…, at, id) indexes are read backwards from it, whatever the
 * depth.
 */
import { sql, type RawBuilder } from 'kysely';

export interface TimelinePosition {
  at: Date;
  id: string;
}

export interface TimeRange {
  /** Inclusive. */
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
}

/** `and …` conditions of a page: before `position`, within `range` (alias-qualified columns). */
export function timelineWhere(alias: string, position: TimelinePosition | undefined, range: TimeRange): RawBuilder<unknown> {
  const at = sql.ref(`${alias}.at`);
  const id = sql.ref(`${alias}.id`);
  const parts: RawBuilder<unknown>[] = [];
  if (position) parts.push(sql`(${at}, ${id}) < (${position.at.toISOString()}::timestamptz, ${position.id}::bigint)`);
  if (range.from) parts.push(sql`${at} >= ${range.from.toISOString()}::timestamptz`);
  if (range.to) parts.push(sql`${at} < ${range.to.toISOString()}::timestamptz`);
  return parts.length ? sql`and ${sql.join(parts, sql` and `)}` : sql``;
}

export function timelineOrder(alias: string): RawBuilder<unknown> {
  return sql`order by ${sql.ref(`${alias}.at`)} desc, ${sql.ref(`${alias}.id`)} desc`;
}

export const dateOf = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

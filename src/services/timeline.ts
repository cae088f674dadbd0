/**
 * Paging parameters of the visibility listings (request log, audit trail,
 * deliveries), parsed once: `limit` (1–1000, default 100), `cursor` (opaque:
 * the `next` of the previous page), `from`/`to` (RFC 3339). Pages are newest
 * first; a page shorter than `limit` is the last (`next: null`).
 */
import type { TimelinePosition, TimeRange } from '../db/timeline.js';
import { badRequest } from '../scim/errors.js';

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

export interface PageQuery {
  limit?: string | undefined;
  cursor?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export function pageLimit(limit: string | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  const n = Number(limit);
  if (!/^\d+$/.test(limit) || n < 1 || n > MAX_PAGE) throw badRequest('invalidValue', `limit must be an integer from 1 to ${MAX_PAGE}`);
  return n;
}

export function timeRange(q: PageQuery): TimeRange {
  const date = (name: 'from' | 'to') => {
    const v = q[name];
    if (v === undefined) return undefined;
    const d = new Date(v);
    if (!/^\d{4}-\d\d-\d\dT/.test(v) || Number.isNaN(d.getTime())) throw badRequest('invalidValue', `${name} must be a date-time (RFC 3339), e.g. 2026-11-22T09:00:00Z`);
    return d;
  };
  const range = { from: date('from'), to: date('to') };
  if (range.from && range.to && range.to <= range.from) throw badRequest('invalidValue', 'to must be after from');
  return range;
}

const badCursor = () => badRequest('invalidValue', 'cursor must be the `next` value of an earlier page');

/** A (time, id) position as an opaque cursor. */
export function timelineCursor(p: TimelinePosition): string {
  return Buffer.from(`${p.at.getTime()}.${p.id}`).toString('base64url');
}

export function parseTimelineCursor(cursor: string | undefined): TimelinePosition | undefined {
  if (cursor === undefined) return undefined;
  const m = /^(\d{1,15})\.(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw badCursor();
  return { at: new Date(Number(m[1])), id: m[2]! };
}

/** An id position (deliveries) as an opaque cursor. */
export function idCursor(id: string): string {
  return Buffer.from(`d${id}`).toString('base64url');
}

export function parseIdCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const m = /^d(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw badCursor();
  return m[1];
}

/** A page of `limit` rows read as `limit + 1`: the rows, and the cursor of the next page if there is one. */
export function pageOf<T>(rows: T[], limit: number, cursorOf: (last: T) => string): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? cursorOf(items[items.length - 1]!) : null };
}

/**
 * Paging of list and search results: index paging (RFC 7644 §3.4.2.4) and
 * cursor paging (RFC 9865), over one resource type or several in a row (the
 * root /.search lists Users, then Groups).
 *
 * Cursors (RFC 9865 §2) are keyset positions, not server-side state: a cursor
 * names the last (nextCursor) or first (previousCursor) resource of the page
 * it came from, by its sort key and id, and the next page is read from the
 * index right after (or before) that position. Nothing is stored per cursor,
 * so cursors cost the server nothing and any replica can continue any of
 * them; a page costs the same at any depth (no OFFSET).
 *
 * A cursor is `<payload>.<mac>`, both base64url (RFC 3986 unreserved
 * characters only, as RFC 9865 §2 requires): the payload is JSON, the mac an
 * HMAC-SHA256 (truncated to 128 bits) under a key kept in the database
 * (server_secrets, shared by replicas). It is bound to the tenant, the
 * endpoint, the filter and the sort (a hash of them), and to the page size.
 *
 * Decisions:
 * - invalidCursor: anything not issued by Roster, altered, or presented with
 *   a different filter/sort/endpoint/tenant than the query it came from.
 * - expiredCursor: a cursor is valid for CURSOR_TIMEOUT_SECONDS after it was
 *   issued (advertised as `cursorTimeout`). Every page issues fresh cursors,
 *   so the limit is on the pause between two pages, not on a whole traversal.
 * - invalidCount: count must be an integer from 0 to maxPageSize in cursor
 *   paging (negative counts read as 0, RFC 9865 §2), and the same as the
 *   first page's on later pages; a later page that omits count uses the first
 *   page's. (Index paging keeps RFC 7644's rule: count is capped.)
 * - count=0 returns totalResults only, and no cursors.
 * - totalResults is counted for the first page and carried, signed, in the
 *   cursors (the per-type totals); later pages report that number instead of
 *   counting again. Counting is the one part of a page whose cost grows with
 *   the result (seconds for a million matching users), while the keyset read
 *   costs the same at any depth; a client walking the pages stops when
 *   nextCursor is absent (RFC 9865 §2), not on totalResults. So a traversal
 *   pays for one count, and a later page's totalResults is the first page's.
 * - Which totals are exact: an index page's always (RFC 7644 §3.4.2 makes
 *   totalResults REQUIRED). A cursor page's SHOULD be accurate, and a service
 *   provider unable to give it MAY omit it (RFC 9865 §2.2). So a cursor
 *   traversal counts at most CURSOR_COUNT_LIMIT matches of each resource type:
 *   beyond that its pages leave totalResults out, rather than the first page
 *   costing seconds. The
 *   counts users keep (no filter, `active eq …`, src/db/user-counts.ts) are
 *   exact at any size and cost nothing to read.
 * - Resources that change between pages are seen where they are now: a user
 *   renamed past the cursor shows up again later in a userName sort, one
 *   deleted is simply absent. No page ever repeats or skips a resource that
 *   did not change.
 *
 * Index paging is what IdPs use to read everything: Okta's import asks for
 * `/Users?startIndex=1&count=100`, then startIndex=101, 201, … (test fixture
 * test/fixtures/okta/scim20-retrieve-users.json). Read literally, startIndex is
 * an offset, and an offset costs in proportion to its depth: page 10,000 of a
 * million users reads and throws away 999,900 rows first, and every page
 * counts every match again, so reading a tenant costs O(N²) rows and N/100
 * counts. So Roster keeps where the index pages it served ended, in the
 * database (index_resume_points, shared by replicas: a load balancer may send
 * each page of a traversal to another one): when a request's startIndex is the
 * one right after a page served for the same query (tenant, endpoint, filter,
 * sort) in the last RESUME_TTL_SECONDS, the page is read by keyset from that
 * page's last row, as a cursor page is (the same cost at any depth), and its
 * totalResults is the one counted for the traversal when that count is at most
 * INDEX_COUNT_REUSE_SECONDS old. With no writes in between, the rows are
 * exactly those the offset gives. With writes in between, RFC 7644 §3.4.2.4
 * lets pages differ ("clients MUST be prepared to handle inconsistent
 * results"), and the keyset read is the better answer: a resource that did not
 * change is neither repeated nor skipped because others were created or
 * deleted before it. A page with no resume point (the
 * first page, a jump, a pause of more than ten minutes) is read by offset and
 * counted, as RFC 7644 describes.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/index.js';
import { findResumePoint, pruneResumePoints, saveResumePoint, type Position, type Row, type Window } from '../db/paging.js';
import { ensureSecret } from '../db/secrets.js';
import type { ResolvedAttr } from '../scim/attributes.js';
import { badRequest } from '../scim/errors.js';
import type { ValidatedFilter } from '../scim/filter.js';
import type { StoredResource } from '../scim/representation.js';

/** A cursor traversal whose matches are more than this reports no totalResults (RFC 9865 §2.2; head of this file). */
export const CURSOR_COUNT_LIMIT = 100_000;
/** A carried total meaning "more than CURSOR_COUNT_LIMIT: not counted". */
const UNCOUNTED = -1;

/** How long a cursor stays valid after the response that issued it (RFC 9865 §4 `cursorTimeout`). */
export const CURSOR_TIMEOUT_SECONDS = 3600;

/** How long a traversal of index pages reports the count made for it before counting again. */
export const INDEX_COUNT_REUSE_SECONDS = 60;
/** How long a resume point serves (an IdP reading a tenant asks for the next page within seconds). */
export const RESUME_TTL_SECONDS = 600;
/** How often a process deletes expired resume points. */
const PRUNE_EVERY_MS = 60_000;
const lastPrune = new WeakMap<Db, number>();

/** One resource type's part of a listing. */
export interface Segment {
  type: 'User' | 'Group';
  /** The number of matches; with `limit`, undefined when there are more and counting them all would cost (not a maintained count). */
  count(limit?: number): Promise<number | undefined>;
  fetch(w: Window): Promise<Row[]>;
}

/** What the client asked for, after parameter validation (src/http/scim/list-params.ts). */
export interface PageRequest {
  /** Page size: 0 to maxPageSize. */
  count: number;
  /** Whether the request gave `count` (a later cursor page may leave it out). */
  countGiven: boolean;
  /** Index paging: 1-based. */
  startIndex: number;
  /** Cursor paging when defined; '' asks for the first page. */
  cursor?: string | undefined;
}

/** A list or search request on one resource type. */
export interface ListRequest extends PageRequest {
  filter?: ValidatedFilter | undefined;
  /** The filter as sent, which a cursor is bound to. */
  filterText?: string | undefined;
  sortBy?: ResolvedAttr | undefined;
  descending: boolean;
}

export interface PageResult<T> {
  /** Absent only on cursor pages of more than CURSOR_COUNT_LIMIT matches. */
  totalResults?: number;
  items: T[];
  /** Index paging only. */
  startIndex?: number;
  nextCursor?: string;
  previousCursor?: string;
}

export interface PagedItem {
  /** Row.extra of the segment's fetch, when it selects one. */
  extra?: unknown;
  type: 'User' | 'Group';
  stored: StoredResource;
}

interface CursorPayload {
  v: 1;
  /** Hash of the query the cursor belongs to. */
  q: string;
  /** Page size. */
  c: number;
  /** Segment (resource type index) of the position. */
  s: number;
  /** Sort key text, or null. */
  k: string | null;
  /** Resource id. */
  i: string;
  /** 1: read backwards from the position (previousCursor). */
  b: 0 | 1;
  /** Issued at, epoch seconds. */
  t: number;
  /** Each segment's total as counted for the first page, UNCOUNTED past the limit (absent in cursors issued before it was added). */
  n?: number[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CURSOR_CHARS = /^[A-Za-z0-9._~-]*$/;

const invalidCursor = (detail: string) =>
  badRequest('invalidCursor', `${detail}. Request the first page with an empty cursor, then use the nextCursor or previousCursor values Roster returns (RFC 9865 §2)`);

const keys = new WeakMap<Db, Promise<Buffer>>();

function cursorKey(db: Db): Promise<Buffer> {
  let key = keys.get(db);
  if (!key) {
    key = ensureSecret(db, 'cursor-hmac', () => randomBytes(32).toString('base64url')).then((s) => Buffer.from(s, 'base64url'));
    // A failed load (database down) is retried on the next request.
    key.catch(() => keys.delete(db));
    keys.set(db, key);
  }
  return key;
}

/** A hash binding a cursor to its query: tenant, endpoint, filter, sort. */
export function queryBinding(parts: (string | boolean | undefined)[]): () => string {
  // Computed when a cursor is read or written, not for index pages (most list requests).
  let hash: string | undefined;
  return () => (hash ??= createHash('sha256').update(JSON.stringify(parts.map((p) => p ?? null))).digest('base64url').slice(0, 22));
}

function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url').slice(0, 22);
}

async function encodeCursor(db: Db, p: CursorPayload): Promise<string> {
  const payload = Buffer.from(JSON.stringify(p)).toString('base64url');
  return `${payload}.${mac(await cursorKey(db), payload)}`;
}

async function decodeCursor(db: Db, cursor: string, binding: string, req: PageRequest, now: number): Promise<CursorPayload> {
  if (!CURSOR_CHARS.test(cursor)) throw invalidCursor('The cursor has characters no Roster cursor has');
  const [payload, tag, extra] = cursor.split('.');
  if (!payload || !tag || extra !== undefined) throw invalidCursor('The cursor is malformed');
  const expected = Buffer.from(mac(await cursorKey(db), payload));
  const given = Buffer.from(tag);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalidCursor('The cursor was not issued by this service or was altered');
  let p: CursorPayload;
  try {
    p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as CursorPayload;
  } catch {
    throw invalidCursor('The cursor is malformed');
  }
  if (p?.v !== 1 || typeof p.i !== 'string' || !UUID.test(p.i) || !Number.isInteger(p.s) || !Number.isInteger(p.c) || !Number.isInteger(p.t)) {
    throw invalidCursor('The cursor is malformed');
  }
  if (p.q !== binding) {
    throw invalidCursor('The cursor belongs to a different query: repeat the first request\'s filter, sortBy and sortOrder on the same endpoint');
  }
  if (now - p.t > CURSOR_TIMEOUT_SECONDS) {
    throw badRequest('expiredCursor', `The cursor has expired: cursors are valid for ${CURSOR_TIMEOUT_SECONDS} seconds after the response that returned them (cursorTimeout); start again from the first page`);
  }
  if (req.countGiven && req.count !== p.c) {
    throw badRequest('invalidCount', `count must stay ${p.c} for every page of this query (RFC 9865 §2.1), got ${req.count}`);
  }
  return p;
}

/**
 * One page over `segments` (in that order), by index or by cursor.
 * `binding` is queryBinding() of what the cursor must be presented with.
 */
export async function pageOf(db: Db, tenantId: string, segments: Segment[], req: PageRequest, binding: () => string): Promise<PageResult<PagedItem>> {
  const now = Math.floor(Date.now() / 1000);
  // Validate the cursor before any counting work.
  const anchor = req.cursor ? await decodeCursor(db, req.cursor, binding(), req, now) : undefined;
  if (anchor && (anchor.s < 0 || anchor.s >= segments.length)) throw invalidCursor('The cursor is malformed');
  const count = anchor && !req.countGiven ? anchor.c : req.count;

  if (req.cursor === undefined && segments.length === 1 && count > 0) return indexPage(db, tenantId, segments[0]!, req.startIndex, count, binding);

  const carried = anchor?.n;
  const counted = !(carried && carried.length === segments.length && carried.every((n) => Number.isInteger(n) && n >= UNCOUNTED));
  const totals: number[] = counted ? [] : [...carried!];
  // Index pages and count=0 (which asks for the total alone) count exactly; cursor pages up to the limit.
  const limit = req.cursor !== undefined && count > 0 ? CURSOR_COUNT_LIMIT : undefined;
  if (counted) for (const s of segments) totals.push((await s.count(limit)) ?? UNCOUNTED);
  const totalResults = totals.includes(UNCOUNTED) ? undefined : totals.reduce((a, b) => a + b, 0);
  const item = (seg: number, r: Row) => ({ seg, row: r });

  if (req.cursor === undefined) {
    // Index paging across segments: skip whole segments by their counts.
    const items: PagedItem[] = [];
    let offset = req.startIndex - 1;
    for (let s = 0; s < segments.length && items.length < count; s++) {
      if (offset >= totals[s]!) {
        offset -= totals[s]!;
        continue;
      }
      const rows = await segments[s]!.fetch({ offset, limit: count - items.length });
      items.push(...rows.map((r) => ({ type: segments[s]!.type, stored: r.stored, extra: r.extra })));
      offset = 0;
    }
    return { totalResults: totalResults!, items, startIndex: req.startIndex };
  }

  if (count === 0) return { totalResults, items: [] };

  const want = count + 1; // one more than the page tells whether there is another page
  const read: { seg: number; row: Row }[] = [];
  const backward = anchor?.b === 1;
  if (!backward) {
    let from: Position | undefined = anchor ? { key: anchor.k, id: anchor.i } : undefined;
    for (let s = anchor?.s ?? 0; s < segments.length && read.length < want; s++, from = undefined) {
      // A segment just counted empty needs no read; a carried total may be out of date, so it is read anyway.
      if (counted && totals[s] === 0) continue;
      const rows = await segments[s]!.fetch({ from, backward: false, limit: want - read.length });
      read.push(...rows.map((r) => item(s, r)));
    }
  } else {
    let from: Position | undefined = { key: anchor!.k, id: anchor!.i };
    for (let s = anchor!.s; s >= 0 && read.length < want; s--, from = undefined) {
      if (counted && totals[s] === 0) continue;
      const rows = await segments[s]!.fetch({ from, backward: true, limit: want - read.length });
      read.push(...rows.map((r) => item(s, r)));
    }
  }
  const more = read.length > count;
  const page = read.slice(0, count);
  if (backward) page.reverse();

  const cursorAt = (x: { seg: number; row: Row }, b: 0 | 1) =>
    encodeCursor(db, { v: 1, q: binding(), c: count, s: x.seg, k: x.row.position.key, i: x.row.position.id, b, t: now, n: totals });
  const result: PageResult<PagedItem> = { totalResults, items: page.map((x) => ({ type: segments[x.seg]!.type, stored: x.row.stored, extra: x.row.extra })) };
  const first = page[0];
  const last = page[page.length - 1];
  // nextCursor is omitted only on the last page (RFC 9865 §2); previousCursor never on the first.
  if (last && (backward || more)) result.nextCursor = await cursorAt(last, 0);
  if (first && (backward ? more : anchor !== undefined)) result.previousCursor = await cursorAt(first, 1);
  return result;
}

/**
 * An index page of one resource type (GET /Users, GET /Groups, their .search).
 * - A page that comes back short ends the result, so totalResults is its
 *   startIndex - 1 plus its length and nothing is counted (unless the page is
 *   empty and not the first: then the result may end before startIndex).
 *   Every filter look-up (`userName eq "…"`, Entra ID's first request for each
 *   user) costs one query fewer; bench/README.md has the numbers.
 * - A page that continues one served before is read from where that one ended
 *   and reports its count while fresh (the head of this file).
 * - Otherwise: the offset, and a count.
 * A full page leaves a resume point for the page after it.
 */
async function indexPage(db: Db, tenantId: string, seg: Segment, startIndex: number, count: number, binding: () => string): Promise<PageResult<PagedItem>> {
  const windows = { ttlSeconds: RESUME_TTL_SECONDS, countReuseSeconds: INDEX_COUNT_REUSE_SECONDS };
  const resume = startIndex > 1 ? await findResumePoint(db, tenantId, binding(), startIndex, windows) : undefined;
  const rows = await seg.fetch(resume ? { from: resume.position, backward: false, limit: count } : { offset: startIndex - 1, limit: count });
  let total: number;
  let countedAt: Date | undefined;
  if (rows.length < count && (rows.length > 0 || startIndex === 1)) total = startIndex - 1 + rows.length;
  else if (resume?.countFresh) ({ total, countedAt } = resume);
  else total = (await seg.count()) ?? 0; // without a limit, a segment always counts
  const next = startIndex + rows.length;
  const last = rows[rows.length - 1];
  if (last && rows.length === count && next <= total) {
    await saveResumePoint(db, tenantId, binding(), next, last.position, total, countedAt);
    const now = Date.now();
    if (now - (lastPrune.get(db) ?? 0) > PRUNE_EVERY_MS) {
      lastPrune.set(db, now);
      await pruneResumePoints(db, RESUME_TTL_SECONDS);
    }
  }
  return { totalResults: total, items: rows.map((r) => ({ type: seg.type, stored: r.stored, extra: r.extra })), startIndex };
}

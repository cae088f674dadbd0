/** Recognising Postgres errors by SQLSTATE (same codes from pg and PGlite). */
import { serviceUnavailable } from '../scim/errors.js';

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return !!e && e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

export function isForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '23503';
}

export function isSerializationFailure(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '40001' || code === '40P01';
}

/**
 * A prepared statement whose result columns changed under it (SQLSTATE 0A000, "cached plan must not change
 * result type"; src/db/prepared.ts).
 */
export function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}

/** How long a client is asked to wait (Retry-After, seconds) when the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** What a request (or a Bulk operation) that met an unavailable database is answered: 503 with Retry-After. */
export const databaseUnavailable = () =>
  serviceUnavailable(`The database is unavailable; retry in ${DATABASE_RETRY_AFTER_SECONDS} s`, DATABASE_RETRY_AFTER_SECONDS);

// Class 08 (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now: a restart or failover),
// 57014 (query_canceled: the statement timeout), 53300 (too many connections).
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|57014|53300)$/;
// pg reports a dropped socket, a closed client and a pool wait that timed out as plain Errors without a code.
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;
// Node's socket errors while connecting or talking to the server.
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The database is away or too slow rather than the request being wrong: the connection dropped (restart,
 * failover), no connection could be had in time, or the statement timeout cancelled the query. Such
 * requests are answered 503 with Retry-After (src/http/errors.ts); retrying later will work.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_ERRNO.has(e.code))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  // Connecting to a name with several addresses fails with an AggregateError of each attempt's error.
  return Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every(isDatabaseUnavailable);
}

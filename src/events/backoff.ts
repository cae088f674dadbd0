/**
 * Retry schedule: the delay after the 1st, 2nd, … failed attempt. When the
 * schedule is used up the delivery is dead-lettered. The default spans about
 * three days (5s + 30s + 2m + 10m + 30m + 1h + 3h + 6h + 12h + 24h + 24h ≈ 70.7 h),
 * 12 attempts in all.
 */
export const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,30m,1h,3h,6h,12h,24h,24h';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parse `"5s,30s,2m,1h"` (units ms, s, m, h, d; a bare number is ms) into milliseconds; throws on nonsense. */
export function parseRetrySchedule(text: string): number[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error('must list at least one delay, e.g. "5s,30s,2m"');
  return parts.map((p) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(p);
    if (!m) throw new Error(`"${p}" is not a duration like 500ms, 5s, 2m, 1h or 1d`);
    return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!);
  });
}

/**
 * Delay before the next attempt after `failedAttempts` failures (1-based), with
 * ±20 % jitter so that many deliveries failing together do not retry in
 * lockstep; undefined when the schedule is exhausted (dead-letter).
 */
export function nextDelay(schedule: readonly number[], failedAttempts: number, random: () => number = Math.random): number | undefined {
  const base = schedule[failedAttempts - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns
 * milliseconds from now, or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/**
 * The mass-deprovision safeguard (README.md, "Going live safely"): whether
 * one more deactivation or deletion within the sliding window goes beyond
 * the tenant's threshold. Entra ID's "accidental deletions" threshold and
 * Eletive's hold of a sync that would delete more than half of the users
 * guard against the same bad day: an IdP that unassigns everyone at once.
 */
import type { Policy } from './policy.js';

/**
 * Whether the `next` deactivation or deletion (counting those already in the
 * window, `recent`) is beyond the threshold, given the tenant's active users
 * in the audience (`active`). Beyond maxCount, or beyond maxPercent of the
 * active users once there are at least minCount of them.
 */
export function beyondThreshold(s: Policy['safeguard'], recent: number, active: number): boolean {
  const n = recent + 1;
  if (s.maxCount !== null && n > s.maxCount) return true;
  if (s.maxPercent === null || n < s.minCount) return false;
  return n > (s.maxPercent / 100) * Math.max(active, 1);
}

/** Whether the safeguard is on at all. */
export const safeguardOn = (s: Policy['safeguard']) => s.maxCount !== null || s.maxPercent !== null;

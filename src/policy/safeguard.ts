/**
 * The mass-deprovision safeguard (README.md, "Going live safely"): whether
 * one more deactivation or deletion within the sliding window goes beyond
 * the tenant's threshold. Entra ID's "accidental deletions" threshold and
 * Eletive's hold of a sync that would delete more than half of the users
 * guard against the same bad day: an IdP that unassigns everyone at once.
 */
import type { Policy } from './policy.js';

/**
 * Whether the next deactivation or deletion (counting those already in the
 * window, `recent`) is beyond the tenant's threshold, and why: beyond
 * maxCount, or beyond maxPercent of `population` (the active users the host
 * had before the window: those active now plus those deprovisioned in it)
 * once there are at least minCount of them. Null: within the threshold.
 */
export function safeguardVerdict(s: Policy['safeguard'], recent: number, population: number): string | null {
  const n = recent + 1;
  if (s.maxCount !== null && n > s.maxCount) return `${n} deactivations and deletions within ${s.window} (more than ${s.maxCount})`;
  if (s.maxPercent === null || n < s.minCount) return null;
  const base = Math.max(population, 1);
  if (n > (s.maxPercent / 100) * base) return `${n} deactivations and deletions within ${s.window}, more than ${s.maxPercent}% of ${base} active users`;
  return null;
}

/** Whether the share rule needs the active users counted (a count can be costly; skip it when it cannot matter). */
export const needsPopulation = (s: Policy['safeguard'], recent: number) => s.maxPercent !== null && recent + 1 >= s.minCount;

/** Whether the safeguard is on at all. */
export const safeguardOn = (s: Policy['safeguard']) => s.maxCount !== null || s.maxPercent !== null;

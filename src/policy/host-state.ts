/**
 * What the host platform should know about a user, given the policy, what
 * the IdP has written and the time: the user's host state, and the event
 * that moves the host from what it knows to that.
 *
 *   absent    the host does not have the user (never told, or told it was deleted)
 *   active    the host has the user, active
 *   inactive  the host has the user, deactivated
 *
 * The rules, in order (README.md, "Provisioning policies"):
 *   1. Deleted over SCIM: lifecycle.onDelete "delete" → absent; "deactivate"
 *      → inactive, and absent purgeAfterDays later (if set).
 *   2. Outside the audience (audience.include / exclude): absent if the host
 *      never had the user, else as a deactivation (lifecycle.onDeactivate).
 *   3. A start date (lifecycle.startDate) in the future: absent until that
 *      day, for a user the host does not have yet.
 *   4. An end date (lifecycle.endDate) that has passed, or `active: false`:
 *      a deactivation — inactive ("deactivate") or absent ("delete"); and
 *      absent once inactive for deleteInactiveAfterDays (if set).
 *   5. Otherwise active.
 * A user the host never had is never created just to be deactivated by a
 * rule of the policy, but one the IdP creates inactive is created inactive,
 * as without a policy. Each verdict says when time alone may change it
 * (`next`), so that scheduled work can look again then.
 */
import { matches } from '../scim/filter.js';
import type { Json } from '../scim/json.js';
import type { EventType } from '../events/types.js';
import type { CompiledPolicy } from './compiled.js';
import { pathValue } from './mapping.js';

export type HostState = 'absent' | 'active' | 'inactive';

export const HOST_STATES: readonly HostState[] = ['absent', 'active', 'inactive'];

/** What the policy looks at. */
export interface UserFacts {
  /** The user's SCIM representation as filters see it (attributes, id, meta.created, meta.lastModified). */
  view: Json;
  /** What the host has now. */
  known: HostState;
  /** When the IdP deleted the user (it is kept for the host by onDelete "deactivate"); null while it exists. */
  deletedAt: Date | null;
  /** Since when the user is inactive for the host (for deleteInactiveAfterDays); null when not. */
  inactiveSince: Date | null;
}

export type Reason = 'active' | 'deleted' | 'purged' | 'deleted (kept deactivated)' | 'outside the audience' | 'before its start date' | 'after its end date' | 'inactive' | 'inactive too long';

export interface Verdict {
  state: HostState;
  reason: Reason;
  /** When time alone may change the verdict (a start date, an end date, a purge); null: never. */
  next: Date | null;
}

const DAY = 86_400_000;

/** A date or date-time; a date alone is midnight UTC. Undefined when absent or not a date. */
export function dateOf(v: unknown): Date | undefined {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const text = /^\d{4}-\d{2}-\d{2}$/.test(v.trim()) ? `${v.trim()}T00:00:00Z` : v.trim();
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : new Date(t);
}

export function inAudience(p: CompiledPolicy, view: Json): boolean {
  if (p.include && !matches(p.include, view)) return false;
  return !(p.exclude && matches(p.exclude, view));
}

export function desiredHostState(p: CompiledPolicy, u: UserFacts, now: Date): Verdict {
  const { lifecycle } = p.policy;
  const earliest = (...dates: (Date | null | undefined)[]) => dates.filter((d): d is Date => d instanceof Date && d > now).sort((a, b) => a.getTime() - b.getTime())[0] ?? null;

  if (u.deletedAt) {
    if (lifecycle.onDelete === 'delete' || u.known === 'absent') return { state: 'absent', reason: 'deleted', next: null };
    if (lifecycle.purgeAfterDays === null) return { state: 'inactive', reason: 'deleted (kept deactivated)', next: null };
    const purgeAt = new Date(u.deletedAt.getTime() + lifecycle.purgeAfterDays * DAY);
    return purgeAt <= now ? { state: 'absent', reason: 'purged', next: null } : { state: 'inactive', reason: 'deleted (kept deactivated)', next: purgeAt };
  }

  // A deactivation by a rule of the policy: never creates a user the host does not have.
  const deactivated = (reason: Reason, next: Date | null = null): Verdict => {
    if (lifecycle.onDeactivate === 'delete' || u.known === 'absent') return { state: 'absent', reason, next };
    return inactiveVerdict(reason, next);
  };
  const inactiveVerdict = (reason: Reason, next: Date | null): Verdict => {
    if (lifecycle.deleteInactiveAfterDays === null) return { state: 'inactive', reason, next };
    const since = u.inactiveSince ?? now;
    const deleteAt = new Date(since.getTime() + lifecycle.deleteInactiveAfterDays * DAY);
    return deleteAt <= now ? { state: 'absent', reason: 'inactive too long', next } : { state: 'inactive', reason, next: earliest(next, deleteAt) };
  };

  if (!inAudience(p, u.view)) return deactivated('outside the audience');

  const start = p.startDate ? dateOf(pathValue(u.view, p.startDate)) : undefined;
  const end = p.endDate ? dateOf(pathValue(u.view, p.endDate)) : undefined;
  if (u.known === 'absent' && start && start > now) return { state: 'absent', reason: 'before its start date', next: earliest(start, end) };
  if (end && end <= now) return deactivated('after its end date');

  if (u.view.active === false) {
    // Created inactive by the IdP: the host gets it inactive, as without a policy.
    if (lifecycle.onDeactivate === 'delete') return { state: 'absent', reason: 'inactive', next: earliest(end) };
    return inactiveVerdict('inactive', earliest(end));
  }
  return { state: 'active', reason: 'active', next: earliest(end) };
}

/**
 * The user event that takes the host from `from` to `to` (`changed`: whether
 * attributes changed too); undefined when the host need not be told.
 */
export function userEventFor(from: HostState, to: HostState, changed: boolean): EventType | undefined {
  if (to === 'absent') return from === 'absent' ? undefined : 'user.deleted';
  if (from === 'absent') return 'user.created';
  if (from === 'active' && to === 'inactive') return 'user.deactivated';
  if (from === 'inactive' && to === 'active') return 'user.reactivated';
  return changed ? 'user.updated' : undefined;
}

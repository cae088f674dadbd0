/**
 * A user's host state decided by the tenant's policy (src/policy/host-state.ts),
 * as the writes, the policy scheduler and re-evaluations apply it: the event
 * it takes, the facts to store with the user, and when to look again.
 */
import type { HostFacts } from '../db/users.js';
import type { EventType } from '../events/types.js';
import type { CompiledPolicy } from '../policy/compiled.js';
import { desiredHostState, userEventFor, type HostState, type Reason } from '../policy/host-state.js';
import { profileOf } from '../policy/mapping.js';
import type { Json } from '../scim/json.js';
import type { StoredResource } from '../scim/representation.js';

export interface HostDecision {
  from: HostState;
  to: HostState;
  reason: Reason;
  /** The user event to record; null when the host need not be told. */
  event: EventType | null;
  /** What to store with the user. */
  facts: HostFacts;
  /** When to look at the user again (time alone may change the decision); null: never. */
  next: Date | null;
  /** The host's fields, when the policy maps any. */
  profile?: { profile: Record<string, unknown>; missing: string[] };
}

/** The user as filters and mappings see it: its attributes, id and meta. */
export function userView(stored: Pick<StoredResource, 'id' | 'resource' | 'created' | 'lastModified'>): Json {
  return {
    ...stored.resource,
    id: stored.id,
    meta: { resourceType: 'User', created: stored.created.toISOString(), lastModified: stored.lastModified.toISOString() },
  };
}

/**
 * Decide for a user whose SCIM resource is now `stored` (or that was
 * deleted at `deletedAt`), given what the host knows (`known`); `changed`:
 * whether its attributes changed in this write.
 */
export function decideHost(
  policy: CompiledPolicy,
  stored: Pick<StoredResource, 'id' | 'resource' | 'created' | 'lastModified'>,
  known: HostFacts,
  opts: { changed: boolean; deletedAt?: Date | null; now: Date },
): HostDecision {
  const view = userView(stored);
  const verdict = desiredHostState(policy, { view, known: known.state, deletedAt: opts.deletedAt ?? null, inactiveSince: known.inactiveSince }, opts.now);
  const to = verdict.state;
  const inactiveSince = to === 'inactive' ? (known.state === 'inactive' && known.inactiveSince ? known.inactiveSince : opts.now) : null;
  const decision: HostDecision = {
    from: known.state,
    to,
    reason: verdict.reason,
    event: userEventFor(known.state, to, opts.changed) ?? null,
    facts: { state: to, inactiveSince },
    next: verdict.next,
  };
  if (policy.fields.length > 0 && to !== 'absent') decision.profile = profileOf(policy, view);
  return decision;
}


/**
 * What a change records beyond the plain event: the policy's event and why,
 * when they differ from what the write alone makes, and the host's fields
 * when the policy maps any. Nothing for a tenant whose policy changes nothing.
 */
export function policyOutcome(d: HostDecision, plain: EventType | null): { userEvent?: EventType | null; reason?: string; profile?: HostDecision['profile'] } {
  const out: { userEvent?: EventType | null; reason?: string; profile?: HostDecision['profile'] } = {};
  if (d.event !== plain) {
    out.userEvent = d.event;
    out.reason = d.reason;
  }
  if (d.profile) {
    out.profile = d.profile;
    out.userEvent = d.event;
  }
  return out;
}

/** Whether the policy has rules that time alone can trigger (so writes keep the schedule). */
export function timeDriven(p: CompiledPolicy): boolean {
  const l = p.policy.lifecycle;
  return p.startDate !== undefined || p.endDate !== undefined || l.deleteInactiveAfterDays !== null || l.purgeAfterDays !== null;
}

/** A dry run tells the host nothing: what it has stays as it is (src/services/golive.ts). */
export function frozenHost(known: HostFacts): HostDecision {
  return { from: known.state, to: known.state, reason: 'active', event: null, facts: known, next: null };
}

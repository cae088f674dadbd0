/**
 * The mass-deprovision safeguard (README.md "Deletion safeguard"): user
 * deactivations and deletions beyond the tenant's threshold are held. Roster
 * stores what the IdP says and answers it normally (an IdP refused would
 * retry in a loop), but the host is not told until an admin releases the
 * hold; rejecting it drops what was held. The threshold is the pure rule in
 * src/policy/safeguard.ts; src/db/holds.ts keeps the holds.
 */
import type { Db, Tx } from '../db/index.js';
import * as holds from '../db/holds.js';
import type { HoldMark, HostFacts } from '../db/users.js';
import { enqueueReleased } from '../db/outbox-requeue.js';
import { countHostStates, resetUsage, usage } from '../db/policies.js';
import { recordTenantEvent } from '../events/record.js';
import { wakeDeliveryWorkers } from '../events/notify.js';
import type { CompiledPolicy } from '../policy/compiled.js';
import { durationMs } from '../policy/policy.js';
import { needsPopulation, safeguardOn, safeguardVerdict } from '../policy/safeguard.js';
import { notFound, ScimError } from '../scim/errors.js';
import type { Actor } from './actor.js';
import type { HostDecision } from './host.js';
import { retrying } from './retry.js';

export type { HoldItem, HoldRecord, HoldState } from '../db/holds.js';

/** The user a decision is about, as its (locked) row has it. */
export interface GuardedUser {
  id: string;
  userName: string;
  externalId: string | null;
  hold: HoldMark;
  /** What the host has now (restored if the hold is rejected). */
  host: HostFacts;
  /** Whether the IdP has it active now (a reactivation clears a rejected hold's mark). */
  idpActive: boolean;
}

const DEPROVISIONS = new Set(['user.deactivated', 'user.deleted']);

export class SafeguardService {
  constructor(private readonly db: Db) {}

  /**
   * Apply the safeguard to a decision about a user, in the writer's
   * transaction with the user's row locked. Returns the decision to apply
   * (the host keeps what it has for a user whose deprovisioning was
   * rejected) and the hold the user's events wait behind (null: none).
   */
  async guard(trx: Tx, tenantId: string, policy: CompiledPolicy, user: GuardedUser, d: HostDecision, by: { actor: Actor; requestId?: string | undefined }): Promise<{ d: HostDecision; heldBy: string | null }> {
    if (!d.event || !DEPROVISIONS.has(d.event)) {
      if (user.hold.rejected && user.idpActive) await holds.clearRejectedMark(trx, tenantId, user.id);
      return { d, heldBy: user.hold.heldBy };
    }
    // Rejected once: not deprovisioned again until the IdP reactivates the user (the admin fixes the assignment).
    if (user.hold.rejected) return { d: { ...d, to: user.host.state, event: null, facts: user.host }, heldBy: null };
    const s = policy.policy.safeguard;
    if (!user.hold.heldBy && safeguardOn(s)) await holds.serializeDeprovisions(trx, tenantId);
    // Read FOR SHARE even for a held user: an item never joins a hold decided meanwhile (src/db/holds.ts).
    let holdId = user.hold.heldBy || safeguardOn(s) ? await holds.openHold(trx, tenantId) : undefined;
    if (!holdId) {
      if (!safeguardOn(s)) return { d, heldBy: null };
      const recent = await holds.recentDeprovisions(trx, tenantId, new Date(Date.now() - durationMs(s.window)));
      const population = needsPopulation(s, recent) ? (await activeUsers(trx, tenantId)) + recent : 0;
      const reason = safeguardVerdict(s, recent, population);
      if (!reason) return { d, heldBy: null };
      const opened = await holds.createHold(trx, tenantId, reason);
      if (opened.created) {
        await recordTenantEvent(trx, tenantId, 'tenant.safeguard_triggered', { hold: opened.id, reason, count: recent + 1, threshold: s }, { type: 'system', name: 'safeguard' });
      }
      holdId = opened.id;
    }
    await holds.addHoldItem(trx, tenantId, holdId, {
      userId: user.id,
      userName: user.userName,
      externalId: user.externalId,
      event: d.event,
      from: user.host.state,
      fromInactiveSince: user.host.inactiveSince,
      requestId: by.requestId ?? null,
    });
    return { d, heldBy: holdId };
  }

  async list(tenantId: string, opts: { state?: holds.HoldState | undefined; before?: string | undefined; limit: number }): Promise<holds.HoldRecord[]> {
    return holds.listHolds(this.db, tenantId, opts);
  }

  async get(tenantId: string, id: string, opts: { after?: string | undefined; limit: number }): Promise<{ hold: holds.HoldRecord; items: holds.HoldItem[] }> {
    const hold = await this.#find(this.db, tenantId, id);
    return { hold, items: await holds.holdItems(this.db, hold.id, opts) };
  }

  /** Tell the host what was held, in order (each user's events after the hold follow its held ones). */
  async release(tenantId: string, id: string, actor: Actor): Promise<holds.HoldRecord> {
    // A writer holds a user's row and waits for the hold's; a decision holds the hold's and waits for users': Postgres picks a victim, which runs again.
    const hold = await retrying(() =>
      this.db.transaction().execute(async (trx) => {
        await this.#decide(trx, tenantId, id, 'released', actor);
        await holds.clearHeldUsers(trx, tenantId, id);
        await enqueueReleased(trx, tenantId, id);
        return this.#find(trx, tenantId, id);
      }),
    );
    wakeDeliveryWorkers();
    return hold;
  }

  /** Drop what was held: the host keeps its users as they were, and they stay marked until the IdP reactivates them. */
  async reject(tenantId: string, id: string, actor: Actor): Promise<holds.HoldRecord> {
    return retrying(() => this.db.transaction().execute(async (trx) => {
      await this.#decide(trx, tenantId, id, 'rejected', actor);
      await holds.rejectHeld(trx, tenantId, id);
      // Restored users hold their seats again (a tenant with a license cap keeps a count).
      if (await usage(trx, tenantId)) await resetUsage(trx, tenantId);
      return this.#find(trx, tenantId, id);
    }));
  }

  async #decide(trx: Tx, tenantId: string, id: string, state: 'released' | 'rejected', actor: Actor): Promise<void> {
    if (await holds.decideHold(trx, tenantId, id, state, { ...actor })) return;
    const hold = await this.#find(trx, tenantId, id);
    throw new ScimError(409, `Hold ${id} was already ${hold.state} at ${hold.decidedAt?.toISOString()}`);
  }

  async #find(db: Db | Tx, tenantId: string, id: string): Promise<holds.HoldRecord> {
    const hold = /^[0-9]{1,18}$/.test(id) ? await holds.findHold(db, tenantId, id) : undefined;
    if (!hold) throw notFound(`Hold ${id} not found in tenant ${tenantId}`);
    return hold;
  }
}

/** Active users the host has: the license count when one is kept, else counted. */
async function activeUsers(trx: Tx, tenantId: string): Promise<number> {
  return (await usage(trx, tenantId))?.activeUsers ?? (await countHostStates(trx, tenantId)).active;
}

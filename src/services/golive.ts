/**
 * Safe go-live (README.md, "Going live safely"): the dry-run report of what
 * going live would send, the host platform's existing users and the links to
 * them, and the go-live itself.
 *
 * A tenant in dryRun mode works as live over SCIM, but its users keep the
 * host state "absent" and nothing is recorded for the host (the user and group
 * services leave them as they are). The report applies the policy to every
 * user as going live would; going live switches the mode and starts a job of
 * the policy worker that tells the host the resulting state (users by the
 * policy, then every synced group with its members), not the history.
 */
import type { Db } from '../db/index.js';
import * as golive from '../db/golive.js';
import * as repo from '../db/policies.js';
import { isUniqueViolation } from '../db/errors.js';
import { updateTenant } from '../db/tenants.js';
import { groupSynced } from '../policy/compiled.js';
import { badRequest, notFound } from '../scim/errors.js';
import { recordChange, MEMBER_CHUNK } from '../events/record.js';
import { etagOf, toScim } from '../scim/representation.js';
import { groupResourceType } from '../scim/schema.js';
import { decideHost, type HostDecision } from './host.js';
import { internalActor } from './actor.js';
import type { PolicyService } from './policies.js';
import type { TenantService } from './tenants.js';

/** What going live does to one user. */
export const OUTCOMES = ['created', 'updated', 'deactivated', 'deleted', 'skipped'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The outcome of a decision for a user the host has (linked, or told before) or not. */
export function outcomeOf(d: HostDecision, hostHas: boolean): Outcome {
  if (!hostHas) return d.to === 'absent' ? 'skipped' : 'created';
  return d.to === 'active' ? 'updated' : d.to === 'inactive' ? 'deactivated' : 'deleted';
}

export interface DryRunReport {
  mode: 'live' | 'dryRun';
  policyVersion: number;
  users: Record<Outcome, number> & { total: number };
  groups: { synced: number; skipped: number };
  reconciliation: { hostUsers: number; matched: number; matchedByExternalId: number; matchedByEmail: number; hostOnly: number; sharedEmails: number };
  license: { cap: number | null; activeAfterGoLive: number; overBy: number };
}

/** A row of a report file: fixed columns, then the policy's mapped fields. */
export type ReportRow = Record<string, string | number | boolean | null>;

export const BASE_COLUMNS = ['id', 'userName', 'externalId', 'active', 'reason', 'hostUserId', 'matchedBy'] as const;
export const HOST_ONLY_COLUMNS = ['hostUserId', 'email', 'externalId', 'emailShared'] as const;

/** Who the events of a go-live are from (data.actor). */
export const GO_LIVE_ACTOR = internalActor('system', 'go-live');

/** Most host users one upload may carry (README "Going live safely"). */
export const MAX_HOST_USERS = 5_000_000;
const BATCH = 1000;

export class GoLiveService {
  constructor(
    private readonly db: Db,
    private readonly policies: PolicyService,
    private readonly tenants: TenantService,
  ) {}

  /**
   * Replace the tenant's host users with those `rows` yields (streamed in
   * batches, all in one transaction: a bad row leaves the previous upload in
   * place), then link IdP users to them.
   */
  async putHostUsers(tenantId: string, rows: AsyncIterable<{ line: number; user: golive.HostUser }>): Promise<{ hostUsers: number; sharedEmails: number; linked: number }> {
    await this.#tenant(tenantId);
    return this.db.transaction().execute(async (trx) => {
      await golive.clearHostUsers(trx, tenantId);
      let batch: { line: number; user: golive.HostUser }[] = [];
      let count = 0;
      const flush = async () => {
        try {
          await golive.insertHostUsers(trx, tenantId, batch.map((b) => b.user));
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          throw badRequest('invalidValue', `A host user id appears more than once (between lines ${batch[0]!.line} and ${batch[batch.length - 1]!.line}); each hostUserId must be unique`);
        }
        batch = [];
      };
      const seen = new Set<string>();
      for await (const row of rows) {
        if (++count > MAX_HOST_USERS) throw badRequest('invalidValue', `At most ${MAX_HOST_USERS} host users per upload`);
        if (seen.has(row.user.hostUserId)) throw badRequest('invalidValue', `Line ${row.line}: hostUserId "${row.user.hostUserId}" appears more than once`);
        if (seen.size < 1_000_000) seen.add(row.user.hostUserId);
        batch.push(row);
        if (batch.length >= BATCH) await flush();
      }
      await flush();
      const sharedEmails = await golive.markSharedEmails(trx, tenantId);
      const linked = await golive.relink(trx, tenantId);
      return { hostUsers: count, sharedEmails, linked };
    });
  }

  /** What going live would send now, counted (the files give the rows). */
  async report(tenantId: string): Promise<DryRunReport> {
    const tenant = await this.#tenant(tenantId);
    await this.db.transaction().execute((trx) => golive.relink(trx, tenantId));
    const policy = await this.policies.compiled(tenantId);
    const current = await repo.currentPolicy(this.db, tenantId);
    const users = { created: 0, updated: 0, deactivated: 0, deleted: 0, skipped: 0, total: 0 };
    const rec = { hostUsers: await golive.countHostUsers(this.db, tenantId), matched: 0, matchedByExternalId: 0, matchedByEmail: 0, hostOnly: 0, sharedEmails: 0 };
    let active = 0;
    for await (const { d, link, outcome } of this.#decisions(tenantId)) {
      users[outcome]++;
      users.total++;
      if (d.to === 'active') active++;
      if (link) {
        rec.matched++;
        if (link.matchedBy === 'externalId') rec.matchedByExternalId++;
        else rec.matchedByEmail++;
      }
    }
    for await (const h of this.hostOnly(tenantId)) {
      rec.hostOnly++;
      if (h.emailShared) rec.sharedEmails++;
    }
    const groups = { synced: 0, skipped: 0 };
    for (let after: string | null = null; ; ) {
      const batch = await golive.walkGroups(this.db, tenantId, after, BATCH);
      for (const g of batch) groups[groupSynced(policy, g) ? 'synced' : 'skipped']++;
      if (batch.length < BATCH) break;
      after = batch[batch.length - 1]!.id;
    }
    const cap = policy.policy.licenseCap;
    return {
      mode: tenant.mode,
      policyVersion: current?.version ?? 0,
      users,
      groups,
      reconciliation: rec,
      license: { cap, activeAfterGoLive: active, overBy: cap === null ? 0 : Math.max(0, active - cap) },
    };
  }

  /** The rows of one outcome's file, streamed in id order; and the columns. */
  async rows(tenantId: string, outcome: Outcome): Promise<{ columns: string[]; rows: AsyncIterable<ReportRow> }> {
    await this.#tenant(tenantId);
    const policy = await this.policies.compiled(tenantId);
    const fields = policy.fields.map((f) => f.name);
    const self = this;
    return {
      columns: [...BASE_COLUMNS, ...fields],
      rows: (async function* () {
        for await (const { stored, d, link, outcome: o } of self.#decisions(tenantId)) {
          if (o !== outcome) continue;
          const row: ReportRow = {
            id: stored.id,
            userName: String(stored.resource.userName),
            externalId: typeof stored.resource.externalId === 'string' ? stored.resource.externalId : null,
            active: d.to === 'active',
            reason: d.reason,
            hostUserId: link?.hostUserId ?? null,
            matchedBy: link?.matchedBy ?? null,
          };
          for (const f of fields) row[f] = (d.profile?.profile[f] as string | number | boolean | null | undefined) ?? null;
          yield row;
        }
      })(),
    };
  }

  /** Host users no IdP user matches: candidates for deactivation, which Roster never does by itself. */
  async *hostOnly(tenantId: string): AsyncGenerator<golive.HostUser & { emailShared: boolean }> {
    for (let after: string | null = null; ; ) {
      const batch = await golive.hostOnlyUsers(this.db, tenantId, after, BATCH);
      yield* batch;
      if (batch.length < BATCH) return;
      after = batch[batch.length - 1]!.hostUserId;
    }
  }

  /**
   * Switch the tenant to live and start telling the host the resulting state
   * (a go-live job of the policy worker). A live tenant is left as it is.
   */
  async goLive(tenantId: string): Promise<{ started: boolean; job: repo.PolicyJob | undefined }> {
    const tenant = await this.#tenant(tenantId);
    if (tenant.mode === 'live') return { started: false, job: await repo.latestJob(this.db, tenantId) };
    const job = await this.db.transaction().execute(async (trx) => {
      await golive.relink(trx, tenantId);
      await updateTenant(trx, tenantId, { mode: 'live' });
      const version = (await repo.currentPolicy(trx, tenantId))?.version ?? 0;
      return repo.startJob(trx, tenantId, version, await repo.countUsers(trx, tenantId), 'goLive');
    });
    // Requests of this process see the new mode at once; other replicas within TOKEN_CACHE_MS, and the
    // go-live looks again at what they wrote meanwhile (its phase 2, src/services/policy-worker.ts).
    this.tenants.forget();
    this.policies.onWork();
    return { started: true, job };
  }

  /**
   * The go-live's last phase, for one batch of groups after `afterId`: each
   * group the host syncs, told as group.created and its members the host
   * knows in group.members.added chunks, in its own transaction (a crash
   * redoes no group twice). Returns the last group done, undefined at the end.
   */
  async tellGroups(tenantId: string, afterId: string | null, jobId: string, limit = 20): Promise<string | undefined> {
    const policy = await this.policies.compiled(tenantId);
    const batch = await golive.walkGroups(this.db, tenantId, afterId, limit);
    const base = `${this.policies.publicUrl}/scim/v2/${tenantId}`;
    for (const g of batch) {
      await this.db.transaction().execute(async (trx) => {
        if (groupSynced(policy, g)) {
          const change = {
            tenantId,
            resourceType: 'Group' as const,
            id: g.id,
            externalId: typeof g.resource.externalId === 'string' ? g.resource.externalId : null,
            name: String(g.resource.displayName),
            version: g.version,
            etag: etagOf(g.version),
            membersRemoved: [],
            actor: GO_LIVE_ACTOR,
          };
          await recordChange(trx, { ...change, action: 'created', changed: [], resource: toScim(groupResourceType, g, `${base}/Groups/${g.id}`), membersAdded: [] });
          for (let after: string | null = null; ; ) {
            const members = await golive.hostKnownMembers(trx, tenantId, g.id, after, MEMBER_CHUNK);
            if (members.length) await recordChange(trx, { ...change, action: 'updated', changed: ['members'], resource: null, membersAdded: members.map((m) => m.id) });
            if (members.length < MEMBER_CHUNK) break;
            after = members[members.length - 1]!.id;
          }
        }
        await repo.advanceJob(trx, jobId, g.id, 0, 0);
      });
    }
    return batch.length < limit ? undefined : batch[batch.length - 1]!.id;
  }

  /** Every user with the decision going live makes for it, in id order, batch by batch. */
  async *#decisions(tenantId: string) {
    const policy = await this.policies.compiled(tenantId);
    const now = new Date();
    for (let after: string | null = null; ; ) {
      const batch = await golive.walkUsers(this.db, tenantId, after, BATCH);
      for (const u of batch) {
        const d = decideHost(policy, u.stored, u.host, { changed: false, now });
        yield { stored: u.stored, d, link: u.link, outcome: outcomeOf(d, u.link !== null || u.host.state !== 'absent') };
      }
      if (batch.length < BATCH) return;
      after = batch[batch.length - 1]!.stored.id;
    }
  }

  async #tenant(tenantId: string) {
    const t = await this.db.selectFrom('tenants').select(['id', 'mode']).where('id', '=', tenantId).executeTakeFirst();
    if (!t) throw notFound(`Tenant "${tenantId}" not found`);
    return t;
  }
}

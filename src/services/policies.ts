/**
 * Tenants' provisioning policies (README.md, "Provisioning policies"): the
 * versioned document behind GET/PUT /admin/v1/tenants/{tenant}/policy, the
 * compiled policy every write of the tenant applies, and the state its
 * rules keep per user (src/services/host.ts decides, this applies).
 *
 * Each process keeps a tenant's compiled policy for POLICY_CACHE_MS: a change
 * applies at once on the replica that made it and within that time on the
 * others. The re-evaluation a change starts (src/services/policy-worker.ts)
 * also looks again, after that time, at the users written while it ran, so
 * a write served by another replica with the old policy is corrected too.
 */
import type { Db, Tx } from '../db/index.js';
import * as repo from '../db/policies.js';
import { setHostFacts, findUserWithGroups, type HostFacts } from '../db/users.js';
import { recordChange, recordTenantEvent } from '../events/record.js';
import { compilePolicy, policyProblems, type CompiledPolicy } from '../policy/compiled.js';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../policy/policy.js';
import { badRequest, notFound, preconditionFailed, ScimError } from '../scim/errors.js';
import { etagOf, parseETagList, toScim, type StoredResource } from '../scim/representation.js';
import { userResourceType } from '../scim/schema.js';
import type { Actor } from './actor.js';
import { decideHost, type HostDecision } from './host.js';
import type { SafeguardService } from './safeguard.js';
import { inOpenHold } from '../db/holds.js';

export const POLICY_CACHE_MS = 5_000;

const DEFAULT_COMPILED = compilePolicy(DEFAULT_POLICY);

export interface PolicyDocument {
  policy: Policy;
  /** 0 while the tenant never set one (the defaults apply). */
  version: number;
  updatedAt: Date | null;
  updatedBy: Record<string, unknown> | null;
}

/** A user write is refused because the tenant's active users are at its license cap (policy.licenseCap). */
export function licenseCapReached(cap: number): ScimError {
  return new ScimError(
    403,
    `License limit reached: this organisation may have at most ${cap} active users, and all of them are in use. Deactivate or remove users, or ask the application's administrator to raise the limit; this user was not provisioned`,
  );
}

export class PolicyService {
  readonly #cache = new Map<string, { compiled: CompiledPolicy; until: number }>();
  /** Called when a policy change created work (a re-evaluation) for the policy worker. */
  onWork: () => void = () => {};

  /** How long this process keeps a compiled policy (POLICY_CACHE_MS unless set, e.g. 0 in tests). */
  readonly cacheMs: number;

  readonly publicUrl: string;

  readonly #safeguard: SafeguardService;

  constructor(
    private readonly db: Db,
    opts: { publicUrl: string; safeguard: SafeguardService; cacheMs?: number },
  ) {
    this.cacheMs = opts.cacheMs ?? POLICY_CACHE_MS;
    this.publicUrl = opts.publicUrl;
    this.#safeguard = opts.safeguard;
  }

  /**
   * The compiled policy in force for a tenant (cached per process, see the
   * header). `db`: the transaction to read it in, when called inside one (on
   * PGlite's single connection another query would wait for it forever).
   */
  async compiled(tenantId: string, db: Db | Tx = this.db): Promise<CompiledPolicy> {
    const now = Date.now();
    const hit = this.#cache.get(tenantId);
    if (hit && hit.until > now) return hit.compiled;
    const current = await repo.currentPolicy(db, tenantId);
    const compiled = current ? compilePolicy(parsePolicyLoosely(current.document)) : DEFAULT_COMPILED;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(tenantId, { compiled, until: now + this.cacheMs });
    return compiled;
  }

  async get(tenantId: string): Promise<PolicyDocument> {
    await this.#tenant(tenantId);
    const current = await repo.currentPolicy(this.db, tenantId);
    if (!current) return { policy: DEFAULT_POLICY, version: 0, updatedAt: null, updatedBy: null };
    return { policy: parsePolicyLoosely(current.document), version: current.version, updatedAt: current.createdAt, updatedBy: current.actor };
  }

  async versions(tenantId: string, limit = 50): Promise<PolicyDocument[]> {
    await this.#tenant(tenantId);
    return (await repo.policyVersions(this.db, tenantId, limit)).map((v) => ({ policy: parsePolicyLoosely(v.document), version: v.version, updatedAt: v.createdAt, updatedBy: v.actor }));
  }

  /**
   * Set a new version (`ifMatch`: the version it replaces, RFC 9110 §13.1.1),
   * and start re-evaluating every user of the tenant under it.
   */
  async put(tenantId: string, input: unknown, opts: { actor?: Record<string, unknown> | null; ifMatch?: string | undefined } = {}): Promise<PolicyDocument> {
    await this.#tenant(tenantId);
    const doc = stripMeta(input);
    const policy = parsePolicy(doc, policyProblems);
    const expected = opts.ifMatch ? expectedVersion(opts.ifMatch) : undefined;
    const stored = await this.db.transaction().execute(async (trx) => {
      const v = await repo.insertPolicyVersion(trx, tenantId, policy as unknown as Record<string, unknown>, opts.actor ?? null, expected);
      if (!v) throw preconditionFailed(`If-Match ${opts.ifMatch} does not match the current version of the policy`);
      await repo.startJob(trx, tenantId, v.version, await repo.countUsers(trx, tenantId));
      if (policy.licenseCap !== null) await repo.resetUsage(trx, tenantId);
      await repo.clearMappingReports(trx, tenantId);
      return v;
    });
    this.#cache.delete(tenantId);
    this.onWork();
    return { policy, version: stored.version, updatedAt: stored.createdAt, updatedBy: stored.actor };
  }

  /** The latest re-evaluation of the tenant's users, for progress. */
  async job(tenantId: string): Promise<repo.PolicyJob | undefined> {
    await this.#tenant(tenantId);
    return repo.latestJob(this.db, tenantId);
  }

  /** Active users in the audience against the cap. */
  async usage(tenantId: string, db: Db | Tx = this.db): Promise<{ licenseCap: number | null; activeUsers: number; capReached: boolean }> {
    const policy = (await this.compiled(tenantId, db)).policy;
    const kept = policy.licenseCap !== null ? await repo.usage(db, tenantId) : undefined;
    const activeUsers = kept?.activeUsers ?? (await repo.countHostStates(db, tenantId)).active;
    return { licenseCap: policy.licenseCap, activeUsers, capReached: kept?.capReached ?? false };
  }

  /**
   * Apply a decision's license accounting in the caller's transaction: a
   * user becoming active takes a seat (ScimError 403 when none is left), one
   * leaving active frees it.
   */
  async account(trx: Tx, tenantId: string, policy: CompiledPolicy, d: HostDecision): Promise<void> {
    const cap = policy.policy.licenseCap;
    if (cap === null || d.from === d.to) return;
    if (d.to === 'active' && !(await repo.takeSeat(trx, tenantId, cap))) throw licenseCapReached(cap);
    if (d.from === 'active') await repo.freeSeat(trx, tenantId, cap);
  }

  /**
   * After a refusal for the cap: the first one since usage was below it tells
   * the host once (tenant.license_limit_reached), so its admins can act.
   */
  async capReached(tenantId: string, actor: Actor): Promise<void> {
    // Mark and event in one transaction: a failed insert leaves the crossing unmarked for the next refusal.
    await this.db.transaction().execute(async (trx) => {
      if (!(await repo.markCapReached(trx, tenantId))) return;
      const { licenseCap, activeUsers } = await this.usage(tenantId, trx);
      await recordTenantEvent(trx, tenantId, 'tenant.license_limit_reached', { licenseCap, activeUsers }, actor);
    });
  }

  /**
   * Look at one user again under the current policy (or a tombstone of one the
   * IdP deleted), in the caller's transaction, and tell the host what changed.
   * Returns whether anything was recorded. Used by scheduled work and
   * re-evaluations, never by SCIM writes (those decide in the user service).
   */
  async reevaluate(trx: Tx, tenantId: string, userId: string, now: Date, actor: Actor): Promise<boolean> {
    const policy = await this.compiled(tenantId, trx);
    const found = await findUserWithGroups(trx, tenantId, userId, { lock: 'update' });
    if (!found) return this.#reevaluateTombstone(trx, tenantId, userId, policy, now, actor);
    const r = found.stored.resource;
    const guarded = { id: userId, userName: String(r.userName), externalId: typeof r.externalId === 'string' ? r.externalId : null, host: found.host, hold: found.hold, idpActive: r.active !== false };
    let { d, heldBy } = await this.#safeguard.guard(trx, tenantId, policy, guarded, decideHost(policy, found.stored, found.host, { changed: false, now }), { actor });
    try {
      await this.account(trx, tenantId, policy, d);
    } catch (err) {
      if (!(err instanceof ScimError) || err.status !== 403) throw err;
      // No seat for a user the policy (not the IdP) brings in: it stays as the host has it; look again in an hour.
      d = { ...d, to: d.from, event: null, facts: found.host, next: new Date(now.getTime() + 3_600_000) };
      heldBy = found.hold.heldBy;
    }
    await repo.scheduleUser(trx, tenantId, userId, d.next);
    if (!d.event && sameFacts(d.facts, found.host)) return false;
    await setHostFacts(trx, tenantId, userId, d.facts);
    if (!d.event) return false;
    const resource = toScim(userResourceType, found.stored, `${this.#baseUrl(tenantId)}/Users/${userId}`, d.to === 'absent' ? {} : groupsOf(tenantId, found.groups, this.#baseUrl(tenantId)));
    await recordChange(trx, {
      tenantId,
      resourceType: 'User',
      action: 'updated',
      id: userId,
      externalId: typeof found.stored.resource.externalId === 'string' ? found.stored.resource.externalId : null,
      name: String(found.stored.resource.userName),
      version: found.stored.version,
      etag: etagOf(found.stored.version),
      changed: [],
      resource,
      userEvent: d.event,
      reason: d.reason,
      link: found.link,
      actor,
      heldBy,
      ...(d.profile ? { profile: d.profile } : {}),
    });
    return true;
  }

  async #reevaluateTombstone(trx: Tx, tenantId: string, userId: string, policy: CompiledPolicy, now: Date, actor: Actor): Promise<boolean> {
    const t = await repo.lockTombstone(trx, tenantId, userId);
    if (!t) return false;
    // Its deletion is held by the safeguard: a purge now would overtake it; look again in an hour.
    if (await inOpenHold(trx, tenantId, userId)) {
      await repo.scheduleUser(trx, tenantId, userId, new Date(now.getTime() + 3_600_000));
      return false;
    }
    const stored: Pick<StoredResource, 'id' | 'resource' | 'created' | 'lastModified'> = { id: userId, resource: t.resource ?? {}, created: t.deletedAt, lastModified: t.deletedAt };
    const d = decideHost(policy, stored, { state: t.hostState, inactiveSince: t.deletedAt }, { changed: false, deletedAt: t.deletedAt, now });
    await repo.scheduleUser(trx, tenantId, userId, d.next);
    if (!d.event) return false;
    if (d.to === 'absent') await repo.deleteTombstone(trx, tenantId, userId);
    else await repo.setTombstoneState(trx, tenantId, userId, d.to);
    await recordChange(trx, {
      tenantId,
      resourceType: 'User',
      action: d.to === 'absent' ? 'deleted' : 'updated',
      id: userId,
      externalId: t.externalId,
      name: t.userName,
      version: t.version,
      etag: etagOf(t.version),
      changed: [],
      resource: d.to === 'absent' ? null : t.resource,
      userEvent: d.event,
      reason: d.reason,
      actor,
    });
    return true;
  }

  #baseUrl(tenantId: string): string {
    return `${this.publicUrl}/scim/v2/${tenantId}`;
  }

  async #tenant(tenantId: string): Promise<void> {
    if (!(await this.db.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst())) throw notFound(`Tenant "${tenantId}" not found`);
  }
}

const sameFacts = (a: HostFacts, b: HostFacts) => a.state === b.state && (a.inactiveSince?.getTime() ?? null) === (b.inactiveSince?.getTime() ?? null);

const groupsOf = (tenantId: string, groups: { value: string; display: string }[] | undefined, baseUrl: string) =>
  groups?.length ? { groups: groups.map((g) => ({ value: g.value, $ref: `${baseUrl}/Groups/${g.value}`, display: g.display, type: 'direct' })) } : {};

/** A stored document read back: validated when written, so only defaults are filled (a newer field keeps its default). */
function parsePolicyLoosely(doc: Record<string, unknown>): Policy {
  try {
    return parsePolicy(doc, () => []);
  } catch {
    return DEFAULT_POLICY;
  }
}

/** The document without the read-only `meta` GET adds, so that what GET gives can be PUT back. */
function stripMeta(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badRequest('invalidValue', 'The policy must be a JSON object');
  const { meta: _meta, ...rest } = input as Record<string, unknown>;
  return rest;
}

function expectedVersion(ifMatch: string): number | undefined {
  const { any, versions } = parseETagList(ifMatch);
  if (any) return undefined;
  if (versions.length !== 1) throw preconditionFailed(`If-Match ${ifMatch} names no single version of the policy`);
  return versions[0];
}

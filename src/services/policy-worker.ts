/**
 * The work provisioning policies do on their own, in the background, in any
 * number of processes against one database:
 *
 * - re-evaluations: after a policy change, every user of the tenant is looked
 *   at again in batches (policy_jobs: resumable from the last id, leased so
 *   one process works a job at a time, progress visible), then the users
 *   written while that ran (phase 2, see src/services/policies.ts);
 * - the schedule: users whose host state time alone changes (a start or end
 *   date, deleteInactiveAfterDays, a purge) are looked at when due; an entry
 *   is taken in the same transaction as the change it leads to, so each runs
 *   exactly once across replicas and survives restarts.
 *
 * What it finds goes to the host as events, like any change
 * (PolicyService.reevaluate).
 */
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import * as repo from '../db/policies.js';
import { internalActor } from './actor.js';
import { GO_LIVE_ACTOR, type GoLiveService } from './golive.js';
import type { PolicyService } from './policies.js';
import { TOKEN_CACHE_MS } from './tenants.js';

export interface PolicyWorkerOptions {
  db: Db;
  policies: PolicyService;
  golive: GoLiveService;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** How often to look for due work when not woken; default 5 s. */
  intervalMs?: number;
  /** Users per transaction. */
  batch?: number;
  /** How long a job stays with the worker that claimed it; another takes it over after (a crash). */
  leaseMs?: number;
  /** No background loop: work only when asked (runOnce, drain). */
  manual?: boolean;
}

export interface PolicyWorker {
  wake(): void;
  /** One step (a batch of a job, a batch of due entries); whether there was work. */
  runOnce(): Promise<boolean>;
  /** Do everything that is due now and return (tests, and `roster` commands). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

const JOB_LEASE_MS = 60_000;

/** Who the events of this work are from (data.actor). */
const SCHEDULE_ACTOR = internalActor('scheduler', 'policy schedule');

export function startPolicyWorker(opts: PolicyWorkerOptions): PolicyWorker {
  const { db, policies, golive, logger } = opts;
  const interval = opts.intervalMs ?? 5_000;
  const batch = opts.batch ?? 200;
  const leaseMs = opts.leaseMs ?? JOB_LEASE_MS;
  let stopping = false;
  let waiter: (() => void) | undefined;
  let dirty = true;

  const wake = () => {
    dirty = true;
    waiter?.();
  };
  policies.onWork = wake;

  /**
   * How long other replicas may still act on what they cached before the job
   * started: the policy (a re-evaluation), and the tenant's mode, which comes
   * with the token look-up (a go-live: a write they served as a dry run).
   */
  const settleMs = (job: repo.PolicyJob) => (job.kind === 'goLive' ? Math.max(policies.cacheMs, TOKEN_CACHE_MS) : policies.cacheMs);

  /** One batch of one job; false when there was none to work. */
  async function jobStep(): Promise<boolean> {
    const job = await repo.claimJob(db, leaseMs);
    if (!job) return false;
    // A dry-run tenant's host is told nothing until it goes live, which looks at everyone then.
    if (job.kind === 'reevaluate' && (await repo.tenantModes(db, [job.tenantId])).get(job.tenantId) === 'dryRun') {
      await repo.finishJob(db, job.id);
      return true;
    }
    if (job.phase === 3) {
      const last = await golive.tellGroups(job.tenantId, job.afterId, job.id);
      if (last === undefined) {
        await repo.finishJob(db, job.id);
        logger.info({ tenant: job.tenantId, job: job.id }, 'go-live finished');
      }
      return true;
    }
    const since = job.phase === 2 ? new Date(job.startedAt.getTime() - settleMs(job)) : undefined;
    const ids = await repo.userIdsAfter(db, job.tenantId, job.afterId, batch, since);
    if (ids.length > 0) {
      const now = new Date();
      await db.transaction().execute(async (trx) => {
        let changed = 0;
        const actor = job.kind === 'goLive' ? GO_LIVE_ACTOR : internalActor('policy', `policy version ${job.policyVersion}`);
        for (const id of ids) if (await policies.reevaluate(trx, job.tenantId, id, now, actor)) changed++;
        await repo.advanceJob(trx, job.id, ids[ids.length - 1]!, job.phase === 1 ? ids.length : 0, changed);
      });
    }
    if (ids.length < batch) {
      if (job.phase === 1) await repo.nextPhase(db, job.id, 2, new Date(job.startedAt.getTime() + settleMs(job)));
      else if (job.kind === 'goLive') await repo.nextPhase(db, job.id, 3, new Date());
      else {
        await repo.finishJob(db, job.id);
        logger.info({ tenant: job.tenantId, job: job.id }, 'policy re-evaluation finished');
      }
    }
    return true;
  }

  /** One batch of due schedule entries; false when none was due. */
  async function scheduleStep(): Promise<boolean> {
    return db.transaction().execute(async (trx) => {
      const due = await repo.takeDue(trx, batch);
      const now = new Date();
      const modes = await repo.tenantModes(trx, [...new Set(due.map((d) => d.tenantId))]);
      // Dropped for a dry-run tenant: its go-live looks at every user and schedules them again.
      for (const { tenantId, userId } of due) if (modes.get(tenantId) !== 'dryRun') await policies.reevaluate(trx, tenantId, userId, now, SCHEDULE_ACTOR);
      return due.length > 0;
    });
  }

  async function step(): Promise<boolean> {
    const a = await jobStep();
    const b = await scheduleStep();
    return a || b;
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        waiter = undefined;
        resolve();
      }
      waiter = done;
    });

  let failures = 0;
  const loop = (async () => {
    while (!stopping && !opts.manual) {
      dirty = false;
      try {
        if (await step()) {
          failures = 0;
          continue;
        }
        failures = 0;
      } catch (err) {
        failures++;
        logger.error({ err }, 'policy worker: work failed; retrying');
      }
      if (stopping || dirty) continue;
      await sleep(failures ? Math.min(interval * 2 ** failures, 60_000) : interval);
    }
  })();

  return {
    wake,
    runOnce: step,
    async drain() {
      // Until no job runs (phase 2 starts once the policy cache has expired everywhere: PolicyService.cacheMs).
      for (;;) {
        if (await step()) continue;
        if (!(await repo.hasRunningJob(db))) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      stopping = true;
      waiter?.();
      await loop;
    },
  };
}

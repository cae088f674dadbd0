/**
 * Applying a reviewed import (README "Importing files") through the same
 * UserService as SCIM requests, so policies, the deletion safeguard and
 * events behave exactly as for an IdP's writes.
 *
 * Resumable: each row is marked applied after its write (a few at a time), in file order; an
 * apply after a crash (or after `maxRows`) continues with the first row not
 * marked. A row whose write went through but whose mark did not is written
 * again harmlessly: a PATCH to the same values changes nothing and emits
 * nothing, a creation finds its user by the key, a deletion finds none.
 * Applying an applied import is 409.
 */
import type { Db } from '../db/index.js';
import * as rows from '../db/imports.js';
import type { ImportRecord, ImportRow } from '../db/imports.js';
import type { ImportMapping } from '../policy/import-mapping.js';
import { patchFor } from '../policy/import-mapping.js';
import { PATCH_OP_SCHEMA } from '../scim/schema.js';
import { conflict, ScimError } from '../scim/errors.js';
import { internalActor } from './actor.js';
import { actingContext, type ScimContext } from './context.js';
import { IMPORT_BATCH } from './imports.js';
import { settingsOf, type TenantService } from './tenants.js';
import type { UserService } from './users.js';

/** Rows written at once: each is its own transaction in UserService, as concurrent SCIM requests are. */
export const APPLY_CONCURRENCY = 8;

const deactivate = { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: false }] };

const deprovisions = (r: ImportRow) => r.outcome === 'deactivated' || r.outcome === 'deleted';

/**
 * Rows of a batch name different users: written APPLY_CONCURRENCY at a time,
 * each group marked in one statement. Deactivations and deletions go one by
 * one: the safeguard counts those committed before, so concurrent ones could
 * pass its threshold together.
 */
function* groups(batch: ImportRow[]): Generator<ImportRow[]> {
  let group: ImportRow[] = [];
  for (const row of batch) {
    if (deprovisions(row)) {
      if (group.length) yield group;
      group = [];
      yield [row];
      continue;
    }
    group.push(row);
    if (group.length === APPLY_CONCURRENCY) {
      yield group;
      group = [];
    }
  }
  if (group.length) yield group;
}

export class ImportApplier {
  /** Imports being applied by this process: a second apply at the same time is refused rather than run twice. */
  readonly #running = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly tenants: TenantService,
    private readonly users: UserService,
    /** The tenant's SCIM base URL (event payloads carry it). */
    private readonly baseUrl: (tenantId: string) => string,
  ) {}

  /** Apply the rows not yet applied; at most `maxRows` of them (then the import stays `applying`). */
  async apply(tenantId: string, id: string, opts: { maxRows?: number | undefined } = {}): Promise<ImportRecord> {
    const tenant = await this.tenants.get(tenantId);
    const lock = `${tenantId}/${id}`;
    if (this.#running.has(lock)) throw conflict(`Import ${id} is being applied`);
    const found = await rows.findImport(this.db, tenantId, id);
    if (!found) throw new ScimError(404, `Import ${id} not found`);
    if (found.state === 'applied') throw conflict(`Import ${id} was applied at ${found.appliedAt?.toISOString()}`);
    this.#running.add(lock);
    try {
      const imp = (await rows.claimImport(this.db, tenantId, id))!;
      const mapping = imp.mapping as ImportMapping;
      const ctx = actingContext(tenant, settingsOf(tenant), this.baseUrl(tenantId), internalActor('system', 'import', id));
      let budget = opts.maxRows ?? Number.POSITIVE_INFINITY;
      let finished = false;
      while (budget > 0) {
        const batch = await rows.rowsToApply(this.db, id, Math.min(IMPORT_BATCH, budget));
        if (batch.length === 0) {
          finished = true;
          break;
        }
        for (const group of groups(batch)) {
          const done = await Promise.all(group.map(async (row) => ({ seq: row.seq, ...(await this.#write(ctx, mapping, row)) })));
          await rows.markApplied(this.db, id, done);
          budget -= group.length;
        }
      }
      const counts = await rows.countOutcomes(this.db, id);
      await rows.setImportState(this.db, id, finished ? 'applied' : 'applying', counts);
      return (await rows.findImport(this.db, tenantId, id))!;
    } finally {
      this.#running.delete(lock);
    }
  }

  /** One row through the user service; a refusal (403 license cap, 409 userName taken…) is the row's error, not the import's. */
  async #write(ctx: ScimContext, mapping: ImportMapping, row: ImportRow): Promise<{ userId?: string; error?: string }> {
    try {
      switch (row.outcome) {
        case 'created':
          return await this.#create(ctx, mapping, row);
        case 'deleted':
          await this.users.delete(ctx, row.userId!);
          return {};
        default:
          // Missing from the file: deactivated alone; a row of the file: exactly its changed attributes.
          await this.users.patch(ctx, row.userId!, row.line === null ? deactivate : patchFor(row.resource!, row.changed));
          return {};
      }
    } catch (err) {
      if (!(err instanceof ScimError)) throw err;
      // Deleted since the review (or by the attempt a crash interrupted): nothing left to do.
      if (err.status === 404 && row.outcome !== 'created') return {};
      return { error: `${err.status}: ${err.message}` };
    }
  }

  async #create(ctx: ScimContext, mapping: ImportMapping, row: ImportRow): Promise<{ userId?: string; error?: string }> {
    try {
      const { stored } = await this.users.create(ctx, row.resource);
      await rows.ownUser(this.db, ctx.tenant.id, stored.id);
      return { userId: stored.id };
    } catch (err) {
      // Created by an attempt a crash interrupted (no user had the key at review): the key finds it.
      if (err instanceof ScimError && err.status === 409 && row.key) {
        const userId = await rows.userIdByKey(this.db, ctx.tenant.id, mapping.key, row.key);
        if (userId) {
          await rows.ownUser(this.db, ctx.tenant.id, userId);
          return { userId };
        }
      }
      throw err;
    }
  }
}

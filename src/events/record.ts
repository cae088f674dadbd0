/**
 * The one call services make, inside their transaction, for every committed
 * change of a User or Group (transactional outbox: no change without its
 * event, no event without its change).
 *
 * PLACEHOLDER while the outbox lands: it records nothing yet.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../db/types.js';

export interface ResourceChange {
  tenantId: string;
  resourceType: 'User' | 'Group';
  action: 'created' | 'updated' | 'deleted';
  id: string;
  externalId: string | null;
  /** userName for users, displayName for groups. */
  name: string;
  /** Resource version after the change (the last version for a delete). */
  version: number;
  /** Weak ETag of that version, e.g. W/"3". */
  etag: string;
  /** Canonical attribute paths that changed (empty for create/delete). */
  changed: string[];
  /** Full SCIM representation after the change (id, meta, schemas…); null on delete. */
  resource: Record<string, unknown> | null;
  /** `active` before the change (users), to derive user.deactivated / user.reactivated. */
  activeBefore?: boolean | null;
  /** Group member ids added / removed by this change. */
  membersAdded?: string[];
  membersRemoved?: string[];
}

export async function recordChange(_trx: Transaction<Database>, _change: ResourceChange): Promise<void> {
  // Implemented by the outbox (src/db/outbox.ts).
}

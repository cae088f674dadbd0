/**
 * Connection status of a tenant (README "Connection status"): what a host
 * platform shows as "directory connected" — user and group counts, the last
 * SCIM request, the last 24 hours' requests and errors, webhook health — and
 * the tenant.connected event when the first successful SCIM request arrives.
 */
import type { Db } from '../db/index.js';
import { endpointHealth } from '../db/outbox-housekeeping.js';
import { countResources } from '../db/status.js';
import { findTenant, markConnected } from '../db/tenants.js';
import { listEndpoints } from '../db/webhooks.js';
import { recordTenantEvent } from '../events/record.js';
import type { Endpoint, EndpointHealth } from '../events/types.js';
import { notFound } from '../scim/errors.js';
import type { Actor } from './actor.js';
import type { ScimContext } from './context.js';
import type { RequestLog, StoredRequestLogEntry } from './request-log.js';

const DAY_MS = 24 * 3600_000;
const MAX_USER_AGENT = 256;

export interface ClientInfo {
  userAgent: string | null;
  idp: string | null;
}

export interface TenantStatus {
  tenant: string;
  connectedAt: Date | null;
  users: { total: number; active: number; inactive: number };
  groups: { total: number };
  /** null when none is logged (or the request log is off). */
  lastRequest: StoredRequestLogEntry | null;
  last24h: { requests: number; errors: number };
  webhooks: { endpoint: Endpoint; health: EndpointHealth }[];
}

export class TenantStatusService {
  /** Tenants (id and creation time) known connected by this process: one UPDATE per tenant and process at most. */
  readonly #connected = new Set<string>();
  /** The same for tenant records seen (cached records serve many requests): no key to build for those. */
  readonly #seen = new WeakSet<object>();

  constructor(
    private readonly db: Db,
    private readonly requestLog: RequestLog | undefined,
    private readonly logger?: { warn(obj: object, msg: string): void },
  ) {}

  /**
   * A SCIM request of the tenant succeeded: the first one ever records
   * tenant.connected (exactly once across replicas: see markConnected).
   * Runs in the background after the response; a failure is logged and the
   * next successful request tries again.
   */
  noteSuccess(ctx: ScimContext, client: ClientInfo): void {
    const t = ctx.tenant;
    if (this.#seen.has(t)) return;
    const key = `${t.id}@${t.createdAt.getTime()}`;
    if (t.connectedAt || this.#connected.has(key)) {
      this.#seen.add(t);
      return;
    }
    this.#connected.add(key);
    this.connect(t.id, ctx.actor, client).catch((err: unknown) => {
      this.#connected.delete(key);
      this.logger?.warn({ err, tenant: t.id }, 'could not record tenant.connected; the next successful request tries again');
    });
  }

  /** Mark the tenant connected and record tenant.connected, in one transaction; false when it already was. */
  async connect(tenantId: string, actor: Actor, client: ClientInfo): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const at = await markConnected(trx, tenantId);
      if (!at) return false;
      const userAgent = client.userAgent === null ? null : client.userAgent.slice(0, MAX_USER_AGENT);
      await recordTenantEvent(trx, tenantId, 'tenant.connected', { connectedAt: at.toISOString(), client: { userAgent, idp: client.idp } }, actor);
      return true;
    });
  }

  async status(tenantId: string): Promise<TenantStatus> {
    const tenant = await findTenant(this.db, tenantId);
    if (!tenant) throw notFound(`Tenant "${tenantId}" not found`);
    const counts = await countResources(this.db, tenantId);
    const activity = this.requestLog ? await this.requestLog.activity(tenantId, new Date(Date.now() - DAY_MS)) : { requests: 0, errors: 0, last: undefined };
    const endpoints = await listEndpoints(this.db, tenantId);
    const webhooks = [];
    for (const endpoint of endpoints) webhooks.push({ endpoint, health: await endpointHealth(this.db, endpoint.id) });
    return {
      tenant: tenantId,
      connectedAt: tenant.connectedAt,
      users: { total: counts.users, active: counts.users - counts.inactiveUsers, inactive: counts.inactiveUsers },
      groups: { total: counts.groups },
      lastRequest: activity.last ?? null,
      last24h: { requests: activity.requests, errors: activity.errors },
      webhooks,
    };
  }
}

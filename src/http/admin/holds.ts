/**
 * Admin API: the deletion safeguard's holds (README.md "Deletion safeguard").
 * Registered inside the admin scope with prefix `/tenants/:tenant`:
 *
 *   GET  …/holds                 the tenant's holds, newest first
 *   GET  …/holds/{id}            one hold and what it holds, oldest first
 *   POST …/holds/{id}/release    tell the host, in order
 *   POST …/holds/{id}/reject     drop what was held
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { badRequest } from '../../scim/errors.js';
import type { HoldItem, HoldRecord, SafeguardService } from '../../services/safeguard.js';
import type { TenantService } from '../../services/tenants.js';
import { DEFAULT_PAGE, MAX_PAGE } from '../../services/timeline.js';
import { ActorSchema, DateTime, iso, Next, Nullable, PageQueryProps } from './common.js';

export interface HoldRoutesOptions {
  tenants: TenantService;
  safeguard: SafeguardService;
}

const tags = ['Admin: safeguard'];
const STATES = ['open', 'released', 'rejected'] as const;

const Params = Type.Object({ tenant: Type.String() });
const HoldParams = Type.Object({ tenant: Type.String(), id: Type.String() });

const HoldSchema = Type.Object({
  id: Type.String(),
  state: Type.Union(STATES.map((s) => Type.Literal(s))),
  reason: Type.String({ description: 'Why the safeguard held: the count or share beyond the threshold' }),
  items: Type.Integer({ description: 'Deactivations and deletions held' }),
  heldEvents: Type.Integer({ description: "Events waiting behind the hold (the held users' later events too); 0 once decided" }),
  createdAt: DateTime,
  decidedAt: Nullable(DateTime),
  decidedBy: Nullable(ActorSchema),
});

const ItemSchema = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  userName: Type.String(),
  externalId: Nullable(Type.String()),
  event: Type.String({ description: 'user.deactivated or user.deleted' }),
  from: Type.String({ description: 'What the host had before: active or inactive (restored on reject)' }),
  requestId: Nullable(Type.String({ description: 'The SCIM request that caused it (the provisioning log has it); null for the policy scheduler' })),
  at: DateTime,
});

const holdOut = (h: HoldRecord) => ({
  id: h.id,
  state: h.state,
  reason: h.reason,
  items: h.items,
  heldEvents: h.heldEvents,
  createdAt: h.createdAt.toISOString(),
  decidedAt: iso(h.decidedAt),
  decidedBy: h.decidedBy,
});

const itemOut = (i: HoldItem) => ({ ...i, at: i.at.toISOString() });

function page(q: { limit?: string | undefined; cursor?: string | undefined }): { limit: number; cursor: string | undefined } {
  const limit = q.limit === undefined ? DEFAULT_PAGE : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badRequest('invalidValue', `limit must be 1–${MAX_PAGE}`);
  if (q.cursor !== undefined && !/^[0-9]{1,18}$/.test(q.cursor)) throw badRequest('invalidValue', 'cursor is not one this API returned');
  return { limit, cursor: q.cursor };
}

type P = { tenant: string };
type HP = { tenant: string; id: string };
type PageQuery = { limit?: string; cursor?: string };

export async function holdRoutes(app: FastifyInstance, opts: HoldRoutesOptions): Promise<void> {
  const { tenants, safeguard } = opts;

  app.get(
    '/holds',
    {
      schema: {
        tags,
        summary: "The tenant's safeguard holds, newest first (cursor paging)",
        params: Params,
        querystring: Type.Object({ state: Type.Optional(Type.Union(STATES.map((s) => Type.Literal(s)))), ...PageQueryProps }, { additionalProperties: false }),
        response: { 200: Type.Object({ holds: Type.Array(HoldSchema), next: Next }) },
      },
    },
    async (req: FastifyRequest<{ Params: P; Querystring: PageQuery & { state?: HoldRecord['state'] } }>) => {
      await tenants.get(req.params.tenant);
      const { limit, cursor } = page(req.query);
      const holds = await safeguard.list(req.params.tenant, { state: req.query.state, before: cursor, limit: limit + 1 });
      const more = holds.length > limit;
      const shown = holds.slice(0, limit);
      return { holds: shown.map(holdOut), next: more ? shown.at(-1)!.id : null };
    },
  );

  app.get(
    '/holds/:id',
    {
      schema: {
        tags,
        summary: 'One hold and the deactivations and deletions it holds, oldest first (cursor paging over the items)',
        params: HoldParams,
        querystring: Type.Object(PageQueryProps, { additionalProperties: false }),
        response: { 200: Type.Object({ hold: HoldSchema, items: Type.Array(ItemSchema), next: Next }) },
      },
    },
    async (req: FastifyRequest<{ Params: HP; Querystring: PageQuery }>) => {
      await tenants.get(req.params.tenant);
      const { limit, cursor } = page(req.query);
      const { hold, items } = await safeguard.get(req.params.tenant, req.params.id, { after: cursor, limit: limit + 1 });
      const more = items.length > limit;
      const shown = items.slice(0, limit);
      return { hold: holdOut(hold), items: shown.map(itemOut), next: more ? shown.at(-1)!.id : null };
    },
  );

  for (const [verb, action, summary] of [
    ['release', 'hold.released', 'Release a hold: the host is told what was held, in order, as if it happened now'],
    ['reject', 'hold.rejected', 'Reject a hold: its events are dropped; users still in Roster keep what the host had, marked until the IdP reactivates them'],
  ] as const) {
    app.post(
      `/holds/:id/${verb}`,
      {
        config: { audit: action },
        schema: { tags, summary, params: HoldParams, response: { 200: HoldSchema } },
      },
      async (req: FastifyRequest<{ Params: HP }>) => {
        await tenants.get(req.params.tenant);
        const actor = req.adminActor ?? { type: 'system' as const, name: 'admin API' };
        const hold = verb === 'release' ? await safeguard.release(req.params.tenant, req.params.id, actor) : await safeguard.reject(req.params.tenant, req.params.id, actor);
        return holdOut(hold);
      },
    );
  }
}

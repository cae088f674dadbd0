/**
 * Admin API: setup links for a customer's IT admin (README.md "Setup links
 * for the customer's IT admin"). Registered with prefix `/tenants/:tenant`:
 *
 *   POST   …/setup-links        a new link (its URL shown once)
 *   GET    …/setup-links        the tenant's links, newest first
 *   DELETE …/setup-links/{id}   revoke one
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { SETUP_LINK_DEFAULT_DAYS, SETUP_LINK_MAX_DAYS, type SetupLinkRecord, type SetupLinkService } from '../../services/setup-links.js';
import { DateTime, iso, Nullable } from './common.js';

const tags = ['Admin: setup links'];
const Params = Type.Object({ tenant: Type.String() });
const LinkParams = Type.Object({ tenant: Type.String(), id: Type.String() });

const LinkSchema = Type.Object({
  id: Type.String(),
  createdAt: DateTime,
  expiresAt: DateTime,
  openedAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
  idp: Nullable(Type.String({ description: 'The identity provider chosen on the page' })),
  tokenGenerated: Type.Boolean({ description: 'Whether the page generated its SCIM token' }),
});

const linkOut = (l: SetupLinkRecord) => ({
  id: l.id,
  createdAt: l.createdAt.toISOString(),
  expiresAt: l.expiresAt.toISOString(),
  openedAt: iso(l.openedAt),
  revokedAt: iso(l.revokedAt),
  idp: l.idp,
  tokenGenerated: l.tokenId !== null,
});

type P = { tenant: string };

export async function setupLinkRoutes(app: FastifyInstance, opts: { setupLinks: SetupLinkService }): Promise<void> {
  const { setupLinks } = opts;
  app.post(
    '/setup-links',
    {
      config: { audit: 'setup_link.created' },
      schema: {
        tags,
        summary: "A one-time, time-limited setup link for the tenant's IT admin; the URL is shown once",
        params: Params,
        body: Type.Optional(
          Type.Object(
            { expiresInDays: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: SETUP_LINK_MAX_DAYS, description: `Default ${SETUP_LINK_DEFAULT_DAYS}` })) },
            { additionalProperties: false },
          ),
        ),
        response: { 201: Type.Intersect([LinkSchema, Type.Object({ url: Type.String({ description: 'Shown once: only a hash is stored' }) })]) },
      },
    },
    async (req: FastifyRequest<{ Params: P; Body: { expiresInDays?: number } | undefined }>, reply) => {
      const actor = req.adminActor ?? { type: 'system' as const, name: 'admin API' };
      const { link, url } = await setupLinks.create(req.params.tenant, { expiresInDays: req.body?.expiresInDays }, actor);
      return reply.code(201).send({ ...linkOut(link), url });
    },
  );
  app.get(
    '/setup-links',
    { schema: { tags, summary: "The tenant's setup links, newest first (never their URLs)", params: Params, response: { 200: Type.Object({ setupLinks: Type.Array(LinkSchema) }) } } },
    async (req: FastifyRequest<{ Params: P }>) => ({ setupLinks: (await setupLinks.list(req.params.tenant)).map(linkOut) }),
  );
  app.delete(
    '/setup-links/:id',
    { config: { audit: 'setup_link.revoked' }, schema: { tags, summary: 'Revoke a setup link (a page open with it stops working)', params: LinkParams, response: { 200: LinkSchema } } },
    async (req: FastifyRequest<{ Params: { tenant: string; id: string } }>) => linkOut(await setupLinks.revoke(req.params.tenant, req.params.id)),
  );
}

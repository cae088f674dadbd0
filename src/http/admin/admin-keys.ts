/** Named admin keys (README "Authentication"): POST/GET /admin-keys, DELETE /admin-keys/{id}, GET /whoami. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AdminKeyRecord, AdminKeyService, AdminPrincipal } from '../../services/admin-keys.js';
import { ADMIN_SCOPE_MEANING, ADMIN_SCOPES } from '../../services/scopes.js';
import { ActorSchema, DateTime, iso, Nullable } from './common.js';

const AdminScopeSchema = Type.Union(
  ADMIN_SCOPES.map((s) => Type.Literal(s)),
  { description: ADMIN_SCOPES.map((s) => `${s}: ${ADMIN_SCOPE_MEANING[s]}`).join('; ') },
);

const AdminKeyInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'First characters of the key, to recognise it' }),
  scopes: Type.Array(AdminScopeSchema),
  tenant: Nullable(Type.String({ description: 'The one tenant the key opens; null: every tenant' })),
  createdAt: DateTime,
  lastUsedAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
});

const keyOut = (k: AdminKeyRecord) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  tenant: k.tenantId,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: iso(k.lastUsedAt),
  revokedAt: iso(k.revokedAt),
});

const principal = (req: FastifyRequest): AdminPrincipal => req.adminPrincipal!;

export async function adminKeyRoutes(app: FastifyInstance, opts: { keys: AdminKeyService }): Promise<void> {
  const { keys } = opts;
  const tags = ['Admin: keys'];

  app.get(
    '/whoami',
    {
      schema: {
        tags,
        summary: 'Who the credential of this request is, its scopes and tenant',
        response: { 200: Type.Object({ actor: ActorSchema, scopes: Type.Array(AdminScopeSchema), tenant: Nullable(Type.String()) }) },
      },
    },
    async (req) => ({ actor: principal(req).actor, scopes: [...principal(req).scopes], tenant: principal(req).tenant }),
  );

  app.post(
    '/admin-keys',
    {
      config: { audit: 'admin_key.created' },
      schema: {
        tags,
        summary: 'Create a named admin key (shown once; only its hash is stored)',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            scopes: Type.Array(AdminScopeSchema, { minItems: 1 }),
            tenant: Type.Optional(Type.String({ description: 'Bind the key to this one tenant' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Intersect([AdminKeyInfo, Type.Object({ key: Type.String({ description: 'The bearer token. Shown once.' }) })]) },
      },
    },
    async (req: FastifyRequest<{ Body: { name: string; scopes: string[]; tenant?: string } }>, reply) => {
      const issued = await keys.create(principal(req), req.body);
      return reply.code(201).send({ ...keyOut(issued.key), key: issued.secret });
    },
  );

  app.get(
    '/admin-keys',
    { schema: { tags, summary: 'List admin keys (without secrets); a tenant-bound key sees its tenant’s', response: { 200: Type.Object({ keys: Type.Array(AdminKeyInfo) }) } } },
    async (req) => ({ keys: (await keys.list(principal(req))).map(keyOut) }),
  );

  app.delete(
    '/admin-keys/:id',
    { config: { audit: 'admin_key.revoked' }, schema: { tags, summary: 'Revoke an admin key (at once on this replica, within 5 s on the others)', params: Type.Object({ id: Type.String() }) } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      await keys.revoke(principal(req), req.params.id);
      return reply.code(204).send();
    },
  );
}

/**
 * OAuth clients of a tenant (README "Authentication"): POST/GET
 * …/oauth-clients, DELETE …/oauth-clients/{id}; and the rotation of the keys
 * that sign Roster's access tokens.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { OAuthClientRecord, OAuthService } from '../../services/oauth.js';
import { SCIM_SCOPES } from '../../services/scopes.js';
import { TOKEN_PATH } from '../oauth.js';
import { DateTime, iso, Nullable } from './common.js';

const ScimScope = Type.Union(SCIM_SCOPES.map((s) => Type.Literal(s)));

const ClientInfo = Type.Object({
  id: Type.String(),
  clientId: Type.String({ description: 'The OAuth client_id' }),
  name: Type.String(),
  scopes: Type.Array(ScimScope),
  createdAt: DateTime,
  expiresAt: Nullable(DateTime),
  lastUsedAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
});

const clientOut = (c: OAuthClientRecord) => ({
  id: c.id,
  clientId: c.clientId,
  name: c.name,
  scopes: c.scopes,
  createdAt: c.createdAt.toISOString(),
  expiresAt: iso(c.expiresAt),
  lastUsedAt: iso(c.lastUsedAt),
  revokedAt: iso(c.revokedAt),
});

type P = { tenant: string };

export async function oauthClientRoutes(app: FastifyInstance, opts: { oauth: OAuthService }): Promise<void> {
  const { oauth } = opts;
  const tags = ['Admin: OAuth'];

  app.post(
    '/tenants/:tenant/oauth-clients',
    {
      config: { audit: 'oauth_client.created' },
      schema: {
        tags,
        summary: 'Create an OAuth client (client credentials grant); the secret is shown once',
        params: Type.Object({ tenant: Type.String() }),
        body: Type.Object(
          { name: Type.Optional(Type.String()), scopes: Type.Optional(Type.Array(ScimScope, { description: 'Default: every scope' })), expiresAt: Type.Optional(DateTime) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([ClientInfo, Type.Object({ clientSecret: Type.String({ description: 'Shown once; only its hash is stored' }), tokenEndpoint: Type.String() })]),
        },
      },
    },
    async (req: FastifyRequest<{ Params: P; Body: { name?: string; scopes?: string[]; expiresAt?: string } }>, reply) => {
      const { client, secret } = await oauth.createClient(req.params.tenant, { ...req.body, expiresAt: req.body.expiresAt ? new Date(req.body.expiresAt) : null });
      return reply.code(201).send({ ...clientOut(client), clientSecret: secret, tokenEndpoint: `${oauth.issuer}${TOKEN_PATH}` });
    },
  );

  app.get(
    '/tenants/:tenant/oauth-clients',
    { schema: { tags, summary: 'List OAuth clients (without secrets)', params: Type.Object({ tenant: Type.String() }), response: { 200: Type.Object({ clients: Type.Array(ClientInfo) }) } } },
    async (req: FastifyRequest<{ Params: P }>) => ({ clients: (await oauth.listClients(req.params.tenant)).map(clientOut) }),
  );

  app.delete(
    '/tenants/:tenant/oauth-clients/:id',
    {
      config: { audit: 'oauth_client.revoked' },
      schema: { tags, summary: 'Revoke an OAuth client: no new tokens, and the ones issued stop working', params: Type.Object({ tenant: Type.String(), id: Type.String() }) },
    },
    async (req: FastifyRequest<{ Params: P & { id: string } }>, reply) => {
      await oauth.revokeClient(req.params.tenant, req.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/oauth/signing-keys/rotate',
    {
      config: { audit: 'oauth_signing_key.rotated' },
      schema: {
        tags,
        summary: 'Sign access tokens with a new key; the previous key stays published until its tokens have expired',
        response: { 200: Type.Object({ kid: Type.String() }) },
      },
    },
    async () => oauth.rotate(),
  );
}

/** Trusted JWT issuers of a tenant (README "Authentication"): POST/GET …/trusted-issuers, DELETE …/trusted-issuers/{id}. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { SCIM_SCOPES } from '../../services/scopes.js';
import { DEFAULT_JWT_ALGORITHMS, JWT_ALGORITHMS, type IssuerInput, type TrustedIssuerRecord, type TrustedIssuerService } from '../../services/trusted-issuers.js';
import { DateTime, Nullable } from './common.js';

const Alg = Type.Union(JWT_ALGORITHMS.map((a) => Type.Literal(a)));
const ScimScope = Type.Union(SCIM_SCOPES.map((s) => Type.Literal(s)));

const Fields = {
  name: Type.String(),
  issuer: Type.String({ description: 'The `iss` its tokens carry' }),
  audience: Type.String({ description: 'The `aud` its tokens must carry (e.g. the tenant’s SCIM base URL)' }),
  jwksUrl: Type.String({ description: 'https URL of the issuer’s JWKS' }),
  algorithms: Type.Array(Alg, { description: `Accepted signature algorithms (default ${DEFAULT_JWT_ALGORITHMS.join(', ')}); never none or HMAC` }),
  tenantClaim: Nullable(Type.String({ description: 'A claim that must equal the tenant id; null: every token of the issuer is for this tenant' })),
  scopes: Type.Array(ScimScope, { description: 'Most a token may do; a token’s own scope/scp claim narrows it' }),
};
const IssuerInfo = Type.Object({ id: Type.String(), ...Fields, createdAt: DateTime });

const out = (i: TrustedIssuerRecord) => ({
  id: i.id,
  name: i.name,
  issuer: i.issuer,
  audience: i.audience,
  jwksUrl: i.jwksUrl,
  algorithms: i.algorithms,
  tenantClaim: i.tenantClaim,
  scopes: i.scopes,
  createdAt: i.createdAt.toISOString(),
});

type P = { tenant: string };

export async function trustedIssuerRoutes(app: FastifyInstance, opts: { issuers: TrustedIssuerService }): Promise<void> {
  const { issuers } = opts;
  const tags = ['Admin: trusted issuers'];
  app.post(
    '/tenants/:tenant/trusted-issuers',
    {
      config: { audit: 'trusted_issuer.created' },
      schema: {
        tags,
        summary: 'Trust an external issuer’s JWTs for this tenant’s SCIM base URL',
        params: Type.Object({ tenant: Type.String() }),
        body: Type.Object(
          {
            name: Type.Optional(Fields.name),
            issuer: Fields.issuer,
            audience: Fields.audience,
            jwksUrl: Fields.jwksUrl,
            algorithms: Type.Optional(Fields.algorithms),
            tenantClaim: Type.Optional(Type.String()),
            scopes: Type.Optional(Fields.scopes),
          },
          { additionalProperties: false },
        ),
        response: { 201: IssuerInfo },
      },
    },
    async (req: FastifyRequest<{ Params: P; Body: IssuerInput }>, reply) => reply.code(201).send(out(await issuers.create(req.params.tenant, req.body))),
  );

  app.get(
    '/tenants/:tenant/trusted-issuers',
    { schema: { tags, summary: 'List trusted issuers', params: Type.Object({ tenant: Type.String() }), response: { 200: Type.Object({ issuers: Type.Array(IssuerInfo) }) } } },
    async (req: FastifyRequest<{ Params: P }>) => ({ issuers: (await issuers.list(req.params.tenant)).map(out) }),
  );

  app.delete(
    '/tenants/:tenant/trusted-issuers/:id',
    { config: { audit: 'trusted_issuer.deleted' }, schema: { tags, summary: 'Stop trusting an issuer (at once on this replica, within 5 s on the others)', params: Type.Object({ tenant: Type.String(), id: Type.String() }) } },
    async (req: FastifyRequest<{ Params: P & { id: string } }>, reply) => {
      await issuers.delete(req.params.tenant, req.params.id);
      return reply.code(204).send();
    },
  );
}

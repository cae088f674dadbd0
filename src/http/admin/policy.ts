/**
 * Admin API: a tenant's provisioning policy (README.md, "Provisioning
 * policies"). Registered inside the admin scope with prefix
 * `/tenants/:tenant`: /admin/v1/tenants/{tenant}/policy…
 *
 * GET gives the document with every default filled in and a read-only
 * `meta` (version, when, by whom); PUT takes the same document back (`meta`
 * is ignored), so GET, edit, PUT is the way to change one part. Versions
 * are weak ETags (W/"3"): If-Match on PUT refuses to overwrite a change made
 * meanwhile (412).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { PolicySchema } from '../../policy/policy.js';
import { etagOf } from '../../scim/representation.js';
import type { PolicyDocument, PolicyService } from '../../services/policies.js';

const Params = Type.Object({ tenant: Type.String() });
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);

const Meta = Type.Object({
  version: Type.Integer({ description: '0 while the tenant never set a policy (the defaults apply)' }),
  updatedAt: Nullable(DateTime),
  updatedBy: Nullable(Type.Object({}, { additionalProperties: true })),
});

/** What GET answers: the policy, and read-only meta. PUT accepts it back. */
const PolicyDocumentSchema = Type.Intersect([PolicySchema, Type.Object({ meta: Meta })]);
/** What PUT accepts: the document GET answers, every section and key optional (defaults filled in), meta ignored; checked by the service, which names every problem. */
const PolicyInput = Type.Object({}, { additionalProperties: true, description: 'A policy document in the shape GET answers; sections and keys left out take their defaults; `meta` is ignored' });

const JobSchema = Nullable(
  Type.Object({
    state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('cancelled')]),
    policyVersion: Type.Integer(),
    processed: Type.Integer({ description: 'Users looked at so far' }),
    total: Type.Integer({ description: 'Users of the tenant when it started' }),
    changed: Type.Integer({ description: 'Users whose host state changed (events sent)' }),
    startedAt: DateTime,
    finishedAt: Nullable(DateTime),
  }),
);

const out = (d: PolicyDocument) => ({
  ...d.policy,
  meta: { version: d.version, updatedAt: d.updatedAt ? d.updatedAt.toISOString() : null, updatedBy: d.updatedBy },
});

type P = { tenant: string };

export async function policyRoutes(app: FastifyInstance, opts: { policies: PolicyService }): Promise<void> {
  const { policies } = opts;
  const tags = ['Admin: policy'];

  const send = (reply: FastifyReply, d: PolicyDocument) => reply.header('etag', etagOf(d.version)).send(out(d));

  app.get(
    '/policy',
    { schema: { tags, summary: 'The provisioning policy in force (defaults filled in), with its version', params: Params, response: { 200: PolicyDocumentSchema } } },
    async (req: FastifyRequest<{ Params: P }>, reply) => send(reply, await policies.get(req.params.tenant)),
  );

  app.put(
    '/policy',
    {
      config: { audit: 'tenant.policy_updated' },
      schema: {
        tags,
        summary: 'Set the provisioning policy: a new version, then every user is looked at again in the background',
        description: 'A 400 names every problem (schema, filters that do not parse, paths that name no attribute). If-Match: W/"<version>" refuses to overwrite a newer version (412).',
        params: Params,
        body: PolicyInput,
        response: { 200: PolicyDocumentSchema },
      },
    },
    async (req: FastifyRequest<{ Params: P; Body: unknown }>, reply) =>
      send(reply, await policies.put(req.params.tenant, req.body, { ifMatch: req.headers['if-match'] })),
  );

  app.get(
    '/policy/versions',
    {
      schema: {
        tags,
        summary: 'Earlier versions of the policy, newest first (the last 50)',
        params: Params,
        response: { 200: Type.Object({ versions: Type.Array(PolicyDocumentSchema) }) },
      },
    },
    async (req: FastifyRequest<{ Params: P }>) => ({ versions: (await policies.versions(req.params.tenant)).map(out) }),
  );

  app.get(
    '/policy/status',
    {
      schema: {
        tags,
        summary: 'Progress of the re-evaluation a policy change started, and license usage',
        params: Params,
        response: {
          200: Type.Object({
            reevaluation: JobSchema,
            usage: Type.Object({ licenseCap: Nullable(Type.Integer()), activeUsers: Type.Integer(), capReached: Type.Boolean() }),
          }),
        },
      },
    },
    async (req: FastifyRequest<{ Params: P }>) => {
      const job = await policies.job(req.params.tenant);
      return {
        reevaluation: job
          ? {
              state: job.state,
              policyVersion: job.policyVersion,
              processed: job.processed,
              total: job.total,
              changed: job.changed,
              startedAt: job.startedAt.toISOString(),
              finishedAt: job.finishedAt ? job.finishedAt.toISOString() : null,
            }
          : null,
        usage: await policies.usage(req.params.tenant),
      };
    },
  );
}

/**
 * GET /.well-known/jwks.json: the public keys that verify Roster's RFC 9967
 * Security Event Tokens and its OAuth access tokens (distinct `kid`s; the
 * `kid` in each JWT's header names its key; OAuth kids start `oauth-`).
 * Public by design; register at the root, outside the admin scope.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../db/index.js';
import { jwks } from '../events/set.js';
import type { OAuthService } from '../services/oauth.js';

export async function jwksRoutes(app: FastifyInstance, opts: { db: Db; oauth?: OAuthService }): Promise<void> {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['Events'],
        summary: 'JWKS verifying the Security Event Tokens Roster pushes and the access tokens it issues',
        response: { 200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }) },
      },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      const set = await jwks(opts.db);
      return { keys: [...set.keys, ...(opts.oauth ? await opts.oauth.publicKeys() : [])] };
    },
  );
}

/**
 * GET /.well-known/jwks.json: the public key(s) that verify Roster's RFC 9967
 * Security Event Tokens (the `kid` in each SET's header names the key).
 * Public by design; register at the root, outside the admin scope.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../db/index.js';
import { jwks } from '../events/set.js';

export async function jwksRoutes(app: FastifyInstance, opts: { db: Db }): Promise<void> {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['Events'],
        summary: 'JWKS verifying the Security Event Tokens Roster pushes',
        response: { 200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }) },
      },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return jwks(opts.db);
    },
  );
}

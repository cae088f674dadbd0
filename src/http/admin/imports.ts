/**
 * Admin API: file imports (README "Importing files"). Registered inside the
 * admin scope with prefix `/tenants/:tenant`:
 *
 *   PUT  …/import-mapping              save the tenant's column mapping
 *   GET  …/import-mapping
 *   POST …/imports                     upload a CSV file (text/csv, streamed): staged, validated, diffed
 *   GET  …/imports                     the tenant's imports, newest first
 *   GET  …/imports/{id}                counts per outcome and state
 *   GET  …/imports/{id}/{outcome}.csv  the rows of one outcome
 *   POST …/imports/{id}/apply          write the changes (resumable, once)
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { OUTCOMES, type ImportRecord } from '../../db/imports.js';
import { IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, ImportMappingSchema, type ImportMapping } from '../../policy/import-mapping.js';
import { badRequest, ScimError } from '../../scim/errors.js';
import type { ImportApplier } from '../../services/import-apply.js';
import type { ImportService } from '../../services/imports.js';
import { MAX_PAGE } from '../../services/timeline.js';
import { ActorSchema, DateTime, iso, Next, Nullable, PageQueryProps } from './common.js';

export interface ImportRoutesOptions {
  imports: ImportService;
  applier: ImportApplier;
}

const tags = ['Admin: imports'];
const Params = Type.Object({ tenant: Type.String() });
const IdParams = Type.Object({ tenant: Type.String(), id: Type.String() });

const ImportSchema = Type.Object({
  id: Type.String(),
  state: Type.Union([Type.Literal('review'), Type.Literal('applying'), Type.Literal('applied')], {
    description: 'review: nothing changed yet; applying: an apply started (or stopped at maxRows) — apply again to continue; applied',
  }),
  rows: Type.Integer({ description: "The file's data rows" }),
  counts: Type.Record(Type.String(), Type.Integer(), {
    description: 'Rows per outcome (created, updated, deactivated, reactivated, deleted, unchanged, rejected; missing users count as deactivated or deleted), and applied / failed',
  }),
  columns: Type.Array(Type.String(), { description: "The file's header" }),
  mapping: ImportMappingSchema,
  createdBy: Nullable(ActorSchema),
  createdAt: DateTime,
  appliedAt: Nullable(DateTime),
});

const out = (i: ImportRecord) => ({
  id: i.id,
  state: i.state,
  rows: i.rows,
  counts: i.counts,
  columns: i.columns,
  mapping: i.mapping,
  createdBy: i.createdBy,
  createdAt: i.createdAt.toISOString(),
  appliedAt: iso(i.appliedAt),
});

const count = (v: string | undefined, name: string, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw badRequest('invalidValue', `${name} must be 1–${max}`);
  return n;
};

type P = { tenant: string };
type IP = { tenant: string; id: string };

export async function importRoutes(app: FastifyInstance, opts: ImportRoutesOptions): Promise<void> {
  const { imports, applier } = opts;
  // The file is read as it arrives (src/services/imports.ts), never buffered: the body is the request stream.
  app.addContentTypeParser('text/csv', (_req: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => done(null, payload));

  app.put(
    '/import-mapping',
    {
      config: { audit: 'import_mapping.updated' },
      schema: { tags, summary: "Save the tenant's import mapping: the next files need none", params: Params, body: ImportMappingSchema, response: { 200: ImportMappingSchema } },
    },
    async (req: FastifyRequest<{ Params: P; Body: ImportMapping }>) => imports.putMapping(req.params.tenant, req.body),
  );

  app.get(
    '/import-mapping',
    { schema: { tags, summary: "The tenant's saved import mapping", params: Params, response: { 200: ImportMappingSchema } } },
    async (req: FastifyRequest<{ Params: P }>) => imports.getMapping(req.params.tenant),
  );

  app.post(
    '/imports',
    {
      // The file is no audit detail: the entry keeps the import's summary.
      config: { audit: 'import.created', auditBody: 'response' },
      schema: {
        tags,
        summary: `Upload a CSV file (Content-Type text/csv; UTF-8, BOM or not; , or ; ; a header row; at most ${IMPORT_MAX_ROWS} rows and ${IMPORT_MAX_BYTES} bytes): staged, validated and compared with the tenant's users. Nothing changes until it is applied`,
        params: Params,
        querystring: Type.Object(
          {
            mapping: Type.Optional(Type.String({ description: "The mapping as JSON (the import-mapping body); default the tenant's saved mapping" })),
          },
          { additionalProperties: false },
        ),
        response: { 201: ImportSchema },
      },
    },
    async (req: FastifyRequest<{ Params: P; Querystring: { mapping?: string } }>, reply) => {
      if (!(req.body instanceof Readable)) {
        const type = String(req.headers['content-type'] ?? 'none');
        throw req.body === undefined || req.body === null ? badRequest('invalidValue', 'The file is empty: a header row is required') : new ScimError(415, `Content-Type ${type}: send the file as text/csv`);
      }
      const imp = await imports.upload(req.params.tenant, req.body, { mapping: req.query.mapping, actor: req.adminActor });
      return reply.code(201).send(out(imp));
    },
  );

  app.get(
    '/imports',
    {
      schema: {
        tags,
        summary: "The tenant's imports, newest first (cursor paging)",
        params: Params,
        querystring: Type.Object(PageQueryProps, { additionalProperties: false }),
        response: { 200: Type.Object({ imports: Type.Array(ImportSchema), next: Next }) },
      },
    },
    async (req: FastifyRequest<{ Params: P; Querystring: { limit?: string; cursor?: string } }>) => {
      const limit = count(req.query.limit, 'limit', MAX_PAGE) ?? 100;
      const list = await imports.list(req.params.tenant, { before: req.query.cursor, limit: limit + 1 });
      const shown = list.slice(0, limit);
      return { imports: shown.map(out), next: list.length > limit ? shown.at(-1)!.id : null };
    },
  );

  app.get(
    '/imports/:id',
    { schema: { tags, summary: 'One import: its state and rows per outcome', params: IdParams, response: { 200: ImportSchema } } },
    async (req: FastifyRequest<{ Params: IP }>) => out(await imports.get(req.params.tenant, req.params.id)),
  );

  for (const outcome of OUTCOMES) {
    app.get(
      `/imports/:id/${outcome}.csv`,
      {
        schema: {
          tags,
          summary: `The ${outcome} rows as CSV: line, key, userId, changed (attribute paths), reason, then the file's columns`,
          params: IdParams,
          produces: ['text/csv'],
        },
      },
      async (req: FastifyRequest<{ Params: IP }>, reply) => {
        const body = await imports.csv(req.params.tenant, req.params.id, outcome);
        return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${outcome}.csv"`).send(body);
      },
    );
  }

  app.post(
    '/imports/:id/apply',
    {
      config: { audit: 'import.applied' },
      schema: {
        tags,
        summary: 'Apply an import through the same services as SCIM requests (policies, safeguard, events); resumable: an apply continues where the last stopped. 409 once applied',
        params: IdParams,
        querystring: Type.Object(
          { maxRows: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Stop after this many rows (the import stays applying; apply again to continue)' })) },
          { additionalProperties: false },
        ),
        response: { 200: ImportSchema },
      },
    },
    async (req: FastifyRequest<{ Params: IP; Querystring: { maxRows?: string } }>) =>
      out(await applier.apply(req.params.tenant, req.params.id, { maxRows: count(req.query.maxRows, 'maxRows', IMPORT_MAX_ROWS) })),
  );
}

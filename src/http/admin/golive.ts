/**
 * Admin API: going live safely (README.md, "Going live safely"). Registered
 * inside the admin scope with prefix `/tenants/:tenant`:
 *
 *   PUT  …/host-users            the host's existing users (CSV, streamed; or JSON)
 *   GET  …/dry-run               what going live would send, counted
 *   GET  …/dry-run/{file}.csv    the rows of one outcome (created, updated,
 *                                deactivated, deleted, skipped, host-only), streamed
 *   POST …/go-live               switch to live and tell the host the resulting state
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { HostUser } from '../../db/golive.js';
import { problems } from '../../policy/validate.js';
import { badRequest } from '../../scim/errors.js';
import { checkString } from '../../scim/json.js';
import { HOST_ONLY_COLUMNS, OUTCOMES, type GoLiveService, type Outcome } from '../../services/golive.js';

const Params = Type.Object({ tenant: Type.String() });
const FileParams = Type.Object({ tenant: Type.String(), file: Type.String({ description: `${OUTCOMES.join(', ')} or host-only, with .csv` }) });
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);

const Counts = Type.Object(Object.fromEntries([...OUTCOMES, 'total'].map((o) => [o, Type.Integer()])));

const Report = Type.Object({
  mode: Type.Union([Type.Literal('live'), Type.Literal('dryRun')]),
  policyVersion: Type.Integer(),
  users: Counts,
  groups: Type.Object({ synced: Type.Integer(), skipped: Type.Integer() }),
  reconciliation: Type.Object({
    hostUsers: Type.Integer(),
    matched: Type.Integer({ description: 'IdP users linked to a host user (will be linked, not created)' }),
    matchedByExternalId: Type.Integer(),
    matchedByEmail: Type.Integer(),
    hostOnly: Type.Integer({ description: 'Host users no IdP user matches: candidates for deactivation, which Roster never does by itself' }),
    sharedEmails: Type.Integer({ description: 'Host users whose email another host user has too: never matched by email' }),
  }),
  license: Type.Object({ cap: Nullable(Type.Integer()), activeAfterGoLive: Type.Integer(), overBy: Type.Integer() }),
  files: Type.Record(Type.String(), Type.String(), { description: 'The report files (CSV)' }),
});

const Job = Nullable(
  Type.Object({
    kind: Type.String(),
    state: Type.String(),
    phase: Type.Integer(),
    processed: Type.Integer(),
    total: Type.Integer(),
    changed: Type.Integer(),
    startedAt: DateTime,
    finishedAt: Nullable(DateTime),
  }),
);

const HostUsersJson = Type.Union([
  Type.Array(Type.Object({ hostUserId: Type.String({ minLength: 1 }), email: Type.Optional(Nullable(Type.String())), externalId: Type.Optional(Nullable(Type.String())) }, { additionalProperties: false })),
  Type.Object({ users: Type.Array(Type.Object({ hostUserId: Type.String({ minLength: 1 }), email: Type.Optional(Nullable(Type.String())), externalId: Type.Optional(Nullable(Type.String())) }, { additionalProperties: false })) }, { additionalProperties: false }),
]);

/** Columns of an upload, by their lower-cased header, accepting the names host platforms use. */
const COLUMN_NAMES: Record<string, keyof HostUser> = {
  hostuserid: 'hostUserId',
  id: 'hostUserId',
  userid: 'hostUserId',
  user_id: 'hostUserId',
  email: 'email',
  mail: 'email',
  externalid: 'externalId',
  external_id: 'externalId',
};

/** Host users from a CSV upload (a header row; `,` or `;`; UTF-8, with or without BOM; quoted fields), streamed. */
async function* fromCsv(body: NodeJS.ReadableStream): AsyncGenerator<{ line: number; user: HostUser }> {
  const parser = parse({ bom: true, delimiter: [',', ';'], columns: true, trim: true, skip_empty_lines: true, relax_column_count: false, info: true, max_record_size: 64 * 1024 });
  const done = pipeline(body, parser).catch((err: unknown) => parser.destroy(err as Error));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      const user: HostUser = { hostUserId: '', email: null, externalId: null };
      for (const [header, value] of Object.entries(record)) {
        const key = COLUMN_NAMES[header.toLowerCase().trim()];
        if (key === 'hostUserId') user.hostUserId = value;
        else if (key) user[key] = value === '' ? null : value;
      }
      if (!user.hostUserId) throw badRequest('invalidValue', `Line ${info.lines}: hostUserId is empty (the header must name a hostUserId or id column)`);
      for (const v of [user.hostUserId, user.email, user.externalId]) if (v) checkString(v, `line ${info.lines}`);
      yield { line: info.lines, user };
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('CSV_')) throw badRequest('invalidValue', `The CSV file cannot be read: ${(err as Error).message}`);
    throw err;
  } finally {
    await done;
  }
}

async function* fromJson(body: unknown): AsyncGenerator<{ line: number; user: HostUser }> {
  const list = Array.isArray(body) ? body : (body as { users: unknown[] }).users;
  let i = 0;
  for (const u of list as { hostUserId: string; email?: string | null; externalId?: string | null }[]) {
    yield { line: ++i, user: { hostUserId: u.hostUserId, email: u.email ?? null, externalId: u.externalId ?? null } };
  }
}

const jobOut = (j: Awaited<ReturnType<GoLiveService['goLive']>>['job']) =>
  j
    ? { kind: j.kind, state: j.state, phase: j.phase, processed: j.processed, total: j.total, changed: j.changed, startedAt: j.startedAt.toISOString(), finishedAt: j.finishedAt ? j.finishedAt.toISOString() : null }
    : null;

type P = { tenant: string };

export async function goLiveRoutes(app: FastifyInstance, opts: { golive: GoLiveService }): Promise<void> {
  const { golive } = opts;
  const tags = ['Admin: going live'];

  // CSV uploads are read as a stream, whatever their size (the routes here are the only ones that take CSV).
  app.addContentTypeParser('text/csv', (_req, payload, done) => done(null, payload));

  app.put(
    '/host-users',
    {
      config: { audit: 'tenant.host_users_replaced', auditBody: 'response' },
      schema: {
        tags,
        summary: "Replace the host's existing users for this tenant (text/csv streamed, or JSON), and link IdP users to them",
        description: 'CSV: a header row naming hostUserId (or id), email and externalId columns; `,` or `;`; UTF-8 with or without BOM; quoted fields. JSON: an array of {hostUserId, email, externalId} or {"users": [...]} (within MAX_BODY_BYTES).',
        params: Params,
        consumes: ['text/csv', 'application/json'],
        body: Type.Unsafe<unknown>({ description: 'CSV text or JSON' }),
        response: { 200: Type.Object({ hostUsers: Type.Integer(), sharedEmails: Type.Integer(), linked: Type.Integer() }) },
      },
      validatorCompiler: () => (value: unknown) => ({ value }),
    },
    async (req: FastifyRequest<{ Params: P; Body: unknown }>) => {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type === 'text/csv') return golive.putHostUsers(req.params.tenant, fromCsv(req.body as NodeJS.ReadableStream));
      if (req.body === undefined || typeof req.body !== 'object' || req.body === null) throw badRequest('invalidValue', 'Send the host users as text/csv or as JSON');
      const found = problems(HostUsersJson, req.body);
      if (found.length) throw badRequest('invalidValue', `Invalid request body: ${found.join('; ')}`);
      return golive.putHostUsers(req.params.tenant, fromJson(req.body));
    },
  );

  app.get(
    '/dry-run',
    { schema: { tags, summary: 'What going live would send now: users by outcome (with the policy applied), groups, reconciliation, license', params: Params, response: { 200: Report } } },
    async (req: FastifyRequest<{ Params: P }>) => {
      const report = await golive.report(req.params.tenant);
      const base = `/admin/v1/tenants/${req.params.tenant}/dry-run`;
      return { ...report, files: Object.fromEntries([...OUTCOMES, 'host-only'].map((o) => [o, `${base}/${o}.csv`])) };
    },
  );

  app.get(
    '/dry-run/:file',
    {
      schema: {
        tags,
        summary: 'One outcome of the dry run as a CSV file (streamed): the user, why, its link, and the mapped fields as columns',
        params: FileParams,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'CSV' }) },
      },
    },
    async (req: FastifyRequest<{ Params: { tenant: string; file: string } }>, reply) => {
      const name = req.params.file.replace(/\.csv$/i, '');
      let columns: string[];
      let rows: AsyncIterable<object>;
      if (name === 'host-only') {
        columns = [...HOST_ONLY_COLUMNS];
        rows = golive.hostOnly(req.params.tenant);
      } else if ((OUTCOMES as readonly string[]).includes(name)) {
        ({ columns, rows } = await golive.rows(req.params.tenant, name as Outcome));
      } else {
        throw badRequest('invalidValue', `No dry-run file "${req.params.file}"; the files are ${[...OUTCOMES, 'host-only'].map((o) => `${o}.csv`).join(', ')}`);
      }
      const csv = stringify({ header: true, columns, cast: { boolean: (b) => String(b) } });
      // Errors while streaming end the response; the rows already sent stay a valid prefix.
      void pipeline(Readable.from(rows), csv).catch((err: unknown) => req.log.error({ err }, 'dry-run file failed'));
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${req.params.tenant}-${name}.csv"`).send(csv);
    },
  );

  app.post(
    '/go-live',
    {
      config: { audit: 'tenant.went_live' },
      schema: {
        tags,
        summary: 'Switch a dry-run tenant to live and tell the host the resulting state (in the background; resumable). A live tenant is left as it is.',
        params: Params,
        response: { 202: Type.Object({ started: Type.Boolean(), job: Job }), 200: Type.Object({ started: Type.Boolean(), job: Job }) },
      },
    },
    async (req: FastifyRequest<{ Params: P }>, reply) => {
      const { started, job } = await golive.goLive(req.params.tenant);
      return reply.code(started ? 202 : 200).send({ started, job: jobOut(job) });
    },
  );
}

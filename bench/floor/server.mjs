// The floor for the userName look-up and the create: the least an HTTP server on Fastify + pg can do
// for `GET /Users?filter=userName eq "…"` (the same SQL as bench/pgbench/lookup_username.sql) and
// `POST /Users` (the statement of bench/pgbench/create_user.sql, passed in FLOOR_CREATE_SQL by run.ts:
// the user row and its user.created event in one statement), with no authentication beyond a string
// compare, no SCIM parsing, validation, projection, metrics or logging. Not Roster and not
// SCIM-complete: a yardstick for Roster's own cost per request (bench/README.md, "Machines differ").
// Started by bench/floor/run.ts.
import { randomInt, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });
const SQL = `SELECT u.id, u.resource, u.version, u.created, u.last_modified,
 (SELECT coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) ORDER BY g.display_name), '[]')
   FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
  WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id) AS groups
 FROM users u WHERE u.tenant_id = $1 AND lower(u.user_name) = lower($2)`;
const tenant = process.env.TENANT;
const auth = `Bearer ${process.env.TOKEN}`;
const prepared = process.env.FLOOR_PREPARED !== 'false';

app.get(`/scim/v2/${tenant}/Users`, async (req, reply) => {
  if (req.headers.authorization !== auth) return reply.code(401).send({});
  const m = /^userName eq "(.*)"$/.exec(req.query.filter ?? '');
  // A named prepared statement, as Roster sends this look-up (src/db/prepared.ts); FLOOR_PREPARED=false sends it unnamed.
  const r = await pool.query(prepared ? { name: 'lookup', text: SQL, values: [tenant, m ? m[1] : ''] } : { text: SQL, values: [tenant, m ? m[1] : ''] });
  const Resources = r.rows.map((row) => ({
    ...row.resource,
    id: row.id,
    groups: row.groups,
    meta: { resourceType: 'User', created: row.created, lastModified: row.last_modified, version: `W/"${row.version}"` },
  }));
  reply.header('content-type', 'application/scim+json');
  return JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: Resources.length, itemsPerPage: Resources.length, startIndex: 1, Resources });
});

// application/scim+json is JSON (RFC 7644 §3.1); Fastify parses application/json itself.
app.addContentTypeParser('application/scim+json', { parseAs: 'string' }, (req, body, done) => {
  try {
    done(null, JSON.parse(body));
  } catch (err) {
    done(err);
  }
});

const CREATE = process.env.FLOOR_CREATE_SQL;
app.post(`/scim/v2/${tenant}/Users`, async (req, reply) => {
  if (req.headers.authorization !== auth) return reply.code(401).send({});
  const body = req.body ?? {};
  const id = randomUUID();
  const at = new Date().toISOString();
  // What the response and the event carry, as Roster's toScim() builds it; the row's own id and userName come
  // from the statement's random number, as in pgbench.
  const scim = { ...body, id, meta: { resourceType: 'User', created: at, lastModified: at, location: `http://127.0.0.1/scim/v2/${tenant}/Users/${id}`, version: 'W/"1"' } };
  const data = { tenant, resourceType: 'User', id, externalId: body.externalId ?? null, userName: body.userName, version: 1, etag: 'W/"1"', changed: [], sequence: 1 };
  const eventRows = [{ uid: 'evt_0', type: 'user.created', ord: 1, data, resource: scim }];
  const values = [tenant, '0', String(randomInt(1, 2 ** 48)), JSON.stringify(body), JSON.stringify(eventRows)];
  await pool.query(prepared ? { name: 'create', text: CREATE, values } : { text: CREATE, values });
  reply.code(201).header('content-type', 'application/scim+json').header('location', scim.meta.location);
  return JSON.stringify(scim);
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.stdout.write('ready\n');

// The floor for the look-ups and the create: the least an HTTP server on Fastify + pg can do for
// `GET /Users?filter=userName eq "…"`, `GET /Users?filter=emails[type eq "work"].value eq "…"` and `POST /Users`,
// with the statements of bench/pgbench/lookup_username.sql, lookup_email.sql and create_user.sql (passed in
// FLOOR_*_SQL by bench/lib/floor.ts: the look-up with the user's groups; the user row and its user.created event in
// one statement), with no authentication beyond a string compare, no SCIM parsing, validation, projection, metrics
// or logging. Not Roster and not SCIM-complete: a yardstick for Roster's own cost per request (bench/README.md).
import { randomInt, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });
const tenant = process.env.TENANT;
const auth = `Bearer ${process.env.TOKEN}`;
// Named prepared statements, as Roster sends these (src/db/prepared.ts); FLOOR_PREPARED=false sends them unnamed.
const prepared = process.env.FLOOR_PREPARED !== 'false';
const query = (name, text, values) => pool.query(prepared ? { name, text, values } : { text, values });
const LOOKUPS = [
  { name: 'lookup_username', re: /^userName eq "(.*)"$/, text: process.env.FLOOR_LOOKUP_USERNAME_SQL },
  { name: 'lookup_email', re: /^emails\[type eq "work"\]\.value eq "(.*)"$/, text: process.env.FLOOR_LOOKUP_EMAIL_SQL },
];

app.get(`/scim/v2/${tenant}/Users`, async (req, reply) => {
  if (req.headers.authorization !== auth) return reply.code(401).send({});
  const filter = req.query.filter ?? '';
  const l = LOOKUPS.find((x) => x.re.test(filter));
  if (!l) return reply.code(400).send({});
  const r = await query(l.name, l.text, [tenant, l.re.exec(filter)[1]]);
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
  await query('create_user', CREATE, values);
  reply.code(201).header('content-type', 'application/scim+json').header('location', scim.meta.location);
  return JSON.stringify(scim);
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.stdout.write('ready\n');

// The floor for the userName look-up: the least an HTTP server on Fastify + pg can do for
// `GET /Users?filter=userName eq "…"` — the same SQL as bench/pgbench/lookup_username.sql, no
// authentication beyond a string compare, no SCIM parsing, validation, projection, metrics or
// logging. Not Roster and not SCIM-complete: a yardstick for Roster's own cost per request
// (bench/README.md, "Machines differ"). Started by bench/floor/run.ts.
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

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.stdout.write('ready\n');

/**
 * kill -9 in the middle of an import's apply (README "Importing files"):
 * Roster runs as a real process (src/main.ts) on Postgres; it is SIGKILLed
 * while the apply is writing, then started again on the same database, and
 * the apply is asked again. Every row must end applied once: one user and
 * one user.created event per row, whatever was in flight at the kill.
 */
import pg from 'pg';
import t from 'tap';
import { sleep, until } from '../events/helpers.js';
import { createPostgresDatabase } from '../helpers/db.js';
import { ServerProcess } from '../helpers/server.js';

const ADMIN_TOKEN = 'import-kill9-admin-token-0123456789';
const ROWS = 400;

t.test('kill -9 during an apply, then a restart and a second apply: nothing lost, nothing doubled', async (t) => {
  const databaseUrl = await createPostgresDatabase(t);
  const env = { DATABASE_URL: databaseUrl, ADMIN_TOKEN, BOOTSTRAP_TENANT: 'acme', LOG_LEVEL: 'info', WEBHOOK_WORKER: 'false' };
  const admin = (s: ServerProcess, method: string, path: string, body?: string, type = 'application/json') =>
    fetch(`${s.url}/admin/v1/tenants/acme${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': type } : {}) }, ...(body ? { body } : {}) });

  const first = await ServerProcess.start(t, env);
  t.equal((await admin(first, 'PUT', '/import-mapping', JSON.stringify({ key: 'email', columns: { Email: 'emails', Name: 'name.givenName' } }))).status, 200);
  const csv = ['Email,Name', ...Array.from({ length: ROWS }, (_, i) => `k${i}@kill.example,K${i}`)].join('\r\n');
  const up = await admin(first, 'POST', '/imports', csv, 'text/csv');
  t.equal(up.status, 201);
  const id = ((await up.json()) as { id: string }).id;

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  t.teardown(() => client.end());
  const count = async (q: string) => Number((await client.query(q, [id])).rows[0].n);

  void admin(first, 'POST', `/imports/${id}/apply`).catch(() => undefined);
  await until(async () => (await count('select count(*) as n from import_rows where import_id = $1 and applied')) >= ROWS / 4, 60_000, () => 'a quarter applied');
  first.proc.kill('SIGKILL');
  await first.exited;
  const appliedAtKill = await count('select count(*) as n from import_rows where import_id = $1 and applied');
  t.ok(appliedAtKill < ROWS, `killed in the middle (${appliedAtKill} of ${ROWS} marked)`);

  const second = await ServerProcess.start(t, env);
  const mid = (await (await admin(second, 'GET', `/imports/${id}`)).json()) as { state: string };
  t.equal(mid.state, 'applying', 'the import says it is unfinished');
  const done = await admin(second, 'POST', `/imports/${id}/apply`);
  t.equal(done.status, 200);
  const body = (await done.json()) as { state: string; counts: Record<string, number> };
  t.equal(body.state, 'applied');
  t.match(body.counts, { created: ROWS, applied: ROWS, failed: 0 });
  await sleep(100);
  t.equal(await count(`select count(*) as n from users where tenant_id = 'acme' and $1::text is not null`), ROWS, 'one user per row');
  t.equal(await count(`select count(*) as n from events where tenant_id = 'acme' and type = 'user.created' and $1::text is not null`), ROWS, 'one user.created per row');
  t.equal(await count('select count(distinct user_id) as n from import_rows where import_id = $1'), ROWS, 'every row knows its user');
  t.equal((await admin(second, 'POST', `/imports/${id}/apply`)).status, 409, 'and it is not applied again');
});

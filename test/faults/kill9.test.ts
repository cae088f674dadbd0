/**
 * kill -9 during writes and delivery (issue 23): Roster runs as a real
 * process (src/main.ts) with a loopback receiver; it is SIGKILLed while
 * creates and updates are being answered and deliveries are in flight, then
 * started again on the same database. Every answered write must be stored
 * with its event, and every event delivered, in order per resource; the only
 * duplicates allowed are the deliveries that were in flight at the kill
 * (at-least-once, README "Delivery guarantees").
 */
import pg from 'pg';
import t from 'tap';
import { sleep, startReceiver, until } from '../events/helpers.js';
import { USER_SCHEMA } from '../helpers/app.js';
import { createPostgresDatabase } from '../helpers/db.js';
import { ServerProcess } from '../helpers/server.js';

const ADMIN_TOKEN = 'kill9-test-admin-token-0123456789';

const TOKEN = 'kill9-test-scim-token-0123456789';

t.test('kill -9 during writes and deliveries, then a restart: nothing committed is lost', async (t) => {
  const databaseUrl = await createPostgresDatabase(t);
  const rx = await startReceiver(t, async (_req, _body, res) => {
    await sleep(5); // deliveries take a little time, so some are in flight at the kill
    if (!res.destroyed) res.writeHead(204).end();
  });
  const env = {
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN,
    BOOTSTRAP_TENANT: 'acme',
    BOOTSTRAP_TOKEN: TOKEN,
    LOG_LEVEL: 'info', // ServerProcess reads the port from the 'Server listening' line
    RATE_LIMIT_SCIM_PER_MINUTE: '0',
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    WEBHOOK_POLL_INTERVAL_MS: '100',
    // The killed process's claims come back after the lease (timeout + 10 s).
    WEBHOOK_TIMEOUT_MS: '1000',
  };
  const first = await ServerProcess.start(t, env);
  const base = (s: ServerProcess) => `http://127.0.0.1:${s.port}`;
  const hook = await fetch(`${base(first)}/admin/v1/tenants/acme/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: rx.url }),
  });
  t.equal(hook.status, 201);

  // Writers: each creates users and renames them twice; answered writes are remembered.
  const created = new Map<string, string>(); // userName → id
  const renamed: { id: string; givenName: string }[] = [];
  let killed = false;
  const writer = async (w: number) => {
    for (let i = 0; !killed; i++) {
      const userName = `k9-${w}-${i}`;
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' };
      try {
        const r = await fetch(`${base(first)}/scim/v2/acme/Users`, { method: 'POST', headers, body: JSON.stringify({ schemas: [USER_SCHEMA], userName }) });
        if (r.status !== 201) throw new Error(`create answered ${r.status}`);
        const id = ((await r.json()) as { id: string }).id;
        created.set(userName, id);
        for (const givenName of ['Ada', 'Grace']) {
          const p = await fetch(`${base(first)}/scim/v2/acme/Users/${id}`, {
            method: 'PATCH',
            headers,
            body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'name.givenName', value: givenName }] }),
          });
          if (p.status !== 200) throw new Error(`patch answered ${p.status}`);
          await p.arrayBuffer();
          renamed.push({ id, givenName });
        }
      } catch (err) {
        if (!killed) throw err; // only the kill may interrupt a request
      }
    }
  };
  const writers = Array.from({ length: 4 }, (_, w) => writer(w));
  await until(() => created.size >= 60 && rx.accepted.length >= 60, 20_000, () => 'writes and deliveries before the kill');
  killed = true;
  first.proc.kill('SIGKILL');
  t.equal((await first.exited).signal, 'SIGKILL');
  await Promise.all(writers);
  const receivedAtKill = rx.all.length;

  const second = await ServerProcess.start(t, env);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());

  // Every answered write is stored with its event.
  const ids = [...created.values()];
  const users = await db.query<{ id: string; given: string | null }>(`select id::text, given_name as given from users where id::text = any ($1)`, [ids]);
  t.equal(users.rowCount, ids.length, `all ${ids.length} users answered 201 are stored`);
  const lastRename = new Map(renamed.map((r) => [r.id, r.givenName]));
  t.ok(
    users.rows.every((u) => !lastRename.has(u.id) || u.given === lastRename.get(u.id) || (lastRename.get(u.id) === 'Ada' && u.given === 'Grace')),
    'answered renames are stored (a rename in flight at the kill may have committed too)',
  );
  const ev = await db.query<{ resource_id: string; type: string; seq: string }>(`select resource_id, type, seq from events where resource_id = any ($1)`, [ids]);
  const created_ = new Set(ev.rows.filter((e) => e.type === 'user.created').map((e) => e.resource_id));
  t.ok(ids.every((id) => created_.has(id)), 'each with its user.created event');
  const updates = ev.rows.filter((e) => e.type === 'user.updated').length;
  t.ok(updates >= renamed.length, `each answered rename has its event (${updates} ≥ ${renamed.length})`);

  // Every event in the database is delivered, after the killed process's leases run out.
  const all = Number((await db.query<{ n: string }>('select count(*) as n from events')).rows[0]!.n);
  const unique = () => new Set(rx.accepted.map((r) => r.headers['webhook-id'])).size;
  await until(() => unique() >= all, 30_000, () => `receiver has ${unique()} of ${all} events`);
  // The receiver can have an event a moment before its outcome is recorded.
  const unfinished = async () => Number((await db.query<{ n: string }>(`select count(*) as n from webhook_deliveries where status <> 'succeeded'`)).rows[0]!.n);
  await until(async () => (await unfinished()) === 0, 10_000, () => 'every delivery recorded as succeeded');
  t.pass('every delivery succeeded');

  // In order per resource: the first arrival of each event follows the resource's sequence.
  const firstSeen = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const r of rx.accepted) {
    const id = String(r.headers['webhook-id']);
    if (seen.has(id)) continue;
    seen.add(id);
    const list = firstSeen.get(r.json.data.id) ?? [];
    list.push(r.json.data.sequence);
    firstSeen.set(r.json.data.id, list);
  }
  t.ok([...firstSeen.values()].every((s) => s.every((v, i) => v === i + 1)), 'each resource in order, none skipped');
  const duplicates = rx.accepted.length - unique();
  t.comment(`${ids.length} users, ${all} events; ${receivedAtKill} requests before the kill; ${duplicates} duplicate deliveries`);
  // At most what was in flight when the process died: one per queue the worker held (one endpoint's share, half of WEBHOOK_CONCURRENCY).
  t.ok(duplicates <= 32, `duplicates only from deliveries in flight at the kill (${duplicates})`);
  second.proc.kill('SIGTERM');
  await second.exited;
});

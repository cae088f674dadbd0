import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pruneEvents } from '../../src/db/outbox-housekeeping.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { addEndpoint, adminApp, createTenant, record, userChange } from './helpers.js';

for (const backend of backends) {
  t.test(`${backend}: retention deletes old finished events and keeps pending ones`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const old = randomUUID();
    const pending = randomUUID();
    const recent = randomUUID();
    await record(h.db, userChange(tenant, old)); // no endpoint yet: nothing to deliver
    await addEndpoint(app, tenant, { url: 'http://127.0.0.1:59999/never' });
    await record(h.db, userChange(tenant, pending)); // queued, never delivered (no worker)
    await record(h.db, userChange(tenant, recent));
    await sql`update events set occurred_at = now() - interval '40 days' where resource_id in (${old}, ${pending})`.execute(h.db);

    t.equal(await pruneEvents(h.db, 30), 1);
    const left = await sql<{ resource_id: string }>`select resource_id from events order by id`.execute(h.db);
    t.same(left.rows.map((r) => r.resource_id), [pending, recent], 'the pending one stays however old');
    t.equal(await pruneEvents(h.db, 30), 0);

    // Sequences continue after pruning.
    await record(h.db, userChange(tenant, old, { action: 'updated', version: 2, changed: ['title'] }));
    const seq = await sql<{ seq: unknown }>`select seq from events where resource_id = ${old}`.execute(h.db);
    t.equal(Number(seq.rows[0]!.seq), 2);
  });
}

import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { eventsForChange, MEMBER_CHUNK, recordChange, type ResourceChange } from '../../src/events/record.js';
import type { ResourceEventData } from '../../src/events/types.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { addEndpoint, adminApp, createTenant, record, TEST_ACTOR, userChange } from './helpers.js';

const groupChange = (tenantId: string, id: string, over: Partial<ResourceChange> = {}): ResourceChange => ({
  tenantId,
  resourceType: 'Group',
  action: 'created',
  id,
  externalId: null,
  name: 'Engineering',
  version: 1,
  etag: 'W/"1"',
  changed: [],
  resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], id, displayName: 'Engineering', members: [{ value: 'x' }] },
  actor: TEST_ACTOR,
  ...over,
});

t.test('eventsForChange: the catalogue', async (t) => {
  const id = randomUUID();
  const created = eventsForChange(userChange('acme', id));
  t.same(created.map((e) => e.type), ['user.created']);
  t.same(created[0]!.data, { tenant: 'acme', resourceType: 'User', id, externalId: `ext-${id.slice(0, 8)}`, userName: `user-${id.slice(0, 8)}`, version: 1, etag: 'W/"1"', changed: [], actor: TEST_ACTOR });
  t.equal(created[0]!.resource!.userName, `user-${id.slice(0, 8)}`);
  t.match(created[0]!.uid, /^evt_[0-9a-f]{32}$/);

  const upd = (over: Partial<ResourceChange>, active: boolean) => {
    const c = userChange('acme', id, { action: 'updated', version: 2, ...over });
    c.resource!.active = active;
    return eventsForChange(c).map((e) => e.type);
  };
  t.same(upd({ changed: ['name.givenName'] }, true), ['user.updated']);
  t.same(upd({ changed: ['active'], activeBefore: true }, false), ['user.deactivated']);
  t.same(upd({ changed: ['active', 'title'], activeBefore: false }, true), ['user.reactivated'], 'one event per change, with everything that changed');
  t.same(upd({ changed: ['active'] }, false), ['user.deactivated'], 'activeBefore inferred when active changed');
  t.same(upd({ changed: [], activeBefore: true }, true), [], 'a change of nothing emits nothing');
  t.same(eventsForChange(userChange('acme', id, { action: 'deleted', resource: null })).map((e) => [e.type, e.resource]), [['user.deleted', null]]);

  const gid = randomUUID();
  const members = Array.from({ length: MEMBER_CHUNK * 2 + 5 }, () => randomUUID());
  const g = eventsForChange(groupChange('acme', gid, { membersAdded: members }));
  t.same(g.map((e) => e.type), ['group.created', 'group.members.added', 'group.members.added', 'group.members.added']);
  t.equal(g[0]!.data.displayName, 'Engineering');
  t.notOk('members' in g[0]!.resource!, 'group resources never carry members');
  t.same(g.slice(1).map((e) => (e.data as ResourceEventData).members!.length), [MEMBER_CHUNK, MEMBER_CHUNK, 5]);
  t.same(g.slice(1).flatMap((e) => e.data.members), members, 'chunks keep every id, in order');

  const gu = eventsForChange(groupChange('acme', gid, { action: 'updated', version: 2, changed: ['displayName', 'members'], membersAdded: ['a'], membersRemoved: ['b', 'c'] }));
  t.same(gu.map((e) => [e.type, e.data.changed, e.data.members]), [
    ['group.updated', ['displayName'], undefined],
    ['group.members.added', [], ['a']],
    ['group.members.removed', [], ['b', 'c']],
  ]);
  t.same(eventsForChange(groupChange('acme', gid, { action: 'updated', changed: ['members'], membersAdded: [] })), [], 'members listed as changed but none added/removed: nothing');
  t.same(eventsForChange(groupChange('acme', gid, { action: 'deleted', resource: null })).map((e) => e.type), ['group.deleted']);
});

for (const backend of backends) {
  t.test(`${backend}: events are written by the caller's transaction, with per-resource sequences`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const id = randomUUID();
    await record(h.db, userChange(tenant, id));
    await record(h.db, userChange(tenant, id, { action: 'updated', version: 2, changed: ['title'] }));

    // Rolled back: no event.
    await h.db
      .transaction()
      .execute(async (trx) => {
        await recordChange(trx, userChange(tenant, id, { action: 'updated', version: 3, changed: ['title'] }));
        throw new Error('rollback');
      })
      .catch(() => {});

    await record(h.db, userChange(tenant, id, { action: 'deleted', version: 3, resource: null }));
    const other = randomUUID();
    await record(h.db, userChange(tenant, other));

    const rows = await sql<{ type: string; resource_id: string; seq: unknown; data: any; txn: string }>`select type, resource_id, seq, data, txn from events order by id`.execute(h.db);
    t.same(
      rows.rows.map((r) => [r.type, r.resource_id, Number(r.seq), r.data.sequence]),
      [
        ['user.created', id, 1, 1],
        ['user.updated', id, 2, 2],
        ['user.deleted', id, 3, 3],
        ['user.created', other, 1, 1],
      ],
    );
    t.equal(new Set(rows.rows.map((r) => r.txn)).size, 4, 'one txn per change');

    // No endpoint yet: no deliveries.
    const d = await sql<{ n: unknown }>`select count(*) as n from webhook_deliveries`.execute(h.db);
    t.equal(Number(d.rows[0]!.n), 0);
  });

  t.test(`${backend}: fan-out goes to enabled endpoints subscribed to the type, from their creation on`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    await createTenant(h.db, 'globex');
    const app = await adminApp(t, h.db);
    const before = randomUUID();
    await record(h.db, userChange(tenant, before));

    const all = await addEndpoint(app, tenant, { url: 'http://127.0.0.1:59999/all' });
    const onlyDeletes = await addEndpoint(app, tenant, { url: 'http://127.0.0.1:59999/del', events: ['user.deleted'] });
    const paused = await addEndpoint(app, tenant, { url: 'http://127.0.0.1:59999/off' });
    await app.inject({ method: 'PATCH', url: `/admin/v1/tenants/${tenant}/webhooks/${paused.id}`, payload: { enabled: false } });
    const otherTenant = await addEndpoint(app, 'globex', { url: 'http://127.0.0.1:59999/globex' });

    const id = randomUUID();
    await record(h.db, userChange(tenant, id), userChange(tenant, id, { action: 'deleted', version: 2, resource: null }));

    const rows = await sql<{ endpoint_id: string; type: string; resource_id: string }>`
      select d.endpoint_id, e.type, d.resource_id from webhook_deliveries d join events e on e.id = d.event_id order by d.id`.execute(h.db);
    t.same(
      rows.rows.map((r) => `${r.endpoint_id}:${r.type}`).sort(),
      [`${all.id}:user.created`, `${all.id}:user.deleted`, `${onlyDeletes.id}:user.deleted`].sort(),
      'the earlier event and the disabled/other-tenant endpoints get nothing',
    );
    t.notOk(rows.rows.some((r) => r.resource_id === before));
    t.notOk(rows.rows.some((r) => r.endpoint_id === paused.id || r.endpoint_id === otherTenant.id));

    const q = await sql<{ endpoint_id: string; pending: number }>`select endpoint_id, pending from webhook_queues order by endpoint_id`.execute(h.db);
    t.same(
      Object.fromEntries(q.rows.map((r) => [r.endpoint_id, Number(r.pending)])),
      { [all.id]: 2, [onlyDeletes.id]: 1 },
      'queue counters match the deliveries',
    );
  });
}

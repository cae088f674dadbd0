import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { sql } from 'kysely';
import { securityEventsConfig } from '../../src/events/set.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { addEndpoint, adminApp, api, createTenant, record, startReceiver, TEST_ACTOR, until, userChange, worker } from './helpers.js';

const E = 'urn:ietf:params:scim:event';

t.test('ServiceProviderConfig advertises the SET event URIs (RFC 9967 §4)', async (t) => {
  const c = securityEventsConfig();
  t.equal(c.asyncRequest, 'none');
  t.same(c.eventUris.sort(), [`${E}:prov:activate`, `${E}:prov:create:full`, `${E}:prov:deactivate`, `${E}:prov:delete`, `${E}:prov:patch:full`, `${E}:prov:put:full`]);
});

for (const backend of backends) {
  t.test(`${backend}: format "set" pushes RFC 9967 SETs that verify against the published JWKS`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, (_req, _body, res) => res.writeHead(202).end());
    await addEndpoint(app, tenant, { url: rx.url, format: 'set', attributes: ['userName', 'active', 'displayName'] });
    worker(t, h.db, { config: { databaseUrl: h.url } });

    const uid = randomUUID();
    const gid = randomUUID();
    const m1 = randomUUID();
    const m2 = randomUUID();
    await record(h.db, userChange(tenant, uid));
    const off = userChange(tenant, uid, { action: 'updated', version: 2, changed: ['active'], activeBefore: true });
    off.resource!.active = false;
    await record(h.db, off);
    await record(h.db, {
      tenantId: tenant,
      resourceType: 'Group',
      action: 'created',
      id: gid,
      externalId: 'eng',
      name: 'Engineering',
      version: 1,
      etag: 'W/"1"',
      changed: [],
      resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], id: gid, displayName: 'Engineering', members: [{ value: m1 }, { value: m2 }] },
      membersAdded: [m1, m2],
      actor: TEST_ACTOR,
    });
    await record(h.db, { tenantId: tenant, resourceType: 'Group', action: 'updated', id: gid, externalId: 'eng', name: 'Engineering', version: 2, etag: 'W/"2"', changed: ['members'], resource: { id: gid, displayName: 'Engineering' }, membersRemoved: [m2], actor: TEST_ACTOR });
    await record(h.db, userChange(tenant, uid, { action: 'deleted', version: 2, resource: null }));
    await rx.waitFor(6);

    const keys = await api(app, 'GET', '/.well-known/jwks.json');
    t.equal(keys.status, 200);
    t.equal(keys.body.keys.length, 1);
    t.notOk('d' in keys.body.keys[0], 'no private part published');
    const jwks = createLocalJWKSet(keys.body);

    const sets = [];
    for (const r of rx.accepted) {
      t.equal(r.headers['content-type'], 'application/secevent+jwt');
      t.equal(r.headers.accept, 'application/json');
      const hdr = decodeProtectedHeader(r.body);
      t.equal(hdr.typ, 'secevent+jwt');
      t.equal(hdr.alg, 'ES256');
      t.equal(hdr.kid, keys.body.keys[0].kid);
      const { payload } = await jwtVerify(r.body, jwks, { issuer: `https://roster.test/scim/v2/${tenant}`, audience: rx.url, typ: 'secevent+jwt' });
      t.notOk('sub' in payload, 'RFC 9967 §2.1: sub_id, never sub');
      t.type(payload.txn, 'string');
      t.type(payload.toe, 'number');
      t.match(payload.jti, /^evt_/);
      sets.push(payload as any);
    }
    // Per resource, in order; user and group queues are independent.
    const user = sets.filter((s) => s.sub_id.uri === `/Users/${uid}`);
    const group = sets.filter((s) => s.sub_id.uri === `/Groups/${gid}`);
    t.same(user.map((s) => Object.keys(s.events)), [[`${E}:prov:create:full`], [`${E}:prov:put:full`, `${E}:prov:deactivate`], [`${E}:prov:delete`]]);
    t.same(user[0].sub_id, { format: 'scim', uri: `/Users/${uid}`, externalId: `ext-${uid.slice(0, 8)}` });
    t.same(user[0].events[`${E}:prov:create:full`].version, 'W/"1"');
    t.equal(user[0].events[`${E}:prov:create:full`].data.userName, `user-${uid.slice(0, 8)}`);
    t.notOk('emails' in user[0].events[`${E}:prov:create:full`].data, 'projected');
    t.equal(user[1].events[`${E}:prov:put:full`].data.active, false);
    t.same(user[2].events[`${E}:prov:delete`], {}, 'delete has no payload (§2.4.4)');

    t.same(group.map((s) => Object.keys(s.events)), [[`${E}:prov:create:full`], [`${E}:prov:patch:full`], [`${E}:prov:patch:full`]]);
    t.notOk('members' in group[0].events[`${E}:prov:create:full`].data);
    t.same(group[1].events[`${E}:prov:patch:full`], {
      version: 'W/"1"',
      data: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: [{ value: m1 }, { value: m2 }] }] },
    });
    t.same(group[2].events[`${E}:prov:patch:full`].data.Operations, [{ op: 'remove', path: `members[value eq "${m2}"]` }]);
    t.equal(group[0].txn, group[1].txn, 'events of one change share txn');
    t.not(group[1].txn, group[2].txn);
  });

  t.test(`${backend}: a SET rejected with 400 (RFC 8935 §2.4) is dead-lettered at once`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, (_req, _body, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"err":"invalid_audience","description":"not us"}'));
    await addEndpoint(app, tenant, { url: rx.url, format: 'set' });
    worker(t, h.db, { config: { databaseUrl: h.url } });
    await record(h.db, userChange(tenant, randomUUID()));
    await until(
      async () => (await sql<{ status: string }>`select status from webhook_deliveries`.execute(h.db)).rows[0]?.status === 'dead',
      10_000,
      () => 'dead-lettered',
    );
    const d = (await sql<{ attempts: number; last_error: string; last_status: number }>`select attempts, last_error, last_status from webhook_deliveries`.execute(h.db)).rows[0]!;
    t.equal(Number(d.attempts), 1);
    t.equal(Number(d.last_status), 400);
    t.match(d.last_error, /invalid_audience/);
    t.equal(rx.all.length, 1);
  });
}

import t from 'tap';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Webhook } from 'standardwebhooks';
import { backends } from '../helpers/db.js';
import { startApp, user } from '../helpers/app.js';
import { startReceiver, worker } from './helpers.js';

for (const backend of backends) {
  t.test(`${backend}: through the app: SCIM writes reach the webhook; admin auth; JWKS; ServiceProviderConfig`, async (t) => {
    const a = await startApp(t, backend);
    const rx = await startReceiver(t, (_req, _body, res) => res.writeHead(202).end());

    const noAuth = await a.app.inject({ method: 'GET', url: `/admin/v1/tenants/${a.tenant}/webhooks` });
    t.equal(noAuth.statusCode, 401, 'the admin token guards the webhook routes');

    const hook = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: rx.url });
    t.equal(hook.status, 201);
    const set = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: `${rx.url}?set`, format: 'set' });
    t.equal(set.status, 201);
    worker(t, a.database.db, { config: { databaseUrl: a.database.url, publicUrl: a.config.publicUrl } });

    const created = await a.scim('POST', '/Users', user('grace', { name: { givenName: 'Grace', familyName: 'Hopper' } }));
    t.equal(created.status, 201);
    const id = created.body.id;
    const patched = await a.scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
    t.equal(patched.status, 200);
    // A create and its event are one statement, an update and its event another (src/db/outbox.ts insertEvents):
    // a refused write leaves neither, and what the responses say was stored is what a read finds.
    const dup = await a.scim('POST', '/Users', user('grace'));
    t.equal(dup.status, 409, 'a duplicate userName is refused (and emits nothing: see the feed below)');
    const got = await a.scim('GET', `/Users/${id}`);
    t.same(got.body.meta, patched.body.meta, "the PATCH response's version and timestamps are the stored ones");
    t.equal(got.body.meta.created, created.body.meta.created, "the POST response's created is the stored one");
    // Two user events and the tenant's first connection (README "Tenant events"), to each endpoint.
    await rx.waitFor(6);

    const hooks = rx.accepted.filter((r) => r.headers['content-type'] === 'application/json');
    const wh = new Webhook(hook.body.secret);
    const all = hooks.map((r) => wh.verify(r.body, r.headers as Record<string, string>) as any);
    const connected = all.filter((p) => p.type === 'tenant.connected');
    t.same(connected.map((p) => [p.data.resourceType, p.data.id, p.data.sequence, p.data.actor.type, p.data.client.userAgent]), [['Tenant', a.tenant, 1, 'scimToken', 'lightMyRequest']]);
    const payloads = all.filter((p) => p.data.resourceType === 'User');
    t.same(payloads.map((p) => [p.type, p.data.id, p.data.sequence]), [
      ['user.created', id, 1],
      ['user.deactivated', id, 2],
    ]);
    t.equal(payloads[0].data.userName, 'grace');
    t.equal(payloads[0].data.resource.name.givenName, 'Grace');
    t.equal(payloads[1].data.etag, patched.headers.etag, 'data.etag is the ETag the SCIM client saw');

    const jwks = await a.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    t.equal(jwks.statusCode, 200);
    const keys = createLocalJWKSet(JSON.parse(jwks.body));
    const sets = rx.accepted.filter((r) => r.headers['content-type'] === 'application/secevent+jwt');
    t.equal(sets.length, 3);
    const subjects = [];
    for (const s of sets) {
      const { payload } = await jwtVerify(s.body, keys, { issuer: `https://roster.test/scim/v2/${a.tenant}`, typ: 'secevent+jwt' });
      subjects.push((payload as any).sub_id.uri ?? `${(payload as any).sub_id.id} ${Object.keys((payload as any).events)}`);
    }
    t.same(subjects.sort(), [`/Users/${id}`, `/Users/${id}`, `${a.tenant} urn:roster:event:tenant.connected`].sort(), 'a tenant event as a SET carries Roster\'s event URI');

    const spc = await a.scim('GET', '/ServiceProviderConfig');
    t.same(spc.body.securityEvents.asyncRequest, 'none');
    t.ok(spc.body.securityEvents.eventUris.includes('urn:ietf:params:scim:event:prov:create:full'));

    const feed = await a.admin('GET', `/tenants/${a.tenant}/events`);
    t.same(feed.body.events.map((e: any) => e.type).filter((type: string) => type !== 'tenant.connected'), ['user.created', 'user.deactivated']);
    t.equal(feed.body.events.filter((e: any) => e.type === 'tenant.connected').length, 1, 'tenant.connected once, in the feed too');
  });
}

import t from 'tap';
import { randomUUID } from 'node:crypto';
import { recordChange } from '../../src/events/record.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { addEndpoint, adminApp, api, churn, createTenant, record, sleep, startReceiver, until, userChange, worker } from './helpers.js';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

for (const backend of backends) {
  t.test(`${backend}: webhook endpoints: create, validate, list, get, update, rotate, delete`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const base = `/admin/v1/tenants/${tenant}/webhooks`;

    for (const [body, why] of [
      [{ url: 'not a url' }, /absolute URL/],
      [{ url: 'ftp://x.example/' }, /http or https/],
      [{ url: 'https://u:p@x.example/' }, /credentials/],
      [{ url: 'https://x.example/', events: ['user.exploded'] }, /.+/],
      [{ url: 'https://x.example/', attributes: ['shoeSize'] }, /shoeSize/],
      [{ url: 'https://x.example/', format: 'xml' }, /.+/],
    ] as const) {
      const r = await api(app, 'POST', base, body);
      t.equal(r.status, 400, JSON.stringify(body));
      t.same(r.body.schemas, [ERROR]);
      t.match(r.body.detail, why);
    }
    t.equal((await api(app, 'POST', `/admin/v1/tenants/nope/webhooks`, { url: 'https://x.example/' })).status, 404);

    const created = await api(app, 'POST', base, { url: 'https://hooks.example/roster', events: ['user.created', 'user.deleted'], attributes: ['userName', 'emails.value'], description: 'main' });
    t.equal(created.status, 201);
    t.match(created.body, {
      url: 'https://hooks.example/roster',
      events: ['user.created', 'user.deleted'],
      attributes: ['userName', 'emails.value'],
      format: 'standard-webhooks',
      enabled: true,
      disabledReason: null,
      publicKey: null,
      description: 'main',
      tenant,
    });
    t.match(created.body.secret, /^whsec_/);
    const id = created.body.id;

    const list = await api(app, 'GET', base);
    t.equal(list.body.webhooks.length, 1);
    t.notOk('secret' in list.body.webhooks[0], 'the secret is shown once');
    const got = await api(app, 'GET', `${base}/${id}`);
    t.equal(got.body.id, id);
    t.notOk('secret' in got.body);
    t.equal((await api(app, 'GET', `${base}/${randomUUID()}`)).status, 404);
    t.equal((await api(app, 'GET', `${base}/not-a-uuid`)).status, 404);

    const patched = await api(app, 'PATCH', `${base}/${id}`, { url: 'https://hooks.example/v2', events: null, attributes: null, enabled: false });
    t.equal(patched.status, 200);
    t.match(patched.body, { url: 'https://hooks.example/v2', events: null, attributes: null, enabled: false, disabledReason: 'disabled by an administrator' });
    t.equal((await api(app, 'PATCH', `${base}/${id}`, { events: [] })).status, 400);

    const rotated = await api(app, 'POST', `${base}/${id}/rotate-secret`, { graceSeconds: 60 });
    t.equal(rotated.status, 200);
    t.not(rotated.body.secret, created.body.secret);
    t.ok(Date.parse(rotated.body.previousSecretExpiresAt) > Date.now());

    t.equal((await api(app, 'DELETE', `${base}/${id}`)).status, 204);
    t.equal((await api(app, 'GET', `${base}/${id}`)).status, 404);
    t.equal((await api(app, 'DELETE', `${base}/${id}`)).status, 404);
  });

  t.test(`${backend}: poll feed: ordered, paged, resumable; event detail; redeliver; replay; health`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    await createTenant(h.db, 'globex');
    const app = await adminApp(t, h.db);
    const feed = `/admin/v1/tenants/${tenant}/events`;

    const empty = await api(app, 'GET', feed);
    t.same(empty.body, { events: [], cursor: null, hasMore: false });

    const t0 = new Date();
    await churn(h.db, tenant, 2, 2); // 6 events: 2 creates, then 2 rounds of updates
    await record(h.db, userChange('globex', randomUUID())); // another tenant's: never in this feed

    const p1 = await api(app, 'GET', `${feed}?limit=4`);
    t.equal(p1.status, 200);
    t.equal(p1.body.events.length, 4);
    t.equal(p1.body.hasMore, true);
    const p2 = await api(app, 'GET', `${feed}?limit=4&after=${p1.body.cursor}`);
    t.equal(p2.body.events.length, 2);
    t.equal(p2.body.hasMore, false);
    const all = [...p1.body.events, ...p2.body.events];
    t.same(all.map((e: any) => e.type), ['user.created', 'user.created', 'user.updated', 'user.updated', 'user.updated', 'user.updated']);
    t.ok(all.every((e: any) => e.data.tenant === tenant));
    t.ok(all[0].data.resource.userName, 'the feed carries the full resource');
    const cursors = all.map((e: any) => BigInt(e.cursor));
    t.same(cursors, [...cursors].sort((a, b) => (a < b ? -1 : 1)), 'cursors increase');
    const p3 = await api(app, 'GET', `${feed}?after=${p2.body.cursor}`);
    t.same(p3.body, { events: [], cursor: p2.body.cursor, hasMore: false }, 'nothing new: the cursor stays');
    const onlyCreates = await api(app, 'GET', `${feed}?types=user.created`);
    t.equal(onlyCreates.body.events.length, 2);
    t.equal((await api(app, 'GET', `${feed}?after=abc`)).status, 400);
    t.equal((await api(app, 'GET', `${feed}?limit=0`)).status, 400);

    // Deliveries, attempts, redelivery, replay, health.
    const rx = await startReceiver(t);
    const ep = await addEndpoint(app, tenant, { url: rx.url });
    worker(t, h.db, { config: { databaseUrl: h.url } });
    const id = randomUUID();
    await record(h.db, userChange(tenant, id));
    await rx.waitFor(1);
    const evId = rx.accepted[0]!.headers['webhook-id'] as string;
    await until(async () => (await api(app, 'GET', `${feed}/${evId}`)).body.deliveries[0].status === 'succeeded', 5000, () => 'outcome recorded');
    const detail = await api(app, 'GET', `${feed}/${evId}`);
    t.equal(detail.status, 200);
    t.equal(detail.body.event.id, evId);
    t.equal(detail.body.event.type, 'user.created');
    t.equal(detail.body.deliveries.length, 1);
    t.match(detail.body.deliveries[0], { endpointId: ep.id, reason: 'live', status: 'succeeded', attempts: 1, lastStatus: 204 });
    t.match(detail.body.deliveries[0].attemptLog[0], { outcome: 'succeeded', statusCode: 204, error: null });
    t.type(detail.body.deliveries[0].attemptLog[0].latencyMs, 'number');
    t.equal((await api(app, 'GET', `${feed}/evt_nope`)).status, 404);
    t.equal((await api(app, 'GET', `/admin/v1/tenants/globex/events/${evId}`)).status, 404, 'tenants see only their own events');

    const re = await api(app, 'POST', `${feed}/${evId}/redeliver`, {});
    t.same(re.body, { queued: 1, endpointIds: [ep.id] });
    await rx.waitFor(2);
    t.equal(rx.accepted[1]!.headers['webhook-id'], evId, 'a redelivery keeps the webhook-id (the receiver’s idempotency key)');
    t.equal((await api(app, 'POST', `${feed}/${evId}/redeliver`, { endpointIds: [randomUUID()] })).status, 404);

    // Replay the six churn events, which happened before the endpoint existed.
    const rp = await api(app, 'POST', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}/replay`, { from: t0.toISOString(), to: new Date(Date.now() + 1000).toISOString() });
    t.equal(rp.status, 202);
    t.equal(rp.body.queued, 7);
    await rx.waitFor(9);
    const replayed = rx.accepted.slice(2).map((r) => r.json);
    t.same(new Set(replayed.map((p) => p.data.id)).size, 3);
    for (const rid of new Set(replayed.map((p) => p.data.id))) {
      const seqs = replayed.filter((p) => p.data.id === rid).map((p) => p.data.sequence);
      t.same(seqs, [...seqs].sort(), 'replayed in order per resource, original sequence numbers');
    }
    t.equal((await api(app, 'POST', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}/replay`, { from: '2020-01-02T00:00:00Z', to: '2020-01-01T00:00:00Z' })).status, 400);

    await until(async () => (await api(app, 'GET', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}/health`)).body.backlog === 0, 5000, () => 'backlog drained');
    const health = await api(app, 'GET', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}/health`);
    t.match(health.body, { attempts: 9, successRate: 1, backlog: 0, oldestPendingAgeSeconds: null, deadLettered: 0, lastFailureAt: null, lastError: null });
    t.ok(Date.parse(health.body.lastSuccessAt) > 0);
  });

  t.test(`${backend}: health shows a failing endpoint's backlog`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, (_req, _body, res) => res.writeHead(503).end());
    const ep = await addEndpoint(app, tenant, { url: rx.url });
    worker(t, h.db, { config: { databaseUrl: h.url, webhookRetrySchedule: [60_000] } });
    await churn(h.db, tenant, 3, 1);
    await rx.waitForAll(3);
    await sleep(100);
    const health = await api(app, 'GET', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}/health`);
    t.match(health.body, { attempts: 3, successRate: 0, backlog: 6, lastSuccessAt: null, lastError: 'HTTP 503', deadLettered: 0 });
    t.ok(health.body.oldestPendingAgeSeconds >= 0);
  });
}

if (backends.includes('postgres')) {
  t.test('postgres: the feed never skips an event that commits after a later-numbered one', async (t) => {
    const h = await openTestDatabase(t, 'postgres');
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const feed = `/admin/v1/tenants/${tenant}/events`;
    const slow = randomUUID();
    const fast = randomUUID();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const wrote = new Promise<void>((r) => (written = r));
    // Transaction 1 takes its event id first but commits last.
    const tx1 = h.db.transaction().execute(async (trx) => {
      await recordChange(trx, userChange(tenant, slow));
      written();
      await gate;
    });
    await wrote;
    await record(h.db, userChange(tenant, fast));

    const first = await api(app, 'GET', feed);
    t.same(first.body.events.map((e: any) => e.data.id), [fast], 'only the committed event');
    release();
    await tx1;
    const next = await api(app, 'GET', `${feed}?after=${first.body.cursor}`);
    t.same(next.body.events.map((e: any) => e.data.id), [slow], 'the late commit comes after the cursor, not before it');
  });
}

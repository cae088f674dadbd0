import t from 'tap';
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../../src/db/index.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { addEndpoint, adminApp, api, churn, createTenant, record, sequencesByResource, sleep, startReceiver, TEST_ACTOR, until, userChange, worker, type Received } from './helpers.js';

/**
 * Verify a `v1a` (ed25519) Standard Webhooks signature from the spec alone:
 * signed content `${id}.${timestamp}.${body}`, public key `whpk_` + base64 of
 * the raw 32 bytes. Independent of Roster's signing code.
 */
function verifyV1a(publicKey: string, r: Received): boolean {
  const raw = Buffer.from(publicKey.replace(/^whpk_/, ''), 'base64');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  const content = Buffer.from(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`);
  return String(r.headers['webhook-signature'])
    .split(' ')
    .filter((s) => s.startsWith('v1a,'))
    .some((s) => verify(null, content, key, Buffer.from(s.slice(4), 'base64')));
}

const deliveryStatuses = async (db: Db) =>
  (await sql<{ type: string; status: string; attempts: number }>`select e.type, d.status, d.attempts from webhook_deliveries d join events e on e.id = d.event_id order by d.id`.execute(db)).rows.map((r) => ({
    ...r,
    attempts: Number(r.attempts),
  }));

for (const backend of backends) {
  t.test(`${backend}: signed deliveries verify with the standardwebhooks package; v1a; rotation signs with old and new`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t);
    const ep = await addEndpoint(app, tenant, { url: rx.url, ed25519: true, attributes: ['userName', 'active'] });
    t.match(ep.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    t.match(ep.publicKey, /^whpk_[A-Za-z0-9+/]{43}=$/);
    worker(t, h.db, { config: { databaseUrl: h.url } });

    const id = randomUUID();
    await record(h.db, userChange(tenant, id));
    const upd = userChange(tenant, id, { action: 'updated', version: 2, changed: ['active'], activeBefore: true });
    upd.resource!.active = false;
    await record(h.db, upd);
    await rx.waitFor(2);

    const wh = new Webhook(ep.secret);
    const payloads = rx.accepted.map((r) => wh.verify(r.body, r.headers as Record<string, string>) as any);
    t.same(payloads.map((p) => p.type), ['user.created', 'user.deactivated']);
    t.same(payloads[1].data, {
      tenant,
      resourceType: 'User',
      id,
      externalId: `ext-${id.slice(0, 8)}`,
      userName: `user-${id.slice(0, 8)}`,
      version: 2,
      etag: 'W/"2"',
      changed: ['active'],
      actor: TEST_ACTOR,
      sequence: 2,
      resource: payloads[1].data.resource,
    });
    t.equal(payloads[1].data.resource.userName, `user-${id.slice(0, 8)}`);
    t.equal(payloads[1].data.resource.active, false);
    t.notOk('emails' in payloads[1].data.resource, 'resource projected to the subscribed attributes');
    t.match(payloads[0].timestamp, /^\d{4}-\d\d-\d\dT/);
    for (const r of rx.accepted) {
      t.match(r.headers['webhook-id'], /^evt_[0-9a-f]{32}$/);
      t.equal(r.headers['content-type'], 'application/json');
      t.ok(verifyV1a(ep.publicKey!, r), 'v1a signature verifies with the whpk_ key');
    }
    t.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(rx.accepted[0]!.body, rx.accepted[0]!.headers as Record<string, string>), 'a wrong secret does not verify');
    t.throws(() => wh.verify(rx.accepted[0]!.body.replace('user.created', 'user.deleted'), rx.accepted[0]!.headers as Record<string, string>), 'a changed body does not verify');

    // Rotation: during the grace period each request carries both signatures.
    const rot = await api(app, 'POST', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}/rotate-secret`, {});
    t.equal(rot.status, 200);
    t.not(rot.body.secret, ep.secret);
    t.not(rot.body.publicKey, ep.publicKey);
    t.equal(rot.body.previousPublicKey, ep.publicKey);
    await record(h.db, userChange(tenant, randomUUID()));
    await rx.waitFor(3);
    const third = rx.accepted[2]!;
    t.ok(new Webhook(rot.body.secret).verify(third.body, third.headers as Record<string, string>), 'new secret verifies');
    t.ok(new Webhook(ep.secret).verify(third.body, third.headers as Record<string, string>), 'old secret still verifies during the grace period');
    t.ok(verifyV1a(rot.body.publicKey, third) && verifyV1a(ep.publicKey!, third), 'both ed25519 keys sign');
    t.equal(String(third.headers['webhook-signature']).split(' ').length, 4);
  });

  t.test(`${backend}: receiver down, then up: everything arrives, in order per resource, once`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t);
    await rx.close(); // nothing listens on this port now
    await addEndpoint(app, tenant, { url: rx.url });
    worker(t, h.db, { config: { databaseUrl: h.url, webhookRetrySchedule: Array(30).fill(100) } });

    const users = 6;
    const updates = 3;
    await churn(h.db, tenant, users, updates);
    await until(
      async () => Number((await sql<{ n: unknown }>`select count(*) as n from webhook_attempts where error like 'connection error%'`.execute(h.db)).rows[0]!.n) >= users,
      15_000,
      () => 'failed attempts while the receiver is down',
    );
    await rx.reopen();
    await rx.waitFor(users * (updates + 1));
    await sleep(300); // anything extra would show up now

    t.equal(rx.accepted.length, users * (updates + 1), 'no duplicates');
    t.equal(new Set(rx.accepted.map((r) => r.headers['webhook-id'])).size, users * (updates + 1));
    const seqs = sequencesByResource(rx.accepted);
    t.equal(seqs.size, users);
    for (const [, s] of seqs) t.same(s, [1, 2, 3, 4], 'each resource in order');
    t.ok((await deliveryStatuses(h.db)).every((d) => d.status === 'succeeded'));
  });

  t.test(`${backend}: slow receiver: the attempt times out and is retried with the same webhook-id`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, async (_req, _body, res, n) => {
      if (n === 1) await sleep(1500);
      if (!res.destroyed) res.writeHead(200).end('ok');
    });
    await addEndpoint(app, tenant, { url: rx.url });
    worker(t, h.db, { config: { databaseUrl: h.url, webhookTimeoutMs: 300 } });
    await record(h.db, userChange(tenant, randomUUID()));
    await until(async () => (await deliveryStatuses(h.db))[0]?.status === 'succeeded', 15_000, () => 'delivery to succeed');

    t.equal(rx.all.length, 2);
    t.equal(rx.all[0]!.headers['webhook-id'], rx.all[1]!.headers['webhook-id']);
    const ev = await api(app, 'GET', `/admin/v1/tenants/${tenant}/events/${rx.all[0]!.headers['webhook-id']}`);
    const log = ev.body.deliveries[0].attemptLog;
    t.same(log.map((a: any) => [a.outcome, a.statusCode]), [['retry', null], ['succeeded', 200]]);
    t.match(log[0].error, /^timeout/);
    t.ok(log[0].latencyMs >= 250, 'latency recorded');
  });

  t.test(`${backend}: 500 and 429 are retried (Retry-After honoured), 410 disables the endpoint`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, (_req, _body, res, n) => {
      if (n === 1) res.writeHead(500).end('boom');
      else if (n === 2) res.writeHead(429, { 'retry-after': '1' }).end();
      else if (n === 3) res.writeHead(410).end();
      else res.writeHead(204).end();
    });
    const ep = await addEndpoint(app, tenant, { url: rx.url });
    worker(t, h.db, { config: { databaseUrl: h.url } });
    const first = randomUUID();
    await record(h.db, userChange(tenant, first));
    await rx.waitForAll(3);
    t.ok(rx.all[2]!.at - rx.all[1]!.at >= 900, 'waited for Retry-After (1 s) rather than the 100 ms schedule step');

    await until(async () => (await api(app, 'GET', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}`)).body.enabled === false, 5000, () => 'endpoint disabled');
    const got = await api(app, 'GET', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}`);
    t.match(got.body.disabledReason, /410/);
    // The host learns of it from its other endpoints and the poll feed (README "Tenant events").
    await until(async () => (await api(app, 'GET', `/admin/v1/tenants/${tenant}/events`)).body.events.some((e: any) => e.type === 'tenant.webhook_disabled'), 5000, () => 'tenant.webhook_disabled in the feed');
    const disabled = (await api(app, 'GET', `/admin/v1/tenants/${tenant}/events`)).body.events.find((e: any) => e.type === 'tenant.webhook_disabled');
    t.match(disabled.data, { resourceType: 'Tenant', id: tenant, endpoint: ep.id, url: rx.url, reason: /410/, actor: { type: 'system' } });

    // While disabled, new events are not queued for it; the pending one waits.
    await record(h.db, userChange(tenant, randomUUID()));
    await sleep(200);
    t.equal(rx.all.length, 3, 'nothing is sent to a disabled endpoint');
    t.same(await deliveryStatuses(h.db), [{ type: 'user.created', status: 'pending', attempts: 3 }]);

    const ev = await api(app, 'GET', `/admin/v1/tenants/${tenant}/events/${rx.all[0]!.headers['webhook-id']}`);
    t.same(ev.body.deliveries[0].attemptLog.map((a: any) => [a.outcome, a.statusCode]), [['retry', 500], ['retry', 429], ['disabled', 410]]);
    t.equal(ev.body.deliveries[0].attemptLog[0].error, 'HTTP 500: boom');

    const en = await api(app, 'PATCH', `/admin/v1/tenants/${tenant}/webhooks/${ep.id}`, { enabled: true });
    t.equal(en.body.enabled, true);
    t.equal(en.body.disabledReason, null);
    await rx.waitFor(1);
    t.equal(rx.accepted[0]!.json.data.id, first, 'the pending delivery goes out once re-enabled');
    await until(async () => (await deliveryStatuses(h.db))[0]!.status === 'succeeded', 5000, () => 'succeeded');
  });

  t.test(`${backend}: other 4xx dead-letter at once and unblock the resource; retries run out into the dead letter`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, (_req, body, res) => {
      const seq = JSON.parse(body).data.sequence;
      if (seq === 1) res.writeHead(422).end('{"error":"nope"}');
      else res.writeHead(204).end();
    });
    const down = await startReceiver(t, (_req, _body, res) => res.writeHead(503).end());
    await addEndpoint(app, tenant, { url: rx.url, events: ['user.created', 'user.updated'] });
    await addEndpoint(app, tenant, { url: down.url, events: ['user.deleted'] });
    worker(t, h.db, { config: { databaseUrl: h.url, webhookRetrySchedule: [20, 20] } });

    const id = randomUUID();
    await record(h.db, userChange(tenant, id));
    await record(h.db, userChange(tenant, id, { action: 'updated', version: 2, changed: ['title'] }));
    await record(h.db, userChange(tenant, id, { action: 'deleted', version: 2, resource: null }));
    await rx.waitFor(1);
    t.equal(rx.accepted[0]!.json.data.sequence, 2, 'the next event went out after the first was dead-lettered');
    await down.waitForAll(3);
    await until(async () => (await deliveryStatuses(h.db)).every((d) => d.status !== 'pending'), 5000, () => 'all final');
    t.same(await deliveryStatuses(h.db), [
      { type: 'user.created', status: 'dead', attempts: 1 },
      { type: 'user.updated', status: 'succeeded', attempts: 1 },
      { type: 'user.deleted', status: 'dead', attempts: 3 },
    ]);
    await sleep(100);
    t.equal(down.all.length, 3, '1 attempt + 2 retries, then dead-lettered');
  });
}

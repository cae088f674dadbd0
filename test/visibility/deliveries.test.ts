/**
 * The delivery browser (README "Delivery browser") through HTTP with a real
 * worker and real receivers on loopback: deliveries by status with their
 * event and last error, unknown statuses refused, bulk redelivery of dead
 * letters, health counting the present, the signed test ping, and one error
 * for bad event types.
 */
import t from 'tap';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Webhook } from 'standardwebhooks';
import { DELIVERY_FILTERS } from '../../src/events/deliveries.js';
import { SET_VERIFICATION_EVENT } from '../../src/events/set.js';
import { EVENT_TYPES } from '../../src/events/types.js';
import { ADMIN_TOKEN_ACTOR } from '../../src/services/actor.js';
import { startApp, user } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { startReceiver, until, worker, type Handler } from '../events/helpers.js';

const answer = (status: number, body = ''): Handler => (_req, _body, res) => {
  res.writeHead(status).end(body);
};

for (const backend of backends) {
  t.test(`${backend}: deliveries by status, bulk redelivery of dead letters, health of the present`, async (t) => {
    const a = await startApp(t, backend);
    const rx = await startReceiver(t, answer(400, 'no thanks'));
    const hook = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: rx.url, events: ['user.created'] });
    const base = `/tenants/${a.tenant}/webhooks/${hook.body.id}`;
    // A retry waits a minute: a delivery that failed once stays "failed" for the whole test.
    worker(t, a.database.db, { config: { databaseUrl: a.database.url, webhookRetrySchedule: [60_000] } });
    const health = async () => (await a.admin('GET', `${base}/health`)).body;
    const list = async (query: string) => {
      const r = await a.admin('GET', `${base}/deliveries?${query}`);
      t.equal(r.status, 200, query);
      return r.body;
    };

    const ids: string[] = [];
    for (const name of ['ada', 'grace', 'edsger']) ids.push((await a.scim('POST', '/Users', user(name))).body.id);
    await until(async () => (await health()).deadLettered === 3, 15_000, () => 'three dead letters');

    const dead = await list('status=dead');
    t.same(dead.deliveries.map((d: any) => [d.status, d.event.type, d.event.resourceId, d.attempts, d.lastStatus]), [...ids].reverse().map((id) => ['dead', 'user.created', id, 1, 400]), 'newest first');
    t.match(dead.deliveries[0], { reason: 'live', lastError: /HTTP 400: no thanks \(not retried\)/, event: { sequence: 1 } });
    t.ok(dead.deliveries[0].lastAttemptAt && dead.deliveries[0].finishedAt);
    t.equal(dead.next, null);
    const first = await list('status=dead&limit=2');
    t.equal(first.deliveries.length, 2);
    const second = await list(`status=dead&limit=2&cursor=${first.next}`);
    t.same([...first.deliveries, ...second.deliveries].map((d: any) => d.id), dead.deliveries.map((d: any) => d.id));
    t.equal(second.next, null);
    t.same((await list('status=succeeded')).deliveries, []);

    rx.handler = answer(503);
    const dana = (await a.scim('POST', '/Users', user('dana'))).body.id;
    await until(async () => (await list('status=failed')).deliveries.length === 1, 15_000, () => 'a failed delivery');
    t.match((await list('status=failed')).deliveries[0], { status: 'pending', attempts: 1, lastStatus: 503, event: { resourceId: dana } });
    t.same((await list('status=pending')).deliveries.map((d: any) => d.event.resourceId), [dana]);
    t.equal((await health()).deadLettered, 3, 'a delivery being retried is no dead letter');
    t.same((await list('')).deliveries.map((d: any) => d.event.resourceId), [dana, ...[...ids].reverse()], 'without status: all of them');

    for (const [query, why] of [
      ['status=gone', `status must be one of ${DELIVERY_FILTERS.join(', ')}, not "gone"`],
      ['status=dead&colour=red', 'colour is not a known field'],
      ['status=dead&cursor=nope', 'cursor'],
    ] as const) {
      const r = await a.admin('GET', `${base}/deliveries?${query}`);
      t.equal(r.status, 400, query);
      t.match(r.body.detail, why, query);
    }

    rx.handler = answer(204);
    t.equal((await a.admin('POST', `${base}/redeliver`, { status: 'pending' })).status, 400, 'only dead letters are redelivered in bulk');
    const again = await a.admin('POST', `${base}/redeliver`, { status: 'dead' });
    t.same([again.status, again.body], [202, { queued: 3 }]);
    t.same((await a.admin('POST', `${base}/redeliver`, { status: 'dead' })).body, { queued: 0 }, 'queued again once: a pending redelivery supersedes the dead letter');
    await rx.waitFor(3);
    await until(async () => (await list('status=succeeded')).deliveries.length === 3, 15_000, () => 'three redelivered');
    t.equal((await health()).deadLettered, 0, 'dead letters that were delivered since no longer count');
    t.same((await list('status=dead')).deliveries, []);
    t.same((await list('status=succeeded')).deliveries.map((d: any) => d.reason), ['redeliver', 'redeliver', 'redeliver']);
    t.same(rx.accepted.map((r) => r.json.data.id).sort(), [...ids].sort());
    const evt = (await a.admin('GET', `/tenants/${a.tenant}/events/${dead.deliveries[0].event.id}`)).body;
    t.same(evt.deliveries.map((d: any) => d.status), ['dead', 'succeeded'], 'the event keeps its whole story');
  });

  t.test(`${backend}: the test ping is signed like a delivery and answers with the receiver's status and timing`, async (t) => {
    const a = await startApp(t, backend);
    const rx = await startReceiver(t);
    const hook = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: rx.url, events: ['group.deleted'] });
    const base = `/tenants/${a.tenant}/webhooks/${hook.body.id}`;

    const ok = await a.admin('POST', `${base}/test`);
    t.equal(ok.status, 200);
    t.match(ok.body, { delivered: true, statusCode: 204, error: null, eventId: /^evt_/ });
    t.ok(Number.isInteger(ok.body.latencyMs) && ok.body.latencyMs >= 0);
    t.equal(rx.all.length, 1, 'sent at once, whatever the events filter');
    const got = new Webhook(hook.body.secret).verify(rx.all[0]!.body, rx.all[0]!.headers as Record<string, string>) as any;
    t.match(got, { type: 'webhook.test', data: { tenant: a.tenant, endpoint: hook.body.id, actor: ADMIN_TOKEN_ACTOR } });
    t.equal(rx.all[0]!.headers['webhook-id'], ok.body.eventId);
    t.equal(rx.all[0]!.headers['user-agent'], 'Roster-Webhooks/1');

    rx.handler = answer(503, 'maintenance');
    await a.admin('PATCH', base, { enabled: false });
    const down = await a.admin('POST', `${base}/test`);
    t.match(down.body, { delivered: false, statusCode: 503, response: 'maintenance', error: null }, 'a disabled endpoint can be tested before it is enabled again');
    await rx.close();
    const refused = await a.admin('POST', `${base}/test`);
    t.match(refused.body, { delivered: false, statusCode: null, error: /connection error/ });
    t.equal((await a.admin('GET', `/tenants/${a.tenant}/events`)).body.events.filter((e: any) => e.type === 'webhook.test').length, 0, 'a test is no event');
    t.equal((await a.admin('POST', `/tenants/${a.tenant}/webhooks/00000000-0000-4000-8000-000000000000/test`)).status, 404);

    const srx = await startReceiver(t, answer(202));
    const set = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: srx.url, format: 'set' });
    const sent = await a.admin('POST', `/tenants/${a.tenant}/webhooks/${set.body.id}/test`);
    t.match(sent.body, { delivered: true, statusCode: 202 });
    const jwks = createLocalJWKSet(JSON.parse((await a.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body));
    const { payload } = await jwtVerify(srx.all[0]!.body, jwks, { issuer: `https://roster.test/scim/v2/${a.tenant}`, audience: srx.url, typ: 'secevent+jwt' });
    t.same((payload as any).events, { [SET_VERIFICATION_EVENT]: { state: sent.body.eventId } }, 'SET endpoints get the SSF verification event');
  });

  t.test(`${backend}: unknown event types get one error naming them and listing the valid ones`, async (t) => {
    const a = await startApp(t, backend);
    const bad = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: 'https://x.example/', events: ['user.created', 'user.exploded', 'group.renamed'] });
    t.equal(bad.status, 400);
    t.equal(bad.body.detail, `Unknown event type(s): "user.exploded", "group.renamed". The event types are: ${EVENT_TYPES.join(', ')}`);
    const hook = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: 'https://x.example/', events: ['tenant.connected'] });
    t.equal(hook.status, 201);
    const patched = await a.admin('PATCH', `/tenants/${a.tenant}/webhooks/${hook.body.id}`, { events: ['tenant.disconnected'] });
    t.equal(patched.status, 400);
    t.equal(patched.body.detail, `Unknown event type(s): "tenant.disconnected". The event types are: ${EVENT_TYPES.join(', ')}`);
    t.match((await a.admin('GET', `/tenants/${a.tenant}/events?types=user.exploded`)).body.detail, /Unknown event type/);
  });
}

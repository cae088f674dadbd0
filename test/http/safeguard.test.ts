/**
 * The deletion safeguard (README.md "Deletion safeguard"), through SCIM and
 * the admin API on both backends, with a real webhook receiver on loopback:
 * an Entra-shaped mass unassignment (PATCH active "False") held and
 * released in order, an Okta-shaped one (PUT active false) and a DELETE held
 * and rejected, the default threshold (a share of the active users), and an
 * audience edit held like a SCIM request.
 */
import pino from 'pino';
import t from 'tap';
import { startDeliveryWorker } from '../../src/events/worker.js';
import { ENTERPRISE_USER_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from '../../src/scim/schema.js';
import { startPolicyWorker } from '../../src/services/policy-worker.js';
import { DEFAULT_POLICY } from '../../src/policy/policy.js';
import { pruneEvents } from '../../src/db/outbox-housekeeping.js';
import { sql } from 'kysely';
import { ADMIN_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { fastConfig, sleep, startReceiver, until, type Receiver } from '../events/helpers.js';

const ENT = ENTERPRISE_USER_SCHEMA;
const silent = pino({ level: 'silent' });

async function scim(a: TestApp, tenant: string, token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, requestId?: string) {
  const r = await a.app.inject({
    method,
    url: `/scim/v2/${tenant}${path}`,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/scim+json' } : {}), ...(requestId ? { 'x-request-id': requestId } : {}) },
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: r.statusCode, body: r.body ? r.json() : undefined };
}

/** Entra ID's deactivation on unassignment: PATCH replace active with the string "False" (test/fixtures/entra). */
const entraDeactivate = { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] };

/** Events the receiver got for one tenant, as `type userName`. */
const told = (rx: Receiver, tenant: string) => rx.accepted.map((r) => r.json).filter((e) => e.data.tenant === tenant);

async function tenantWith(a: TestApp, rx: Receiver, id: string, policy?: unknown): Promise<string> {
  const created = await a.admin('POST', '/tenants', { id });
  const token = created.body.token.token as string;
  t.equal((await a.admin('POST', `/tenants/${id}/webhooks`, { url: rx.url })).status, 201);
  if (policy) t.equal((await a.admin('PUT', `/tenants/${id}/policy`, policy)).status, 200);
  return token;
}

async function people(a: TestApp, tenant: string, token: string, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await scim(a, tenant, token, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: `u${i}@${tenant}.example`, externalId: `X-${i}`, ...extra });
    if (r.status !== 201) throw new Error(`create u${i}: ${r.status} ${JSON.stringify(r.body)}`);
    ids.push(r.body.id);
  }
  return ids;
}

for (const backend of backends) {
  t.test(backend, async (t) => {
    const a = await startApp(t, backend, {}, { policyCacheMs: 0 });
    const rx = await startReceiver(t);
    const delivery = startDeliveryWorker({ db: a.database.db, logger: silent, config: fastConfig() });
    t.teardown(() => delivery.stop(0));
    const feedTypes = async (tenant: string) => (await a.admin('GET', `/tenants/${tenant}/events?limit=1000`)).body.events.map((e: any) => e.type);

    t.equal(DEFAULT_POLICY.safeguard.maxPercent, 20, 'on by default');

    await t.test('Entra-shaped mass unassignment: beyond the threshold held, the host told once, released in order', async (t) => {
      const token = await tenantWith(a, rx, 'contoso', { safeguard: { maxCount: 5, maxPercent: null } });
      const ids = await people(a, 'contoso', token, 10);
      await until(() => told(rx, 'contoso').filter((e) => e.type === 'user.created').length === 10, 10_000, () => 'creations delivered');

      for (const [i, id] of ids.slice(0, 8).entries()) {
        const r = await scim(a, 'contoso', token, 'PATCH', `/Users/${id}`, entraDeactivate, `req-entra-${i}`);
        t.equal(r.status, 200, 'the IdP gets its normal answer');
        t.equal(r.body.active, false, 'and Roster stores what it says');
      }
      await until(() => told(rx, 'contoso').some((e) => e.type === 'tenant.safeguard_triggered'), 10_000, () => 'tenant.safeguard_triggered');
      await sleep(300);
      const triggered = told(rx, 'contoso').filter((e) => e.type === 'tenant.safeguard_triggered');
      t.equal(triggered.length, 1, 'one tenant.safeguard_triggered');
      t.match(triggered[0].data, { hold: /^\d+$/, count: 6, reason: /6 deactivations and deletions within 1h \(more than 5\)/, threshold: { maxCount: 5 }, actor: { type: 'system', name: 'safeguard' } });
      t.equal(told(rx, 'contoso').filter((e) => e.type === 'user.deactivated').length, 5, 'the first five were told');

      // A held user's later change waits behind the hold; another user's does not.
      t.equal((await scim(a, 'contoso', token, 'PATCH', `/Users/${ids[7]}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'title', value: 'Gone' }] })).status, 200);
      t.equal((await scim(a, 'contoso', token, 'PATCH', `/Users/${ids[9]}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'title', value: 'Still here' }] })).status, 200);
      await until(() => told(rx, 'contoso').some((e) => e.type === 'user.updated' && e.data.id === ids[9]), 10_000, () => 'unheld update delivered');
      t.notOk(told(rx, 'contoso').some((e) => e.data.id === ids[7] && e.type !== 'user.created'), 'nothing of a held user reaches the host');
      t.equal((await feedTypes('contoso')).filter((x: string) => x === 'user.deactivated').length, 5, 'held events are not in the poll feed');

      const list = await a.admin('GET', '/tenants/contoso/holds');
      t.equal(list.status, 200);
      t.equal(list.body.holds.length, 1);
      const hold = list.body.holds[0];
      t.match(hold, { id: triggered[0].data.hold, state: 'open', items: 3, heldEvents: 4, decidedAt: null });
      const one = await a.admin('GET', `/tenants/contoso/holds/${hold.id}?limit=2`);
      t.equal(one.status, 200);
      t.same(one.body.items.map((i: any) => [i.userName, i.event, i.from, i.requestId]), [
        ['u5@contoso.example', 'user.deactivated', 'active', 'req-entra-5'],
        ['u6@contoso.example', 'user.deactivated', 'active', 'req-entra-6'],
      ]);
      const rest = await a.admin('GET', `/tenants/contoso/holds/${hold.id}?cursor=${one.body.next}`);
      t.same(rest.body.items.map((i: any) => i.userName), ['u7@contoso.example']);
      t.equal(rest.body.next, null);

      const released = await a.admin('POST', `/tenants/contoso/holds/${hold.id}/release`);
      t.equal(released.status, 200);
      t.match(released.body, { state: 'released', items: 3, heldEvents: 0, decidedBy: { type: 'admin' } });
      await until(() => told(rx, 'contoso').filter((e) => e.type === 'user.deactivated').length === 8, 10_000, () => 'released deactivations');
      await until(() => told(rx, 'contoso').some((e) => e.type === 'user.updated' && e.data.id === ids[7]), 10_000, () => "the held user's later update");
      const seven = told(rx, 'contoso').filter((e) => e.data.id === ids[7]);
      t.same(seven.map((e) => e.type), ['user.created', 'user.deactivated', 'user.updated'], 'in order per user');
      t.same(seven.map((e) => e.data.sequence), [1, 2, 3]);
      t.equal((await feedTypes('contoso')).filter((x: string) => x === 'user.deactivated').length, 8, 'and in the poll feed now');
      const again = await a.admin('POST', `/tenants/contoso/holds/${hold.id}/reject`);
      t.equal(again.status, 409, 'a decided hold stays decided');
      t.match(again.body.detail, /already released/);
    });

    await t.test('Okta-shaped deactivations and a DELETE held, then rejected: the host keeps its users', async (t) => {
      const token = await tenantWith(a, rx, 'globex', { safeguard: { maxCount: 2, maxPercent: null } });
      const ids = await people(a, 'globex', token, 6);
      await until(() => told(rx, 'globex').filter((e) => e.type === 'user.created').length === 6, 10_000, () => 'creations delivered');
      // Okta deactivates with a PUT of the whole user, active false (test/fixtures/okta).
      for (const [i, id] of ids.slice(0, 4).entries()) {
        const r = await scim(a, 'globex', token, 'PUT', `/Users/${id}`, { schemas: [USER_SCHEMA], userName: `u${i}@globex.example`, externalId: `X-${i}`, active: false });
        t.equal(r.status, 200);
      }
      t.equal((await scim(a, 'globex', token, 'DELETE', `/Users/${ids[4]}`)).status, 204);
      await until(() => told(rx, 'globex').some((e) => e.type === 'tenant.safeguard_triggered'), 10_000, () => 'triggered');
      await sleep(300);
      t.equal(told(rx, 'globex').filter((e) => e.type === 'user.deactivated').length, 2);
      const hold = (await a.admin('GET', '/tenants/globex/holds?state=open')).body.holds[0];
      t.match(hold, { items: 3, heldEvents: 3 });
      const items = (await a.admin('GET', `/tenants/globex/holds/${hold.id}`)).body.items;
      t.same(items.map((i: any) => i.event), ['user.deactivated', 'user.deactivated', 'user.deleted']);

      const rejected = await a.admin('POST', `/tenants/globex/holds/${hold.id}/reject`);
      t.equal(rejected.status, 200);
      t.match(rejected.body, { state: 'rejected', heldEvents: 0 });
      await sleep(500);
      t.notOk(told(rx, 'globex').some((e) => e.type === 'user.deleted' || [ids[2], ids[3]].includes(e.data.id) && e.type !== 'user.created'), 'nothing held reaches the host');
      t.notOk((await feedTypes('globex')).includes('user.deleted'), 'nor the poll feed');
      t.equal((await scim(a, 'globex', token, 'GET', `/Users/${ids[2]}`)).body.active, false, 'Roster keeps what the IdP said');

      // Marked: further changes of the rejected user do not deprovision it again …
      t.equal((await scim(a, 'globex', token, 'PATCH', `/Users/${ids[2]}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'title', value: 'x' }] })).status, 200);
      // … until the IdP reactivates it (no event: the host has it active), which clears the mark.
      t.equal((await scim(a, 'globex', token, 'PATCH', `/Users/${ids[2]}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: true }] })).status, 200);
      await until(() => told(rx, 'globex').filter((e) => e.data.id === ids[2]).length >= 2, 10_000, () => 'the reactivation');
      await sleep(300);
      const seen = told(rx, 'globex').filter((e) => e.data.id === ids[2]);
      t.same(seen.map((e) => [e.type, e.data.resource?.active, e.data.resource?.title]), [['user.created', undefined, undefined], ['user.updated', true, 'x']], 'the host, which kept the user active, is told of the reactivation as an update; nothing while marked');
      t.equal((await a.admin('GET', '/tenants/globex/holds?state=open')).body.holds.length, 0);
      // Deactivated again: beyond the threshold in the window, so a new hold.
      t.equal((await scim(a, 'globex', token, 'PATCH', `/Users/${ids[2]}`, entraDeactivate)).status, 200);
      const open = (await a.admin('GET', '/tenants/globex/holds?state=open')).body.holds;
      t.equal(open.length, 1, 'the mark is gone: deprovisioned again, held again');
      t.equal((await a.admin('GET', '/tenants/globex/holds')).body.holds.length, 2);

      const audit = await a.admin('GET', '/tenants/globex/audit');
      t.ok(audit.body.entries.some((e: any) => e.action === 'hold.rejected' && e.target.type === 'hold' && e.target.id === hold.id), 'the rejection is audited');
    });

    await t.test('the default threshold: a share of the active users once there are ten', async (t) => {
      const token = await tenantWith(a, rx, 'initech');
      const ids = await people(a, 'initech', token, 40);
      for (const id of ids.slice(0, 12)) t.equal((await scim(a, 'initech', token, 'PATCH', `/Users/${id}`, entraDeactivate)).status, 200);
      await until(() => told(rx, 'initech').some((e) => e.type === 'tenant.safeguard_triggered'), 10_000, () => 'triggered');
      await sleep(300);
      t.equal(told(rx, 'initech').filter((e) => e.type === 'user.deactivated').length, 9, 'nine of 40 told (the tenth is more than 20% of 40)');
      const hold = (await a.admin('GET', '/tenants/initech/holds')).body.holds[0];
      t.match(hold, { items: 3, reason: /10 deactivations and deletions within 1h, more than 20% of 40 active users/ });
    });

    await t.test('reject: a user the IdP reactivated meanwhile is not marked; a held deletion keeps its group memberships at the host; held events outlive retention', async (t) => {
      const token = await tenantWith(a, rx, 'wayne', { safeguard: { maxCount: 1, maxPercent: null } });
      const ids = await people(a, 'wayne', token, 4);
      const group = await scim(a, 'wayne', token, 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Staff', members: ids.map((value) => ({ value })) });
      t.equal(group.status, 201);
      await until(() => told(rx, 'wayne').some((e) => e.type === 'group.members.added'), 10_000, () => 'group delivered');
      t.equal((await scim(a, 'wayne', token, 'PATCH', `/Users/${ids[0]}`, entraDeactivate)).status, 200);
      t.equal((await scim(a, 'wayne', token, 'PATCH', `/Users/${ids[1]}`, entraDeactivate)).status, 200, 'held');
      t.equal((await scim(a, 'wayne', token, 'DELETE', `/Users/${ids[2]}`)).status, 204, 'held too');
      t.equal((await scim(a, 'wayne', token, 'PATCH', `/Users/${ids[1]}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: true }] })).status, 200, 'reactivated behind the hold');
      const hold = (await a.admin('GET', '/tenants/wayne/holds?state=open')).body.holds[0];
      t.match(hold, { items: 2, heldEvents: 3 });
      // Retention far in the past: held events have no delivery but must stay.
      await sql`update events set occurred_at = now() - interval '400 days' where held_by is not null`.execute(a.database.db);
      await pruneEvents(a.database.db, 30);
      t.match((await a.admin('GET', `/tenants/wayne/holds/${hold.id}`)).body.hold, { heldEvents: 3 }, 'retention keeps held events');
      await sleep(300);
      t.notOk(told(rx, 'wayne').some((e) => e.type === 'group.members.removed'), 'the host keeps the held deletion in its groups');
      t.equal((await a.admin('POST', `/tenants/wayne/holds/${hold.id}/reject`)).status, 200);
      // The IdP had reactivated ids[1]: not marked, so its next deactivation is decided normally (and held: the window is over the threshold).
      t.equal((await scim(a, 'wayne', token, 'PATCH', `/Users/${ids[1]}`, entraDeactivate)).status, 200);
      const next = (await a.admin('GET', '/tenants/wayne/holds?state=open')).body.holds[0];
      t.match(next, { items: 1 }, 'deprovisioned again, not silently dropped');
    });

    await t.test('concurrent deactivations take turns: exactly the threshold is told', async (t) => {
      const token = await tenantWith(a, rx, 'umbrella', { safeguard: { maxCount: 3, maxPercent: null } });
      const ids = await people(a, 'umbrella', token, 8);
      const answers = await Promise.all(ids.map((id) => scim(a, 'umbrella', token, 'PATCH', `/Users/${id}`, entraDeactivate)));
      t.same(answers.map((r) => r.status), ids.map(() => 200));
      await until(() => told(rx, 'umbrella').some((e) => e.type === 'tenant.safeguard_triggered'), 10_000, () => 'triggered');
      await sleep(300);
      t.equal(told(rx, 'umbrella').filter((e) => e.type === 'user.deactivated').length, 3, 'three told');
      t.match((await a.admin('GET', '/tenants/umbrella/holds')).body.holds, [{ items: 5 }], 'five held');
    });

    await t.test('an audience edit that removes many users is held like a SCIM request', async (t) => {
      const token = await tenantWith(a, rx, 'hooli', { safeguard: { maxCount: 2, maxPercent: null } });
      await people(a, 'hooli', token, 5, { [ENT]: { department: 'Sales' } });
      await until(() => told(rx, 'hooli').filter((e) => e.type === 'user.created').length === 5, 10_000, () => 'creations delivered');
      const worker = startPolicyWorker({ db: a.database.db, policies: a.services.policies, golive: a.services.golive, logger: silent, intervalMs: 60_000 });
      t.teardown(() => worker.stop());
      t.equal((await a.admin('PUT', '/tenants/hooli/policy', { safeguard: { maxCount: 2, maxPercent: null }, audience: { exclude: `${ENT}:department eq "Sales"` } })).status, 200);
      await until(async () => (await a.admin('GET', '/tenants/hooli/holds')).body.holds[0]?.items === 3, 15_000, () => 'three held by the re-evaluation');
      await sleep(300);
      t.equal(told(rx, 'hooli').filter((e) => e.type === 'user.deactivated').length, 2, 'two told');
      const items = (await a.admin('GET', `/tenants/hooli/holds/${(await a.admin('GET', '/tenants/hooli/holds')).body.holds[0].id}`)).body.items;
      t.ok(items.every((i: any) => i.requestId === null), 'no SCIM request caused them');
    });

    await t.test('bad references get precise errors', async (t) => {
      const h = (url: string, method: 'GET' | 'POST' = 'GET') => a.app.inject({ method, url: `/admin/v1${url}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      for (const [url, status, method] of [
        ['/tenants/contoso/holds/abc', 404],
        ['/tenants/contoso/holds/99999', 404],
        ['/tenants/contoso/holds/99999/release', 404, 'POST'],
        ['/tenants/nobody/holds', 404],
        ['/tenants/contoso/holds?limit=0', 400],
        ['/tenants/contoso/holds?cursor=x', 400],
        ['/tenants/contoso/holds?state=maybe', 400],
      ] as const) {
        const r = await h(url, method);
        t.equal(r.statusCode, status, url);
        t.match(r.json(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status) });
      }
    });
  });
}

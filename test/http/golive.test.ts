/**
 * Going live safely (README.md, "Going live safely"), through the admin API
 * and SCIM on both backends, with a real webhook receiver on loopback: a dry
 * run that tells the host nothing, reconciliation with the host's existing
 * users, the dry-run report and its CSV files, and a go-live that delivers
 * the resulting state once — resumed by another worker after one stops
 * half-way, without anything lost or sent twice.
 */
import { parse } from 'csv-parse/sync';
import pino from 'pino';
import t from 'tap';
import { startDeliveryWorker } from '../../src/events/worker.js';
import { startPolicyWorker } from '../../src/services/policy-worker.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from '../../src/scim/schema.js';
import { ADMIN_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { fastConfig, startReceiver } from '../events/helpers.js';

const ENT = ENTERPRISE_USER_SCHEMA;
const silent = pino({ level: 'silent' });

async function scim(a: TestApp, tenant: string, token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown) {
  const r = await a.app.inject({
    method,
    url: `/scim/v2/${tenant}${path}`,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: r.statusCode, body: r.body ? r.json() : undefined };
}

const adminRaw = (a: TestApp, method: 'GET' | 'PUT' | 'POST', url: string, payload?: string, type?: string) =>
  a.app.inject({ method, url: `/admin/v1${url}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(type ? { 'content-type': type } : {}) }, ...(payload !== undefined ? { payload } : {}) });

for (const backend of backends) {
  t.test(backend, async (t) => {
    const a = await startApp(t, backend, {}, { policyCacheMs: 0 });
    const rx = await startReceiver(t);

    const created = await a.admin('POST', '/tenants', { id: 'newco', mode: 'dryRun' });
    t.equal(created.status, 201);
    t.equal(created.body.tenant.mode, 'dryRun');
    const token = created.body.token.token as string;
    t.equal((await a.admin('POST', '/tenants/newco/webhooks', { url: rx.url })).status, 201);
    const policy = await a.admin('PUT', '/tenants/newco/policy', {
      audience: { exclude: `${ENT}:employeeType eq "Contractor"` },
      mapping: { fields: { email: 'emails', department: `${ENT}:department` } },
    });
    t.equal(policy.status, 200);
    const delivery = startDeliveryWorker({ db: a.database.db, logger: silent, config: fastConfig() });
    t.teardown(() => delivery.stop(0));

    // The IdP's first sync during the dry run (Entra-shaped creates, a group, changes, a deletion).
    const ids: Record<string, string> = {};
    const people: [string, Record<string, unknown>][] = [
      ['ada', { externalId: 'E-1', emails: [{ value: 'ada@corp.example', type: 'work' }], [ENT]: { department: 'R&D' } }],
      ['bob', { externalId: 'E-2', emails: [{ value: 'Bob@Corp.Example', type: 'work' }], [ENT]: { department: 'Sales' } }],
      ['cy', { externalId: 'E-3', emails: [{ value: 'shared@corp.example', type: 'work' }] }],
      ['dee', { externalId: 'E-4', emails: [{ value: 'dee@corp.example', type: 'work' }], active: false }],
      ['eve', { externalId: 'E-5', emails: [{ value: 'eve@corp.example', type: 'work' }], [ENT]: { employeeType: 'Contractor' } }],
      ['fay', { externalId: 'E-6', emails: [{ value: 'fay@corp.example', type: 'work' }] }],
      ['gus', { externalId: 'E-7', emails: [{ value: 'gus@corp.example', type: 'work' }] }],
    ];
    for (const [name, extra] of people) {
      const r = await scim(a, 'newco', token, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: `${name}@corp.example`, ...extra });
      t.equal(r.status, 201, `create ${name}`);
      ids[name] = r.body.id;
    }
    await scim(a, 'newco', token, 'PATCH', `/Users/${ids.fay}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }] });
    await scim(a, 'newco', token, 'DELETE', `/Users/${ids.gus}`);
    const group = await scim(a, 'newco', token, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Everyone', members: Object.values(ids).filter((id) => id !== ids.gus).map((value) => ({ value })) });
    t.equal(group.status, 201);
    t.equal((await scim(a, 'newco', token, 'GET', `/Users/${ids.fay}`)).body.title, 'Engineer', 'SCIM works as live');

    await t.test('a dry run tells the host nothing about users and groups', async (t) => {
      const feed = await a.admin('GET', '/tenants/newco/events');
      t.same(feed.body.events.map((e: any) => e.type), ['tenant.connected'], 'in the poll feed only that the directory connected');
      await new Promise((r) => setTimeout(r, 300));
      t.same(rx.all.map((r) => r.json.type), ['tenant.connected'], 'and delivered only that');
    });

    await t.test('the host uploads its existing users (CSV with BOM, ";" and quotes); IdP users are linked', async (t) => {
      const csv =
        '\ufeffhostUserId;email;externalId\n' +
        'h-100;"someone@else.example";E-1\n' + // ada by externalId
        'h-200;bob@corp.example;\n' + // bob by email, case-insensitively
        'h-300;shared@corp.example;\n' + // a shared email: links nobody
        'h-301;SHARED@corp.example;\n' +
        'h-400;"old.hand@corp.example";X-9\n' + // only in the host
        '\n';
      const r = await adminRaw(a, 'PUT', '/tenants/newco/host-users', csv, 'text/csv');
      t.equal(r.statusCode, 200, r.body);
      t.same(r.json(), { hostUsers: 5, sharedEmails: 2, linked: 2 });
      const bad = await adminRaw(a, 'PUT', '/tenants/newco/host-users', 'hostUserId,email\nh-1,a@x\nh-1,b@x\n', 'text/csv');
      t.equal(bad.statusCode, 400, 'a host user twice');
      t.match(bad.json().detail, /Line 3: hostUserId "h-1" appears more than once/);
      const unreadable = await adminRaw(a, 'PUT', '/tenants/newco/host-users', 'hostUserId,email\n"h-1,a@x\n', 'text/csv');
      t.equal(unreadable.statusCode, 400, 'an unterminated quote');
      const json = await a.admin('PUT', '/tenants/other/host-users', [{ hostUserId: 'x' }]);
      t.equal(json.status, 404, 'an unknown tenant');
      const after = await a.admin('GET', '/tenants/newco/dry-run');
      t.equal(after.body.reconciliation.hostUsers, 5, 'a refused upload leaves the previous one');
    });

    await t.test('the dry-run report: counts and CSV files with the mapped fields', async (t) => {
      const r = await a.admin('GET', '/tenants/newco/dry-run');
      t.equal(r.status, 200);
      t.match(r.body, {
        mode: 'dryRun',
        policyVersion: 1,
        users: { created: 3, updated: 2, deactivated: 0, deleted: 0, skipped: 1, total: 6 },
        groups: { synced: 1, skipped: 0 },
        reconciliation: { hostUsers: 5, matched: 2, matchedByExternalId: 1, matchedByEmail: 1, hostOnly: 3, sharedEmails: 2 },
        license: { cap: null, activeAfterGoLive: 4 },
        files: { created: '/admin/v1/tenants/newco/dry-run/created.csv' },
      });
      const file = async (name: string) => {
        const res = await adminRaw(a, 'GET', `/tenants/newco/dry-run/${name}.csv`);
        t.equal(res.statusCode, 200, name);
        t.match(res.headers['content-type'], /^text\/csv/);
        return parse(res.body, { columns: true }) as Record<string, string>[];
      };
      const createdRows = await file('created');
      t.same(createdRows.map((r) => r.userName).sort(), ['cy@corp.example', 'dee@corp.example', 'fay@corp.example']);
      t.same(Object.keys(createdRows[0]!), ['id', 'userName', 'externalId', 'active', 'reason', 'hostUserId', 'matchedBy', 'email', 'department'], 'the mapped fields are columns');
      t.equal(createdRows.find((r) => r.userName === 'dee@corp.example')!.active, 'false', 'created inactive');
      const updated = await file('updated');
      t.same(updated.map((r) => [r.userName, r.hostUserId, r.matchedBy, r.email, r.department]).sort(), [
        ['ada@corp.example', 'h-100', 'externalId', 'ada@corp.example', 'R&D'],
        ['bob@corp.example', 'h-200', 'email', 'Bob@Corp.Example', 'Sales'],
      ]);
      t.same((await file('skipped')).map((r) => [r.userName, r.reason]), [['eve@corp.example', 'outside the audience']]);
      t.same((await file('host-only')).map((r) => r.hostUserId), ['h-300', 'h-301', 'h-400']);
      t.same(await file('deleted'), []);
      t.equal((await adminRaw(a, 'GET', '/tenants/newco/dry-run/everything.csv')).statusCode, 400);
    });

    await t.test('go-live delivers the resulting state once, resumed after a worker stops half-way', async (t) => {
      const first = startPolicyWorker({ db: a.database.db, policies: a.services.policies, golive: a.services.golive, logger: silent, batch: 2, leaseMs: 100, manual: true });
      const r = await a.admin('POST', '/tenants/newco/go-live');
      t.equal(r.status, 202);
      t.match(r.body, { started: true, job: { kind: 'goLive', state: 'running' } });
      t.equal((await a.admin('GET', '/tenants/newco')).body.mode, 'live');
      t.ok(await first.runOnce(), 'the first worker does one batch');
      await first.stop(); // and is gone, its lease left to run out
      await new Promise((r) => setTimeout(r, 150));
      const second = startPolicyWorker({ db: a.database.db, policies: a.services.policies, golive: a.services.golive, logger: silent, batch: 2, manual: true });
      t.teardown(() => second.stop());
      await second.drain();

      const feed = (await a.admin('GET', '/tenants/newco/events?limit=1000')).body.events as { type: string; data: Record<string, any> }[];
      const byUser = new Map<string, string[]>();
      for (const e of feed.filter((e) => e.data.resourceType === 'User')) byUser.set(e.data.userName, [...(byUser.get(e.data.userName) ?? []), e.type]);
      t.same(
        [...byUser.entries()].sort(),
        [
          ['ada@corp.example', ['user.created']],
          ['bob@corp.example', ['user.created']],
          ['cy@corp.example', ['user.created']],
          ['dee@corp.example', ['user.created']],
          ['fay@corp.example', ['user.created']],
        ],
        'one user.created per user in the audience: no history, nothing twice, nothing for the contractor or the deleted user',
      );
      const ada = feed.find((e) => e.data.userName === 'ada@corp.example')!;
      t.same(ada.data.link, { hostUserId: 'h-100', matchedBy: 'externalId' });
      t.same(ada.data.profile, { email: 'ada@corp.example', department: 'R&D' });
      t.notOk(feed.find((e) => e.data.userName === 'cy@corp.example')!.data.link, 'a shared email links nobody');
      t.equal(feed.find((e) => e.data.userName === 'fay@corp.example')!.data.resource.title, 'Engineer', 'the state now, not the history');
      const groupEvents = feed.filter((e) => e.data.resourceType === 'Group');
      t.same(groupEvents.map((e) => e.type), ['group.created', 'group.members.added']);
      t.same([...groupEvents[1]!.data.members].sort(), [ids.ada, ids.bob, ids.cy, ids.dee, ids.fay].sort(), 'members the host knows');
      await rx.waitFor(feed.length);
      t.equal(rx.accepted.length, feed.length, 'the receiver got them all');

      const again = await a.admin('POST', '/tenants/newco/go-live');
      t.equal(again.status, 200, 'going live twice');
      t.equal(again.body.started, false);
      await second.drain();
      t.equal((await a.admin('GET', '/tenants/newco/events?limit=1000')).body.events.length, feed.length, 'changes nothing');

      // Live now: the IdP's next change of a linked user names the host user.
      await scim(a, 'newco', token, 'PATCH', `/Users/${ids.bob}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'title', value: 'Manager' }] });
      const next = (await a.admin('GET', '/tenants/newco/events?limit=1000')).body.events.at(-1);
      t.match(next, { type: 'user.updated', data: { link: { hostUserId: 'h-200', matchedBy: 'email' } } });
    });
  });
}

/**
 * Provisioning policies (README.md, "Provisioning policies") through the
 * admin API and SCIM on both backends, asserting what the host platform is
 * told: the events of the tenant's poll feed. Time-driven rules are tested by
 * moving their dates into the past in the database and letting the policy
 * worker run (drain), as it would once the time has come.
 */
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { startPolicyWorker, type PolicyWorker } from '../../src/services/policy-worker.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from '../../src/scim/schema.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import pino from 'pino';

const ENT = ENTERPRISE_USER_SCHEMA;
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });

interface Feed {
  type: string;
  data: Record<string, any>;
}

/** The tenant's events after `cursor`, and where to continue. */
async function eventsAfter(a: TestApp, tenant: string, cursor: string | null): Promise<{ events: Feed[]; cursor: string | null }> {
  const r = await a.admin('GET', `/tenants/${tenant}/events?limit=1000${cursor ? `&after=${cursor}` : ''}`);
  if (r.status !== 200) throw new Error(`events: ${r.status} ${JSON.stringify(r.body)}`);
  return { events: r.body.events, cursor: r.body.cursor };
}

/** A tenant of its own, and a reader of the events the host gets since the last read. */
async function tenantWith(t: Test, a: TestApp, worker: PolicyWorker, id: string, policy?: Record<string, unknown>) {
  const { token } = await a.newTenant(id);
  if (policy) {
    const r = await a.admin('PUT', `/tenants/${id}/policy`, policy);
    t.equal(r.status, 200, `policy of ${id}: ${JSON.stringify(r.body).slice(0, 300)}`);
    await worker.drain();
  }
  let cursor: string | null = null;
  const send = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown) => {
    const r = await a.app.inject({
      method,
      url: `/scim/v2/${id}${path}`,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    });
    return { status: r.statusCode, body: r.body ? r.json() : undefined };
  };
  return {
    id,
    send,
    async user(userName: string, extra: Record<string, unknown> = {}): Promise<string> {
      const r = await send('POST', '/Users', { schemas: [USER_SCHEMA], userName, ...extra });
      if (r.status !== 201) throw new Error(`create ${userName}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id;
    },
    /** Events since the previous call, as [type, id, reason?]. */
    async told(): Promise<[string, string, string?][]> {
      await worker.drain();
      const page = await eventsAfter(a, id, cursor);
      cursor = page.cursor;
      return page.events.filter((e) => e.type !== 'tenant.connected').map((e) => (e.data.reason ? [e.type, e.data.id, e.data.reason] : [e.type, e.data.id]));
    },
    async toldFull(): Promise<Feed[]> {
      await worker.drain();
      const page = await eventsAfter(a, id, cursor);
      cursor = page.cursor;
      return page.events.filter((e) => e.type !== 'tenant.connected');
    },
  };
}

/** Move a user's time-driven dates back by `days` and make its scheduled check due, as if that time had passed. */
async function timeTravel(a: TestApp, tenant: string, userId: string, days: number): Promise<void> {
  const db = a.database.db;
  const back = sql`make_interval(days => ${days})`;
  await sql`update users set inactive_since = inactive_since - ${back} where tenant_id = ${tenant} and id = ${userId}`.execute(db);
  await sql`update host_tombstones set deleted_at = deleted_at - ${back} where tenant_id = ${tenant} and user_id = ${userId}`.execute(db);
  await sql`update policy_schedule set due_at = now() - interval '1 second' where tenant_id = ${tenant} and user_id = ${userId}`.execute(db);
}

for (const backend of backends) {
  t.test(backend, async (t) => {
    const a = await startApp(t, backend, {}, { policyCacheMs: 0 });
    const worker = startPolicyWorker({ db: a.database.db, policies: a.services.policies, golive: a.services.golive, logger: pino({ level: 'silent' }), intervalMs: 60_000 });
    t.teardown(() => worker.stop());

    await t.test('the policy document: defaults, validation naming every problem, versions, If-Match', async (t) => {
      const none = await a.admin('GET', `/tenants/${a.tenant}/policy`);
      t.equal(none.status, 200);
      t.equal(none.headers.etag, 'W/"0"');
      t.match(none.body, {
        lifecycle: { onDelete: 'delete', onDeactivate: 'deactivate', purgeAfterDays: null, deleteInactiveAfterDays: null, startDate: null, endDate: null },
        audience: { include: null, exclude: null, groups: 'all' },
        mapping: { fields: {}, personalEmails: false },
        licenseCap: null,
        safeguard: { maxCount: 100, maxPercent: 20, window: '1h' },
        meta: { version: 0, updatedAt: null },
      });
      const bad = await a.admin('PUT', `/tenants/${a.tenant}/policy`, {
        lifecycle: { onDelete: 'shred', deleteInactiveAfterDays: 0, startDate: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:startDate.x' },
        audience: { exclude: 'employeeType eq', include: 'groups.value eq "x"' },
        mapping: { fields: { email: 'emails[type eq "work"].vaule', 'bad name!': 'title' } },
        licenseCap: -1,
        colour: 'blue',
      });
      t.equal(bad.status, 400);
      t.equal(bad.body.scimType, 'invalidValue');
      for (const problem of [
        /policy\.colour is not a known field/,
        /policy\.lifecycle\.onDelete must be one of "delete", "deactivate"/,
        /policy\.lifecycle\.deleteInactiveAfterDays must be null or an integer from 1 to 3650/,
        /policy\.licenseCap must be null or an integer of at least 0/,
        /policy\.mapping\.fields\.bad name! must match pattern/,
      ]) {
        t.match(bad.body.detail, problem);
      }
      const semantic = await a.admin('PUT', `/tenants/${a.tenant}/policy`, {
        lifecycle: { startDate: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.shoeSize' },
        audience: { exclude: 'employeeType eq', include: 'groups.value eq "x"' },
        mapping: { fields: { email: 'emails[type eq "work"].vaule' } },
      });
      t.equal(semantic.status, 400);
      for (const problem of [/policy\.audience\.exclude: .*filter/i, /policy\.audience\.include: the audience cannot filter on groups/, /policy\.mapping\.fields\.email: /, /policy\.lifecycle\.startDate: /]) {
        t.match(semantic.body.detail, problem, `names ${problem}`);
      }
      t.equal((await a.admin('GET', `/tenants/${a.tenant}/policy`)).body.meta.version, 0, 'nothing was stored');

      const set = await a.admin('PUT', `/tenants/${a.tenant}/policy`, { lifecycle: { onDelete: 'deactivate' } });
      t.equal(set.status, 200);
      t.equal(set.headers.etag, 'W/"1"');
      t.equal(set.body.lifecycle.onDelete, 'deactivate');
      t.equal(set.body.lifecycle.onDeactivate, 'deactivate', 'keys left out take their defaults');
      t.equal(set.body.meta.version, 1);
      // What GET gives can be PUT back (meta is ignored).
      const got = await a.admin('GET', `/tenants/${a.tenant}/policy`);
      const back = await a.admin('PUT', `/tenants/${a.tenant}/policy`, { ...got.body, licenseCap: 500 });
      t.equal(back.status, 200);
      t.equal(back.body.meta.version, 2);
      const stale = await a.app.inject({
        method: 'PUT',
        url: `/admin/v1/tenants/${a.tenant}/policy`,
        headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json', 'if-match': 'W/"1"' },
        payload: JSON.stringify({}),
      });
      t.equal(stale.statusCode, 412, 'If-Match an older version: 412');
      const versions = await a.admin('GET', `/tenants/${a.tenant}/policy/versions`);
      t.same(versions.body.versions.map((v: { meta: { version: number } }) => v.meta.version), [2, 1]);
      t.equal((await a.admin('GET', '/tenants/nope/policy')).status, 404);
      await worker.drain();
    });

    await t.test('lifecycle: a SCIM DELETE deactivates for the host, and purges after purgeAfterDays', async (t) => {
      const x = await tenantWith(t, a, worker, 'ondelete', { lifecycle: { onDelete: 'deactivate', purgeAfterDays: 30 } });
      const id = await x.user('leaver@example.com');
      t.same(await x.told(), [['user.created', id]]);
      t.equal((await x.send('DELETE', `/Users/${id}`)).status, 204);
      t.equal((await x.send('GET', `/Users/${id}`)).status, 404, 'gone over SCIM: the IdP deleted it');
      const events = await x.toldFull();
      t.same(events.map((e) => [e.type, e.data.reason]), [['user.deactivated', 'deleted (kept deactivated)']]);
      t.equal(events[0]!.data.id, id);
      t.equal((await x.send('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'leaver@example.com' })).status, 201, 'the userName can be provisioned again');
      await x.told();
      await timeTravel(a, 'ondelete', id, 31);
      t.same(await x.told(), [['user.deleted', id, 'purged']], 'purged once its time has come');
      t.same(await x.told(), [], 'exactly once');
    });

    await t.test('lifecycle: active=false deletes for the host (onDeactivate "delete"); reactivation creates again', async (t) => {
      const x = await tenantWith(t, a, worker, 'ondeactivate', { lifecycle: { onDeactivate: 'delete' } });
      const id = await x.user('temp@example.com');
      await x.told();
      t.equal((await x.send('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'active', value: false }))).status, 200);
      t.same(await x.told(), [['user.deleted', id, 'inactive']]);
      t.equal((await x.send('GET', `/Users/${id}`)).body.active, false, 'the IdP still sees its user');
      t.equal((await x.send('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'active', value: true }))).status, 200);
      t.same(await x.told(), [['user.created', id, 'active']]);
      const inactive = await x.user('born-inactive@example.com', { active: false });
      t.same(await x.told(), [], 'created inactive: the host is not told');
      t.equal((await x.send('GET', `/Users/${inactive}`)).status, 200);
    });

    await t.test('lifecycle: users inactive for deleteInactiveAfterDays are deleted for the host', async (t) => {
      const x = await tenantWith(t, a, worker, 'stale', { lifecycle: { deleteInactiveAfterDays: 90 } });
      const id = await x.user('on-leave@example.com');
      await x.send('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'active', value: false }));
      t.same(await x.told(), [['user.created', id], ['user.deactivated', id]]);
      await timeTravel(a, 'stale', id, 89);
      t.same(await x.told(), [], 'not yet');
      await timeTravel(a, 'stale', id, 2);
      t.same(await x.told(), [['user.deleted', id, 'inactive too long']]);
      await x.send('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'active', value: true }));
      t.same(await x.told(), [['user.created', id, 'active']], 'back from leave: created again');
    });

    await t.test('lifecycle: start and end dates from custom fields', async (t) => {
      const x = await tenantWith(t, a, worker, 'dates', { lifecycle: { startDate: `${ENT}:startDate`, endDate: `${ENT}:endDate` } });
      const soon = new Date(Date.now() + 1500).toISOString();
      const starter = await x.user('starter@example.com', { [ENT]: { startDate: soon } });
      const later = await x.user('later@example.com', { [ENT]: { startDate: '2999-01-01' } });
      const now = await x.user('now@example.com', { [ENT]: { startDate: '2020-01-01', endDate: '2999-12-31' } });
      t.same(await x.told(), [['user.created', now]], 'only the one whose start date has come');
      t.equal((await x.send('GET', `/Users/${starter}`)).status, 200, 'held back from the host, served to the IdP');
      await new Promise((r) => setTimeout(r, 1600));
      t.same(await x.told(), [['user.created', starter, 'active']], 'created on its start date by the scheduler');
      await x.send('PATCH', `/Users/${later}`, patch({ op: 'replace', path: `${ENT}:startDate`, value: '2021-06-01' }));
      t.same(await x.told(), [['user.created', later, 'active']], 'a start date moved into the past');
      await x.send('PATCH', `/Users/${now}`, patch({ op: 'replace', path: `${ENT}:endDate`, value: '2022-01-31' }));
      t.same(await x.told(), [['user.deactivated', now, 'after its end date']]);
    });

    await t.test('audience: include and exclude filters, transitions, and a background re-evaluation when it changes', async (t) => {
      const x = await tenantWith(t, a, worker, 'audience', { audience: { exclude: `${ENT}:employeeType eq "contractor"` } });
      const alice = await x.user('alice@example.com', { [ENT]: { department: 'Sales', employeeType: 'Employee' } });
      const carl = await x.user('carl@example.com', { [ENT]: { department: 'Sales', employeeType: 'Contractor' } });
      const dora = await x.user('dora@example.com', { [ENT]: { department: 'R&D' } });
      t.same(await x.told(), [['user.created', alice], ['user.created', dora]], 'the contractor (any case) is not sent');
      t.equal((await x.send('GET', `/Users?filter=${encodeURIComponent('userName eq "carl@example.com"')}`)).body.totalResults, 1, 'but served over SCIM');
      await x.send('PATCH', `/Users/${alice}`, patch({ op: 'replace', path: `${ENT}:employeeType`, value: 'Contractor' }));
      t.same(await x.told(), [['user.deactivated', alice, 'outside the audience']]);
      await x.send('PATCH', `/Users/${alice}`, patch({ op: 'replace', path: `${ENT}:employeeType`, value: 'Employee' }));
      t.same(await x.told(), [['user.reactivated', alice, 'active']]);
      await x.send('PATCH', `/Users/${carl}`, patch({ op: 'replace', path: 'title', value: 'Consultant' }));
      t.same(await x.told(), [], 'changes outside the audience are not sent');

      const edit = await a.admin('PUT', '/tenants/audience/policy', { audience: { include: `${ENT}:department eq "sales"` } });
      t.equal(edit.status, 200);
      const told = await x.told();
      t.same(told.sort(), [['user.created', carl, 'active'], ['user.deactivated', dora, 'outside the audience']].sort(), 'the edit is applied to every user');
      const status = await a.admin('GET', '/tenants/audience/policy/status');
      t.match(status.body.reevaluation, { state: 'done', policyVersion: 2, processed: 3, total: 3, changed: 2 });
    });

    await t.test('groups: all, none, or those listed; members the host does not know are not sent', async (t) => {
      const x = await tenantWith(t, a, worker, 'groups', { audience: { exclude: `${ENT}:employeeType eq "Contractor"`, groups: ['Engineering'] } });
      const emp = await x.user('emp@example.com');
      const con = await x.user('con@example.com', { [ENT]: { employeeType: 'Contractor' } });
      await x.told();
      const eng = await x.send('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Engineering', members: [{ value: emp }, { value: con }] });
      const other = await x.send('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Book club', members: [{ value: emp }] });
      const events = await x.toldFull();
      t.same(events.map((e) => [e.type, e.data.id, e.data.members]), [
        ['group.created', eng.body.id, undefined],
        ['group.members.added', eng.body.id, [emp]],
      ], 'the listed group only, with the member the host knows');
      await x.send('PATCH', `/Groups/${other.body.id}`, patch({ op: 'replace', path: 'displayName', value: 'Chess club' }));
      await x.send('DELETE', `/Groups/${other.body.id}`);
      t.same(await x.told(), [], 'nothing about a group that is not synced');
      await x.send('PATCH', `/Groups/${eng.body.id}`, patch({ op: 'remove', path: `members[value eq "${con}"]` }));
      t.same(await x.told(), [], 'removing a member the host never knew: nothing');
      const none = await tenantWith(t, a, worker, 'nogroups', { audience: { groups: 'none' } });
      const u = await none.user('u@example.com');
      await none.send('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'G', members: [{ value: u }] });
      t.same(await none.told(), [['user.created', u]]);
    });

    await t.test('mapping: data.profile in the host\'s field names, email priority, transforms, missing fields reported', async (t) => {
      const x = await tenantWith(t, a, worker, 'mapping', {
        mapping: {
          fields: {
            email: 'emails',
            workEmail: 'emails[type eq "work"].value',
            department: { path: `${ENT}:department`, transform: ['trim', 'upper'] },
            city: 'addresses[type eq "work"].locality',
            manager: 'manager.value',
            hired: { path: `${ENT}:hireDate`, transform: ['date'] },
            badge: { path: `${ENT}:badge`, required: false },
          },
        },
      });
      const id = await x.user('map@example.com', {
        emails: [{ value: 'home@example.com', type: 'home', primary: true }, { value: 'other@example.com', type: 'other' }, { value: 'work@example.com', type: 'work' }],
        addresses: [{ type: 'work', locality: 'Utrecht' }],
        [ENT]: { department: ' sales ', manager: { value: 'boss-id' }, hireDate: '2024-03-01T09:00:00Z' },
      });
      const [created] = await x.toldFull();
      t.same(created!.data.profile, { email: 'work@example.com', workEmail: 'work@example.com', department: 'SALES', city: 'Utrecht', manager: 'boss-id', hired: '2024-03-01', badge: null });
      t.notOk(created!.data.profileMissing, 'nothing required is missing');
      await x.send('PATCH', `/Users/${id}`, patch({ op: 'remove', path: 'emails[type eq "work"]' }, { op: 'remove', path: 'addresses' }));
      const [updated, incomplete, ...rest] = await x.toldFull();
      t.equal(updated!.type, 'user.updated');
      t.equal(updated!.data.profile.email, 'other@example.com', 'primary > work > other; personal addresses never (personalEmails false)');
      t.same(updated!.data.profileMissing, ['workEmail', 'city'], 'what the mapping could not find is reported, in the mapping\'s order');
      t.equal(incomplete!.type, 'tenant.mapping_incomplete', 'and the host hears of the gap as a tenant event');
      t.match(incomplete!.data, { fields: ['workEmail', 'city'], example: id, actor: { type: 'system', name: 'field mapping' } });
      t.same(rest, []);
      await x.send('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'Boss' }));
      t.same((await x.toldFull()).map((e) => e.type), ['user.updated'], 'once per field until the policy changes');
      t.equal((await a.admin('PUT', '/tenants/mapping/policy', { mapping: { fields: { workEmail: 'emails[type eq "work"].value' } } })).status, 200);
      await x.send('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'Chief' }));
      const after = (await x.toldFull()).filter((e) => e.type === 'tenant.mapping_incomplete');
      t.same(after.map((e) => e.data.fields), [['workEmail']], 'a new policy reports afresh');
    });

    await t.test('license cap: creations and reactivations beyond it get 403; usage in status', async (t) => {
      const x = await tenantWith(t, a, worker, 'licensed', { licenseCap: 2 });
      const one = await x.user('one@example.com');
      await x.user('two@example.com');
      const three = await x.send('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'three@example.com' });
      t.equal(three.status, 403, 'the third active user');
      t.match(three.body, { status: '403', detail: /License limit reached: .* at most 2 active users/ });
      t.equal((await x.send('GET', `/Users?filter=${encodeURIComponent('userName eq "three@example.com"')}`)).body.totalResults, 0, 'not stored');
      const inactive = await x.send('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'three@example.com', active: false });
      t.equal(inactive.status, 201, 'an inactive user takes no seat');
      t.match((await a.admin('GET', '/tenants/licensed/policy/status')).body.usage, { licenseCap: 2, activeUsers: 2, capReached: true });
      t.equal((await x.send('PATCH', `/Users/${inactive.body.id}`, patch({ op: 'replace', path: 'active', value: true }))).status, 403, 'a reactivation beyond the cap');
      t.equal((await x.send('PATCH', `/Users/${one}`, patch({ op: 'replace', path: 'active', value: false }))).status, 200);
      t.equal((await x.send('PATCH', `/Users/${inactive.body.id}`, patch({ op: 'replace', path: 'active', value: true }))).status, 200, 'a seat was freed');
      t.match((await a.admin('GET', '/tenants/licensed/policy/status')).body.usage, { activeUsers: 2 });
      const told = (await x.toldFull()).filter((e) => e.type === 'tenant.license_limit_reached');
      t.equal(told.length, 1, 'two refusals in one crossing tell the host once');
      t.match(told[0]!.data, { resourceType: 'Tenant', id: 'licensed', licenseCap: 2, activeUsers: 2, actor: { type: 'scimToken' } });

      // A seat was freed and taken again since: the next refusal is a new crossing, the one after it is not.
      t.equal((await x.send('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'four@example.com' })).status, 403);
      t.equal((await x.send('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'four@example.com' })).status, 403);
      t.equal((await x.toldFull()).filter((e) => e.type === 'tenant.license_limit_reached').length, 1, 'a new crossing tells the host again, once');
    });
  });
}

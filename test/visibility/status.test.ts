/**
 * Connection status and tenant.connected (README "Connection status",
 * "Tenant events"), and who caused each event (README "Envelope",
 * `data.actor`), through HTTP on both backends; tenant.connected exactly once
 * with two app instances (replicas) on one database.
 */
import t from 'tap';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { recordTenantEvent } from '../../src/events/record.js';
import { internalActor } from '../../src/services/actor.js';
import { actingContext } from '../../src/services/context.js';
import { settingsOf } from '../../src/services/tenants.js';
import { ADMIN_TOKEN, startApp, toRes, user } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { group } from '../helpers/groups.js';
import { startReceiver, until, worker } from '../events/helpers.js';

const ENTRA = { 'user-agent': 'Azure AD SCIM client' };

for (const backend of backends) {
  t.test(`${backend}: status: counts, last request, the last 24 hours, webhook health; tenant.connected once`, async (t) => {
    const a = await startApp(t, backend);
    const rx = await startReceiver(t, (_req, _body, res) => res.writeHead(204).end());
    const hook = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: rx.url, events: ['tenant.connected'] });
    worker(t, a.database.db, { config: { databaseUrl: a.database.url } });
    const status = async () => (await a.admin('GET', `/tenants/${a.tenant}/status`)).body;

    const before = await status();
    t.match(before, { tenant: a.tenant, connected: false, connectedAt: null, users: { total: 0, active: 0, inactive: 0 }, groups: { total: 0 }, lastRequest: null, last24h: { requests: 0, errors: 0 } });
    t.equal((await a.scim('GET', '/Users', undefined, { authorization: 'Bearer rst_wrong' })).status, 401);
    t.equal((await status()).connected, false, 'a refused request connects nothing');

    const tokenId = (await a.services.tenants.listTokens(a.tenant))[0]!.id;
    const ada = (await a.scim('POST', '/Users', user('ada'), ENTRA)).body.id;
    await a.scim('POST', '/Users', user('grace', { active: false }), ENTRA);
    await a.scim('POST', '/Users', user('edsger', { active: true }), ENTRA);
    await a.scim('POST', '/Groups', group('Admins', { members: [{ value: ada }] }), ENTRA);
    await a.scim('POST', '/Users', user('ada'), ENTRA);
    await rx.waitFor(1);

    const s = await status();
    t.match(s, {
      connected: true,
      users: { total: 3, active: 2, inactive: 1 },
      groups: { total: 1 },
      lastRequest: { method: 'POST', path: '/Users', status: 409, actor: { type: 'scimToken', id: tokenId, name: 'test' }, client: { userAgent: 'Azure AD SCIM client', idp: 'Entra ID' } },
      last24h: { requests: 6, errors: 2 },
    });
    t.ok(Date.parse(s.connectedAt) <= Date.parse(s.lastRequest.at));
    t.match(s.webhooks, [{ id: hook.body.id, url: rx.url, enabled: true, backlog: 0, deadLettered: 0, attempts24h: 1, successRate24h: 1 }]);

    const connected = rx.accepted.map((r) => r.json);
    t.equal(connected.length, 1, 'one tenant.connected, after the first successful request');
    t.match(connected[0], {
      type: 'tenant.connected',
      data: { tenant: a.tenant, resourceType: 'Tenant', id: a.tenant, sequence: 1, connectedAt: s.connectedAt, client: { userAgent: 'Azure AD SCIM client', idp: 'Entra ID' }, actor: { type: 'scimToken', id: tokenId, name: 'test' } },
    });
    t.same(Object.keys(connected[0].data), ['tenant', 'resourceType', 'id', 'sequence', 'client', 'connectedAt', 'actor']);
    t.equal((await a.admin('GET', '/tenants/nope/status')).status, 404);
  });

  t.test(`${backend}: every event says who caused it`, async (t) => {
    const a = await startApp(t, backend);
    const tokenId = (await a.services.tenants.listTokens(a.tenant))[0]!.id;
    const ada = (await a.scim('POST', '/Users', user('ada'))).body.id;
    // tenant.connected is recorded after the response: let it be before the next change.
    await until(async () => (await a.admin('GET', `/tenants/${a.tenant}/status`)).body.connected, 10_000, () => 'connected');
    await a.scim('DELETE', `/Users/${ada}`);
    // A provisioning policy or a scheduled job acts through the same services, as itself.
    const tenant = await a.services.tenants.get(a.tenant);
    const policy = actingContext(tenant, settingsOf(tenant), `https://roster.test/scim/v2/${a.tenant}`, internalActor('policy', 'deactivate leavers', 'p-1'));
    await a.services.users.create(policy, user('grace'));
    await recordTenantEvent(a.database.db, a.tenant, 'tenant.connected', { note: 'a second one, recorded directly' }, internalActor('system', 'test'));

    const feed = (await a.admin('GET', `/tenants/${a.tenant}/events`)).body.events;
    const token = { type: 'scimToken', id: tokenId, name: 'test' };
    t.same(
      feed.map((e: any) => [e.type, e.data.actor]),
      [
        ['user.created', token],
        ['tenant.connected', token],
        ['user.deleted', token],
        ['user.created', { type: 'policy', name: 'deactivate leavers', id: 'p-1' }],
        ['tenant.connected', { type: 'system', name: 'test' }],
      ],
    );
    t.same(feed.filter((e: any) => e.data.resourceType === 'Tenant').map((e: any) => e.data.sequence), [1, 2], 'tenant events are numbered per tenant');
    const rows = await sql<{ type: string; actor: any }>`select type, actor from events order by id`.execute(a.database.db);
    t.same(rows.rows.map((r) => (typeof r.actor === 'string' ? JSON.parse(r.actor) : r.actor).type), ['scimToken', 'scimToken', 'scimToken', 'policy', 'system'], 'events.actor');
  });

  t.test(`${backend}: two replicas on one database record tenant.connected once`, async (t) => {
    const a = await startApp(t, backend);
    const b = await buildApp({ config: a.config, database: a.database });
    t.teardown(() => b.app.close());
    const globex = await a.newTenant('globex');
    const send = (app: typeof a.app) => app.inject({ method: 'GET', url: `/scim/v2/${globex.tenant}/Users`, headers: { authorization: `Bearer ${globex.token}` } });
    const answers = await Promise.all([...Array(4)].flatMap(() => [send(a.app), send(b.app)]));
    t.same(answers.map((r) => toRes(r).status), Array(8).fill(200));
    const feed = async () => (await b.app.inject({ method: 'GET', url: `/admin/v1/tenants/${globex.tenant}/events`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json().events;
    await until(async () => (await feed()).length > 0, 10_000, () => 'tenant.connected');
    // Each process tries once; the conditional UPDATE lets one of them record the event.
    const tries = await Promise.all([a.services.status, b.services.status].map((s) => s.connect(globex.tenant, internalActor('system', 'test'), { userAgent: null, idp: null })));
    t.same(tries, [false, false], 'already connected');
    t.same((await feed()).map((e: any) => e.type), ['tenant.connected']);
  });
}

/**
 * The audit trail (README "Audit trail"): every admin route that changes
 * something writes an entry — the list of routes comes from the app's own
 * route table (its OpenAPI document), so a new mutating route without a case
 * here fails this test, and one without `config.audit` fails at start.
 */
import t from 'tap';
import Fastify from 'fastify';
import { installAudit } from '../../src/http/admin/audit.js';
import { ADMIN_TOKEN_ACTOR } from '../../src/services/actor.js';
import { ADMIN_TOKEN, startApp, user, type Res } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { startReceiver } from '../events/helpers.js';

const MUTATING = ['post', 'put', 'patch', 'delete'];

t.test('a mutating admin route without an audit action is refused at start', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  const build = async () => {
    await app.register(async (admin) => {
      installAudit(admin, undefined);
      admin.get('/read', async () => 'fine');
      admin.delete('/forgotten', async () => 'changes something');
    });
    await app.ready();
  };
  await t.rejects(build(), /Admin route DELETE \/forgotten changes something but declares no audit action/);
  const ok = Fastify();
  t.teardown(() => ok.close());
  await ok.register(async (admin) => {
    installAudit(admin, undefined);
    admin.post('/audited', { config: { audit: 'tenant.updated' } }, async () => 'fine');
  });
  await t.resolves(async () => {
    await ok.ready();
  }, 'a route that declares its action is accepted');
});

for (const backend of backends) {
  t.test(`${backend}: every mutating admin route records who did what`, async (t) => {
    const a = await startApp(t, backend);
    const rx = await startReceiver(t);
    const latest = async () => (await a.admin('GET', '/audit?limit=1')).body.entries[0];
    const called = new Set<string>();

    /** Call a route (named as in the OpenAPI document), expect success and the audit entry it leaves. */
    const act = async (route: string, path: string, body: unknown, action: string, target: { tenant: string | null; type: string; id?: string }): Promise<Res> => {
      const [method, pattern] = route.split(' ') as [string, string];
      called.add(`${method.toLowerCase()} /admin/v1${pattern}`);
      const r = await a.admin(method as 'POST', path, body);
      t.ok(r.status >= 200 && r.status < 300, `${route}: ${r.status} ${JSON.stringify(r.body)}`);
      const e = await latest();
      t.match(e, { action, tenant: target.tenant, actor: ADMIN_TOKEN_ACTOR, target: { type: target.type }, details: { status: r.status } }, route);
      t.equal(e.target.id, target.id ?? r.body?.id ?? null, `${route}: target id`);
      t.ok(e.requestId, `${route}: request id`);
      return r;
    };

    const created = await act('POST /tenants', '/tenants', { id: 'globex', name: 'Globex' }, 'tenant.created', { tenant: 'globex', type: 'tenant', id: 'globex' });
    const entry = await latest();
    t.same(entry.details.body, { id: 'globex', name: 'Globex' }, 'what was asked');
    t.notOk(JSON.stringify(entry).includes(created.body.token.token), 'the token issued is not in the trail');
    await act('PATCH /tenants/{tenant}', '/tenants/globex', { settings: { patchResponse: 'resource' } }, 'tenant.updated', { tenant: 'globex', type: 'tenant', id: 'globex' });
    t.same((await latest()).details.body, { settings: { patchResponse: 'resource' } }, 'which settings changed');
    const g = { tenant: 'globex', type: 'tenant', id: 'globex' };
    await act('PUT /tenants/{tenant}/policy', '/tenants/globex/policy', { licenseCap: 10 }, 'tenant.policy_updated', g);
    t.same((await latest()).details.body, { licenseCap: 10 }, 'the policy as sent');
    await act('PUT /tenants/{tenant}/host-users', '/tenants/globex/host-users', [{ hostUserId: 'h1', email: 'ada@example.com' }], 'tenant.host_users_replaced', g);
    t.same((await latest()).details.body, { hostUsers: 1, sharedEmails: 0, linked: 0 }, 'an upload is kept as its counts, not its rows');
    await act('PUT /tenants/{tenant}/import-mapping', '/tenants/globex/import-mapping', { key: 'email', columns: { Email: 'emails' } }, 'import_mapping.updated', { tenant: 'globex', type: 'import_mapping' });
    called.add('post /admin/v1/tenants/{tenant}/imports');
    const upload = await a.app.inject({ method: 'POST', url: '/admin/v1/tenants/globex/imports', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' }, payload: 'Email\nada@globex.example\n' });
    t.equal(upload.statusCode, 201, upload.body);
    const imp = upload.json();
    const uploaded = await latest();
    t.match(uploaded, { action: 'import.created', tenant: 'globex', actor: ADMIN_TOKEN_ACTOR, target: { type: 'import', id: imp.id }, details: { status: 201, body: { id: imp.id, counts: { created: 1 } } } });
    t.notOk(JSON.stringify(uploaded).includes('ada@globex'), 'an upload is kept as its summary, not its rows');
    await act('POST /tenants/{tenant}/imports/{id}/apply', `/tenants/globex/imports/${imp.id}/apply`, undefined, 'import.applied', { tenant: 'globex', type: 'import', id: imp.id });
    await act('POST /tenants/{tenant}/go-live', '/tenants/globex/go-live', undefined, 'tenant.went_live', g);
    const token = await act('POST /tenants/{tenant}/tokens', '/tenants/globex/tokens', { name: 'okta' }, 'token.issued', { tenant: 'globex', type: 'token' });
    await act('DELETE /tenants/{tenant}/tokens/{tokenId}', `/tenants/globex/tokens/${token.body.id}`, undefined, 'token.revoked', { tenant: 'globex', type: 'token', id: token.body.id });

    const hook = await act('POST /tenants/{tenant}/webhooks', `/tenants/${a.tenant}/webhooks`, { url: rx.url }, 'webhook.created', { tenant: a.tenant, type: 'webhook' });
    const wid = hook.body.id;
    t.notOk(JSON.stringify(await latest()).includes(hook.body.secret), 'the webhook secret is not in the trail');
    const w = (route: string, suffix: string, body: unknown, action: string) => act(route, `/tenants/${a.tenant}/webhooks/${wid}${suffix}`, body, action, { tenant: a.tenant, type: 'webhook', id: wid });
    await w('PATCH /tenants/{tenant}/webhooks/{id}', '', { description: 'main' }, 'webhook.updated');
    await w('POST /tenants/{tenant}/webhooks/{id}/rotate-secret', '/rotate-secret', { graceSeconds: 60 }, 'webhook.secret_rotated');
    await w('POST /tenants/{tenant}/webhooks/{id}/replay', '/replay', { from: '2026-01-01T00:00:00Z' }, 'webhook.replayed');
    await w('POST /tenants/{tenant}/webhooks/{id}/redeliver', '/redeliver', { status: 'dead' }, 'webhook.redelivered');
    await w('POST /tenants/{tenant}/webhooks/{id}/test', '/test', undefined, 'webhook.tested');
    await a.scim('POST', '/Users', user('ada'));
    const feed = await a.admin('GET', `/tenants/${a.tenant}/events?types=user.created`);
    const eid = feed.body.events[0].id;
    await act('POST /tenants/{tenant}/events/{id}/redeliver', `/tenants/${a.tenant}/events/${eid}/redeliver`, undefined, 'event.redelivered', { tenant: a.tenant, type: 'event', id: eid });
    // The deletion safeguard's holds: two deactivations beyond a threshold of one, each opening a hold.
    await a.services.policies.put(a.tenant, { safeguard: { maxCount: 1, maxPercent: null } });
    const holdOf = async () => {
      const id = (await a.scim('POST', '/Users', user(`held-${Math.random()}`))).body.id;
      await a.scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
      return (await a.admin('GET', `/tenants/${a.tenant}/holds?state=open`)).body.holds[0].id as string;
    };
    await a.scim('PATCH', `/Users/${feed.body.events[0].data.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
    const h1 = await holdOf();
    await act('POST /tenants/{tenant}/holds/{id}/release', `/tenants/${a.tenant}/holds/${h1}/release`, undefined, 'hold.released', { tenant: a.tenant, type: 'hold', id: h1 });
    const h2 = await holdOf();
    await act('POST /tenants/{tenant}/holds/{id}/reject', `/tenants/${a.tenant}/holds/${h2}/reject`, undefined, 'hold.rejected', { tenant: a.tenant, type: 'hold', id: h2 });
    const link = await act('POST /tenants/{tenant}/setup-links', `/tenants/${a.tenant}/setup-links`, { expiresInDays: 2 }, 'setup_link.created', { tenant: a.tenant, type: 'setup_link' });
    t.notOk(JSON.stringify(await latest()).includes(link.body.url), 'the setup link is not in the trail');
    await act('DELETE /tenants/{tenant}/setup-links/{id}', `/tenants/${a.tenant}/setup-links/${link.body.id}`, undefined, 'setup_link.revoked', { tenant: a.tenant, type: 'setup_link', id: link.body.id });
    await w('DELETE /tenants/{tenant}/webhooks/{id}', '', undefined, 'webhook.deleted');
    const key = await act('POST /admin-keys', '/admin-keys', { name: 'ci', scopes: ['tokens'] }, 'admin_key.created', { tenant: null, type: 'admin_key' });
    t.notOk(JSON.stringify(await latest()).includes(key.body.key), 'the admin key is not in the trail');
    await act('DELETE /admin-keys/{id}', `/admin-keys/${key.body.id}`, undefined, 'admin_key.revoked', { tenant: null, type: 'admin_key', id: key.body.id });
    const client = await act('POST /tenants/{tenant}/oauth-clients', `/tenants/${a.tenant}/oauth-clients`, { name: 'entra' }, 'oauth_client.created', { tenant: a.tenant, type: 'oauth_client' });
    t.notOk(JSON.stringify(await latest()).includes(client.body.clientSecret), 'the client secret is not in the trail');
    await act('DELETE /tenants/{tenant}/oauth-clients/{id}', `/tenants/${a.tenant}/oauth-clients/${client.body.id}`, undefined, 'oauth_client.revoked', { tenant: a.tenant, type: 'oauth_client', id: client.body.id });
    await act('POST /oauth/signing-keys/rotate', '/oauth/signing-keys/rotate', undefined, 'oauth_signing_key.rotated', { tenant: null, type: 'oauth_signing_key' });
    const issuer = await act('POST /tenants/{tenant}/trusted-issuers', `/tenants/${a.tenant}/trusted-issuers`, { issuer: 'https://idp.test', audience: 'roster', jwksUrl: 'https://idp.test/jwks' }, 'trusted_issuer.created', { tenant: a.tenant, type: 'trusted_issuer' });
    await act('DELETE /tenants/{tenant}/trusted-issuers/{id}', `/tenants/${a.tenant}/trusted-issuers/${issuer.body.id}`, undefined, 'trusted_issuer.deleted', { tenant: a.tenant, type: 'trusted_issuer', id: issuer.body.id });
    await act('DELETE /tenants/{tenant}', '/tenants/globex', undefined, 'tenant.deleted', { tenant: 'globex', type: 'tenant', id: 'globex' });

    const spec = a.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const mutating = Object.entries(spec.paths).flatMap(([p, ops]) => (p.startsWith('/admin/') ? Object.keys(ops).filter((m) => MUTATING.includes(m)).map((m) => `${m} ${p}`) : []));
    t.ok(mutating.length >= 13);
    t.same([...mutating].sort(), [...called].sort(), 'every mutating admin route of the app was called above (add a case for a new one)');

    // Refused actions change nothing and leave nothing.
    const before = await latest();
    t.equal((await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { compatibility: 'sloppy' } })).status, 400);
    t.equal((await a.admin('DELETE', '/tenants/nope')).status, 404);
    t.equal((await a.app.inject({ method: 'DELETE', url: `/admin/v1/tenants/${a.tenant}` })).statusCode, 401);
    t.same(await latest(), before);

    // A deleted tenant's trail stays readable; filters; paging.
    const globex = await a.admin('GET', '/tenants/globex/audit');
    t.same(globex.body.entries.map((e: any) => e.action), ['tenant.deleted', 'token.revoked', 'token.issued', 'tenant.went_live', 'import.applied', 'import.created', 'import_mapping.updated', 'tenant.host_users_replaced', 'tenant.policy_updated', 'tenant.updated', 'tenant.created']);
    t.same((await a.admin('GET', '/audit?action=tenant.deleted')).body.entries.map((e: any) => e.tenant), ['globex']);
    const all = (await a.admin('GET', '/audit?limit=1000')).body.entries;
    t.equal(all.length, called.size);
    const paged: string[] = [];
    for (let cursor: string | null = null, n = 0; n === 0 || cursor; n++) {
      const r: Res = await a.admin('GET', `/audit?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      paged.push(...r.body.entries.map((e: any) => e.id));
      cursor = r.body.next;
    }
    t.same(paged, all.map((e: any) => e.id), 'pages of 4 give every entry once, newest first');
    t.same((await a.admin('GET', `/audit?to=${encodeURIComponent(all[all.length - 1].at)}`)).body.entries, []);
    for (const q of ['action=tenant.exploded', 'limit=0', 'cursor=zz', 'tenant=acme']) t.equal((await a.admin('GET', `/audit?${q}`)).status, 400, q);
  });

  t.test(`${backend}: audit entries are pruned after AUDIT_RETENTION_DAYS`, async (t) => {
    const a = await startApp(t, backend, { AUDIT_RETENTION_DAYS: '1' });
    await a.services.audit.record({ at: new Date(Date.now() - 2 * 86_400_000), tenantId: 'acme', actor: ADMIN_TOKEN_ACTOR, action: 'tenant.updated', targetType: 'tenant', targetId: 'acme', requestId: null, details: {} });
    await a.admin('PATCH', `/tenants/${a.tenant}`, { name: 'Acme' });
    t.equal((await a.admin('GET', '/audit')).body.entries.length, 2);
    t.match(await a.services.retention.runOnce(), { audit: 1 });
    t.same((await a.admin('GET', '/audit')).body.entries.map((e: any) => e.action), ['tenant.updated']);
  });
}

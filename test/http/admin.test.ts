import t from 'tap';
import { backends } from '../helpers/db.js';
import { ERROR_SCHEMA, startApp, user } from '../helpers/app.js';
import { defaultSettings } from '../../src/policy/settings.js';

for (const backend of backends) {
  t.test(`${backend}: admin API manages tenants and tokens`, async (t) => {
    const a = await startApp(t, backend);

    const created = await a.admin('POST', '/tenants', { id: 'globex', name: 'Globex Corp' });
    t.equal(created.status, 201);
    t.equal(created.body.tenant.id, 'globex');
    t.equal(created.body.tenant.name, 'Globex Corp');
    t.equal(created.body.tenant.scimBaseUrl, 'https://roster.test/scim/v2/globex');
    t.same(created.body.tenant.settings, defaultSettings);
    t.match(created.body.token.token, /^rst_[A-Za-z0-9_-]{43}$/);
    const firstToken = created.body.token.token as string;

    // The token works on its own tenant's URL.
    const ok = await a.app.inject({ method: 'GET', url: '/scim/v2/globex/Users', headers: { authorization: `Bearer ${firstToken}` } });
    t.equal(ok.statusCode, 200);

    const dup = await a.admin('POST', '/tenants', { id: 'globex' });
    t.equal(dup.status, 409);
    t.equal(dup.body.scimType, 'uniqueness');

    const bad = await a.admin('POST', '/tenants', { id: 'Not A Slug!' });
    t.equal(bad.status, 400);
    t.equal(bad.body.scimType, 'invalidValue');
    t.match(bad.body.detail, /lower-case/);

    const badSettings = await a.admin('POST', '/tenants', { id: 'x1', settings: { compatibility: 'sloppy' } });
    t.equal(badSettings.status, 400);
    t.same(badSettings.body.schemas, [ERROR_SCHEMA]);
    const badPatchResponse = await a.admin('POST', '/tenants', { id: 'x2', settings: { patchResponse: 'minimal' } });
    t.equal(badPatchResponse.status, 400);
    t.same(badPatchResponse.body.schemas, [ERROR_SCHEMA]);
    const withPatchResponse = await a.admin('POST', '/tenants', { id: 'x3', settings: { patchResponse: 'resource' } });
    t.equal(withPatchResponse.status, 201);
    t.same(withPatchResponse.body.tenant.settings, { ...defaultSettings, patchResponse: 'resource' });
    t.equal((await a.admin('DELETE', '/tenants/x3')).status, 204);
    // The service checks settings itself too (the CLI and bootstrap do not go through the HTTP schema).
    await t.rejects(a.services.tenants.create({ id: 'x4', settings: { patchResponse: 'minimal' } }), {
      status: 400,
      message: 'Invalid settings: settings.patchResponse must be one of "auto", "resource", "noContent"',
    });
    // Every problem is named at once, unknown settings included (they used to be dropped silently).
    const several = await a.admin('PATCH', '/tenants/globex', { settings: { compatibility: 'sloppy', patchResponse: 1, colour: 'red' } });
    t.equal(several.status, 400);
    t.equal(several.body.scimType, 'invalidValue');
    t.match(several.body.detail, /settings\.colour is not a known field/);
    t.match(several.body.detail, /settings\.compatibility must be one of "lenient", "strict"/);
    t.match(several.body.detail, /settings\.patchResponse must be one of "auto", "resource", "noContent"/);
    const unknownField = await a.admin('POST', '/tenants', { id: 'x5', nmae: 'typo' });
    t.equal(unknownField.status, 400);
    t.match(unknownField.body.detail, /nmae is not a known field/);
    t.equal((await a.admin('GET', '/tenants/x5')).status, 404, 'nothing was created');

    const list = await a.admin('GET', '/tenants');
    t.equal(list.status, 200);
    t.same(list.body.tenants.map((x: { id: string }) => x.id), ['acme', 'globex']);
    const page = await a.admin('GET', '/tenants?limit=1');
    t.same(page.body.tenants.map((x: { id: string }) => x.id), ['acme']);
    t.equal(page.body.next, 'acme');
    const page2 = await a.admin('GET', '/tenants?limit=1&after=acme');
    t.same(page2.body.tenants.map((x: { id: string }) => x.id), ['globex']);
    t.equal((await a.admin('GET', '/tenants?limit=0')).status, 400);

    const got = await a.admin('GET', '/tenants/globex');
    t.equal(got.status, 200);
    t.equal(got.body.name, 'Globex Corp');
    t.equal((await a.admin('GET', '/tenants/nope')).status, 404);

    const patched = await a.admin('PATCH', '/tenants/globex', { settings: { patchResponse: 'noContent' } });
    t.equal(patched.status, 200);
    t.same(patched.body.settings, { ...defaultSettings, patchResponse: 'noContent' });
    const backToAuto = await a.admin('PATCH', '/tenants/globex', { settings: { patchResponse: 'auto' } });
    t.same(backToAuto.body.settings, defaultSettings);
    const rejected = await a.admin('PATCH', '/tenants/globex', { settings: { patchResponse: 'none' } });
    t.equal(rejected.status, 400);
    t.equal((await a.admin('GET', '/tenants/globex')).body.settings.patchResponse, 'auto', 'a rejected setting changes nothing');
    t.equal((await a.admin('PATCH', '/tenants/globex', { settings: { patchResponse: 'noContent' } })).status, 200);

    // Tokens: issue, list without secrets, revoke.
    const issued = await a.admin('POST', '/tenants/globex/tokens', { name: 'okta' });
    t.equal(issued.status, 201);
    t.equal(issued.body.name, 'okta');
    const second = issued.body.token as string;
    const tokens = await a.admin('GET', '/tenants/globex/tokens');
    t.equal(tokens.body.tokens.length, 2);
    t.notOk(JSON.stringify(tokens.body).includes(second), 'the secret is never listed');
    t.ok(tokens.body.tokens.every((x: { prefix: string }) => x.prefix.startsWith('rst_')));

    const past = await a.admin('POST', '/tenants/globex/tokens', { expiresAt: '2001-01-01T00:00:00Z' });
    t.equal(past.status, 400);

    const revoke = await a.admin('DELETE', `/tenants/globex/tokens/${issued.body.id}`);
    t.equal(revoke.status, 204);
    const afterRevoke = await a.app.inject({ method: 'GET', url: '/scim/v2/globex/Users', headers: { authorization: `Bearer ${second}` } });
    t.equal(afterRevoke.statusCode, 401, 'a revoked token stops working at once on this process');
    t.equal((await a.admin('DELETE', '/tenants/globex/tokens/not-a-uuid')).status, 404);
    t.equal((await a.admin('DELETE', '/tenants/globex/tokens/00000000-0000-4000-8000-000000000000')).status, 404);

    // Deleting a tenant deletes its data and its tokens.
    const u = await a.app.inject({
      method: 'POST',
      url: '/scim/v2/globex/Users',
      headers: { authorization: `Bearer ${firstToken}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify(user('someone@globex.com')),
    });
    t.equal(u.statusCode, 201);
    t.equal((await a.admin('DELETE', '/tenants/globex')).status, 204);
    t.equal((await a.admin('GET', '/tenants/globex')).status, 404);
    const gone = await a.app.inject({ method: 'GET', url: '/scim/v2/globex/Users', headers: { authorization: `Bearer ${firstToken}` } });
    t.equal(gone.statusCode, 401);
    t.equal((await a.admin('DELETE', '/tenants/globex')).status, 404);
  });

  t.test(`${backend}: admin API requires the admin token`, async (t) => {
    const a = await startApp(t, backend);
    const none = await a.app.inject({ method: 'GET', url: '/admin/v1/tenants' });
    t.equal(none.statusCode, 401);
    t.match(none.headers['www-authenticate'], /^Bearer realm="roster-admin"/);
    t.equal(JSON.parse(none.body).status, '401');
    const wrong = await a.app.inject({ method: 'GET', url: '/admin/v1/tenants', headers: { authorization: 'Bearer wrong-token-wrong-token' } });
    t.equal(wrong.statusCode, 401);
    // A SCIM token is not an admin token.
    const scimToken = await a.app.inject({ method: 'GET', url: '/admin/v1/tenants', headers: { authorization: `Bearer ${a.token}` } });
    t.equal(scimToken.statusCode, 401);

    const disabled = await startApp(t, backend, { ADMIN_TOKEN: '' });
    const r = await disabled.app.inject({ method: 'GET', url: '/admin/v1/tenants', headers: { authorization: 'Bearer anything-at-all-here' } });
    t.equal(r.statusCode, 401);
    t.match(JSON.parse(r.body).detail, /disabled/);
  });
}

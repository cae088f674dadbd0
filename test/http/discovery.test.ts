import t from 'tap';
import { backends } from '../helpers/db.js';
import { ENTERPRISE, startApp, USER_SCHEMA } from '../helpers/app.js';

for (const backend of backends) {
  t.test(`${backend}: discovery endpoints describe what is implemented`, async (t) => {
    const a = await startApp(t, backend);

    const spc = await a.scim('GET', '/ServiceProviderConfig');
    t.equal(spc.status, 200);
    t.same(spc.body.schemas, ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    t.equal(spc.body.patch.supported, true);
    t.equal(spc.body.filter.supported, true);
    t.equal(spc.body.filter.maxResults, a.config.maxPageSize);
    t.equal(spc.body.sort.supported, true);
    t.equal(spc.body.etag.supported, true);
    t.equal(spc.body.changePassword.supported, false, 'no password change is claimed');
    t.equal(spc.body.authenticationSchemes[0].type, 'oauthbearertoken');
    t.equal(spc.body.meta.location, 'https://roster.test/scim/v2/acme/ServiceProviderConfig');

    const schemas = await a.scim('GET', '/Schemas');
    t.equal(schemas.status, 200);
    const ids = schemas.body.Resources.map((s: { id: string }) => s.id);
    t.ok(ids.includes(USER_SCHEMA));
    t.ok(ids.includes(ENTERPRISE));
    t.ok(ids.includes('urn:ietf:params:scim:schemas:core:2.0:Group'));
    t.equal(schemas.body.totalResults, ids.length);

    const userSchema = await a.scim('GET', `/Schemas/${USER_SCHEMA}`);
    t.equal(userSchema.status, 200);
    const attr = (name: string) => userSchema.body.attributes.find((x: { name: string }) => x.name === name);
    t.match(attr('userName'), { type: 'string', required: true, caseExact: false, uniqueness: 'server' });
    t.match(attr('password'), { mutability: 'writeOnly', returned: 'never' });
    t.match(attr('groups'), { mutability: 'readOnly', multiValued: true });
    t.equal((await a.scim('GET', '/Schemas/urn:nope')).status, 404);

    const rts = await a.scim('GET', '/ResourceTypes');
    t.equal(rts.status, 200);
    const user = rts.body.Resources.find((r: { name: string }) => r.name === 'User');
    t.match(user, { endpoint: '/Users', schema: USER_SCHEMA, schemaExtensions: [{ schema: ENTERPRISE, required: false }] });
    t.equal((await a.scim('GET', '/ResourceTypes/User')).body.endpoint, '/Users');
    t.equal((await a.scim('GET', '/ResourceTypes/Widget')).status, 404);

    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      for (const path of ['/ServiceProviderConfig', '/Schemas', '/ResourceTypes', '/ResourceTypes/User']) {
        const r = await a.scim(method, path, method === 'DELETE' ? undefined : {});
        t.equal(r.status, 405, `${method} ${path}`);
        t.equal(r.headers.allow, 'GET');
        t.equal(r.body.status, '405');
      }
    }
  });
}

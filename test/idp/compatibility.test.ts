/**
 * Compatibility behaviour not covered request-by-request by the documented
 * fixtures: the aadOptscim062020 flag on every endpoint, the
 * /serviceConfiguration alias, externalId not being unique, the tenant
 * settings' defaults, and strict tenants refusing what lenient ones accept
 * (README.md, "Compatibility with identity providers").
 */
import t from 'tap';
import { startApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { ENTERPRISE, GROUP_SCHEMA, newTenant, PATCH_OP, USER_SCHEMA } from '../helpers/idp.js';

const json = { 'content-type': 'application/scim+json' };

for (const backend of backends) {
  t.test(backend, async (t) => {
    // One app (and database) per backend; every check below uses tenants of its own.
    const a = await startApp(t, backend);

    await t.test(`the aadOptscim062020 flag is accepted on every endpoint, in any spelling`, async (t) => {
      const tenant = await newTenant(a);
      const user = await tenant.request('POST', '/Users?aadOptscim062020', { headers: json, body: { schemas: [USER_SCHEMA], userName: 'flag@example.com' } });
      t.equal(user.status, 201);
      const group = await tenant.request('POST', '/Groups?aadOptscim062020', { headers: json, body: { schemas: [GROUP_SCHEMA], displayName: 'Flagged' } });
      t.equal(group.status, 201);
      // Entra ID keeps the Tenant URL's query and adds its own parameters after it.
      for (const flag of ['aadOptscim062020', 'aadOptscim062020=true', 'aadOptSCIM062020=true']) {
        for (const path of [
          '/ServiceProviderConfig',
          '/Schemas',
          '/ResourceTypes',
          '/ResourceTypes/User',
          '/Users',
          `/Users/${user.body.id}`,
          '/Groups',
          `/Groups/${group.body.id}`,
        ]) {
          const r = await tenant.request('GET', `${path}?${flag}`);
          t.equal(r.status, 200, `GET ${path}?${flag}`);
        }
        const filtered = await tenant.request('GET', `/Users?${flag}&filter=${encodeURIComponent('userName eq "flag@example.com"')}`);
        t.equal(filtered.body.totalResults, 1, `the flag before the filter (${flag})`);
        const after = await tenant.request('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Flagged"')}&${flag}`);
        t.equal(after.body.totalResults, 1, `the flag after the filter (${flag})`);
      }
      const patched = await tenant.request('PATCH', `/Users/${user.body.id}?aadOptscim062020`, {
        headers: json,
        body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
      });
      t.equal(patched.status, 200);
      t.equal(patched.body.active, false);
      t.equal((await tenant.request('DELETE', `/Groups/${group.body.id}?aadOptscim062020`)).status, 204);
      t.equal((await tenant.request('DELETE', `/Users/${user.body.id}?aadOptscim062020`)).status, 204);
    });

    await t.test(`/serviceConfiguration answers on lenient tenants only`, async (t) => {
      const lenient = await newTenant(a);
      const spc = await lenient.request('GET', '/ServiceProviderConfig');
      const alias = await lenient.request('GET', '/serviceConfiguration');
      t.equal(alias.status, 200);
      t.strictSame(alias.body, spc.body, 'the same document as /ServiceProviderConfig');
      const strict = await newTenant(a, { compatibility: 'strict' });
      const r = await strict.request('GET', '/serviceConfiguration');
      t.equal(r.status, 404);
      t.equal(r.body.status, '404');
      t.equal((await strict.request('GET', '/ServiceProviderConfig')).status, 200);
    });

    await t.test(`discovery endpoints answer 405 to writes before reading the body`, async (t) => {
      const tenant = await newTenant(a);
      for (const path of ['/ServiceProviderConfig', '/Schemas', '/ResourceTypes', '/ResourceTypes/User']) {
        const r = await tenant.request('POST', path, { headers: json, rawBody: 'test' });
        t.equal(r.status, 405, `POST ${path}`);
        t.equal(r.headers.allow, 'GET', `POST ${path}: Allow: GET`);
      }
    });

    await t.test(`externalId is not unique`, async (t) => {
      for (const settings of [{}, { compatibility: 'strict' as const }]) {
        const tenant = await newTenant(a, settings);
        // Microsoft's collection sends the literal text "${__UUID}" as externalId for several users.
        for (const userName of ['one@example.com', 'two@example.com']) {
          const r = await tenant.request('POST', '/Users', { headers: json, body: { schemas: [USER_SCHEMA], userName, externalId: '${__UUID}' } });
          t.equal(r.status, 201, `${userName} with a repeated externalId`);
        }
        const found = await tenant.request('GET', `/Users?filter=${encodeURIComponent('externalId eq "${__UUID}"')}`);
        t.equal(found.body.totalResults, 2);
      }
    });

    await t.test(`tenant settings default to lenient and 200 with the resource`, async (t) => {
      const tenant = await newTenant(a);
      const u = await tenant.request('POST', '/Users', { headers: json, body: { schemas: [USER_SCHEMA], userName: 'd@example.com' } });
      const r = await tenant.request('PATCH', `/Users/${u.body.id}`, {
        headers: json,
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
      });
      t.equal(r.status, 200, 'lenient by default: "False" is false');
      t.equal(r.body.active, false);
      t.equal(r.body.id, u.body.id, 'and the resource comes back');
    });

    await t.test(`strict tenants refuse the IdP forms lenient ones accept`, async (t) => {
      const strict = await newTenant(a, { compatibility: 'strict' });
      const lenient = await newTenant(a);
      const cases: { what: string; method: string; path: (ids: Record<string, string>) => string; body: (ids: Record<string, string>) => unknown; scimType: string }[] = [
        {
          what: 'a boolean as a string (Entra ID without aadOptscim062020)',
          method: 'POST',
          path: () => '/Users',
          body: () => ({ schemas: [USER_SCHEMA], userName: 'x1@example.com', active: 'True' }),
          scimType: 'invalidValue',
        },
        {
          what: 'the manager as a bare id (Entra ID)',
          method: 'PATCH',
          path: (ids) => `/Users/${ids.user}`,
          body: (ids) => ({ schemas: [PATCH_OP], Operations: [{ op: 'Add', path: `${ENTERPRISE}:manager`, value: ids.manager }] }),
          scimType: 'invalidValue',
        },
        {
          what: 'a PATCH without the PatchOp schema',
          method: 'PATCH',
          path: (ids) => `/Users/${ids.user}`,
          body: () => ({ Operations: [{ op: 'replace', path: 'title', value: 'x' }] }),
          scimType: 'invalidSyntax',
        },
        {
          what: 'two values marked primary',
          method: 'POST',
          path: () => '/Users',
          body: () => ({ schemas: [USER_SCHEMA], userName: 'x2@example.com', emails: [{ value: 'a@example.com', type: 'work', primary: true }, { value: 'b@example.com', primary: true }] }),
          scimType: 'invalidValue',
        },
        {
          what: 'a member that does not exist, next to one that does (fleetdm/fleet#52600, an Okta group push)',
          method: 'PATCH',
          path: (ids) => `/Groups/${ids.group}`,
          body: (ids) => ({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: ids.user }, { value: '7b1d2e4c-0c52-4a53-9d47-3b7c3a6e2f10' }] }] }),
          scimType: 'invalidValue',
        },
        {
          what: 'a member whose type contradicts what it is',
          method: 'PATCH',
          path: (ids) => `/Groups/${ids.group}`,
          body: (ids) => ({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: ids.manager, type: 'Group' }] }] }),
          scimType: 'invalidValue',
        },
        {
          what: 'a PATCH of the whole enterprise extension by its URN (python-scim\'s scim2-tester)',
          method: 'PATCH',
          path: (ids) => `/Users/${ids.user}`,
          body: () => ({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: ENTERPRISE, value: { department: 'Sales' } }] }),
          scimType: 'invalidPath',
        },
      ];
      for (const [name, tenant] of [['strict', strict], ['lenient', lenient]] as const) {
        const user = await tenant.request('POST', '/Users', { headers: json, body: { schemas: [USER_SCHEMA], userName: 'target@example.com' } });
        const manager = await tenant.request('POST', '/Users', { headers: json, body: { schemas: [USER_SCHEMA], userName: 'boss@example.com' } });
        const group = await tenant.request('POST', '/Groups', { headers: json, body: { schemas: [GROUP_SCHEMA], displayName: 'G' } });
        const ids = { user: user.body.id, manager: manager.body.id, group: group.body.id };
        for (const c of cases) {
          const r = await tenant.request(c.method, c.path(ids), { headers: json, body: c.body(ids) });
          if (name === 'strict') {
            t.equal(r.status, 400, `strict: ${c.what} → 400`);
            t.equal(r.body.scimType, c.scimType, `strict: ${c.what} → ${c.scimType}`);
          } else {
            // 201 for a POST; 200 for a User PATCH, 204 for a Group PATCH (the default patchResponse, "auto").
            const ok = c.method === 'POST' ? 201 : c.path(ids).startsWith('/Groups/') ? 204 : 200;
            t.equal(r.status, ok, `lenient: ${c.what} is accepted (${r.status} ${r.raw.body.slice(0, 200)})`);
          }
        }
      }
    });
  });
}

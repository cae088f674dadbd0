/**
 * User PATCH requests as Microsoft Entra ID and Okta send them, copied from
 * their published documentation.
 */
import t from 'tap';
import { applyPatch } from '../../src/scim/patch.js';
import { ENTERPRISE_USER_SCHEMA as ENT, USER_SCHEMA, userResourceType as USER } from '../../src/scim/schema.js';

type Json = Record<string, unknown>;

const scimError = (scimType: string, message: RegExp = /./) => ({ name: 'ScimError', status: 400, scimType, message });
const user = (): Json => ({
  schemas: [USER_SCHEMA],
  externalId: '6c75de36-30fa-4d2d-a196-6bdcdb6b6539',
  userName: 'Test_User_fbb9dda4-fcde-4f98-a68b-6c5599e17c27',
  name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
  displayName: 'Test User',
  active: true,
  emails: [{ value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com', type: 'work', primary: true }],
});

t.test('Microsoft Entra ID', async (t) => {
  // "Known issues and resolutions with SCIM 2.0 protocol compliance": sample requests without and with aadOptscim062020.
  t.test('disable a user: "False" without the flag (lenient only), false with it', async (t) => {
    const legacy = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] };
    const compliant = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] };
    t.throws(() => applyPatch(USER, user(), legacy), scimError('invalidValue', /"active" must be a boolean, got string "False"/));
    const r = applyPatch(USER, user(), legacy, { lenient: true });
    t.equal(r.resource.active, false);
    t.strictSame(r.changed, ['active']);
    t.strictSame(applyPatch(USER, user(), compliant).resource, applyPatch(USER, user(), legacy, { lenient: true }).resource);
  });

  t.test('add a single-value string attribute', async (t) => {
    for (const op of ['Add', 'add']) {
      const r = applyPatch(USER, user(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op, path: 'nickName', value: 'Babs' }] });
      t.equal(r.resource.nickName, 'Babs', op);
    }
  });

  t.test('replace multiple attributes, one per operation and without path', async (t) => {
    const legacy = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'displayName', value: 'Pvlo' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@test.microsoft.com' },
        { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
        { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
        { op: 'Replace', path: 'externalId', value: 'Eqpj' },
        { op: 'Replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', value: 'Eqpj' },
      ],
    };
    const r = applyPatch(USER, user(), legacy);
    t.strictSame(r.resource, {
      schemas: [USER_SCHEMA, ENT],
      externalId: 'Eqpj',
      userName: 'Test_User_fbb9dda4-fcde-4f98-a68b-6c5599e17c27',
      name: { formatted: 'givenName familyName', familyName: 'Pkqf', givenName: 'Gtfd' },
      displayName: 'Pvlo',
      active: true,
      emails: [{ value: 'TestBcwqnm@test.microsoft.com', type: 'work', primary: true }],
      [ENT]: { employeeNumber: 'Eqpj' },
    });
    t.strictSame(r.changed.sort(), ['displayName', 'emails', 'externalId', 'name.familyName', 'name.givenName', `${ENT}:employeeNumber`].sort());

    const compliant = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'TestMhvaes@test.microsoft.com' },
        {
          op: 'replace',
          value: {
            displayName: 'Bjfe',
            'name.givenName': 'Kkom',
            'name.familyName': 'Unua',
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber': 'Aklq',
          },
        },
      ],
    };
    const c = applyPatch(USER, user(), compliant).resource;
    t.equal(c.displayName, 'Bjfe');
    t.strictSame(c.name, { formatted: 'givenName familyName', familyName: 'Unua', givenName: 'Kkom' });
    t.strictSame(c[ENT], { employeeNumber: 'Aklq' });
    t.strictSame(c.emails, [{ value: 'TestMhvaes@test.microsoft.com', type: 'work', primary: true }]);
  });

  // "Azure Active Directory SCIM guidelines": Update User [Multi-valued properties], [Single-valued properties].
  t.test('update user, multi-valued and single-valued properties', async (t) => {
    const multi = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ],
    };
    const r = applyPatch(USER, user(), multi).resource;
    t.strictSame(r.emails, [{ value: 'updatedEmail@microsoft.com', type: 'work', primary: true }]);
    t.equal((r.name as Json).familyName, 'updatedFamilyName');
    const single = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'userName', value: '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com' }],
    };
    t.equal(applyPatch(USER, user(), single).resource.userName, '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com');
  });

  // From a Microsoft Q&A thread ("Entra ID patch sending Add instead of Replace"): the work email already exists.
  t.test('Add on a filtered path whose value exists sets it', async (t) => {
    const r = applyPatch(USER, user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'title', value: 'tester' },
        { op: 'Add', path: 'emails[type eq "work"].value', value: 'new@joe.com' },
      ],
    });
    t.strictSame(r.resource.emails, [{ value: 'new@joe.com', type: 'work', primary: true }]);
  });

  // "Tutorial: Develop and plan provisioning for a SCIM endpoint", Example 5 (update a user's manager).
  t.test('manager by its bare name, as a one-element array (lenient only)', async (t) => {
    const b = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        {
          op: 'Add',
          path: 'manager',
          value: [{ $ref: 'http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee', value: '00aa00aa-bb11-cc22-dd33-44ee44ee44ee' }],
        },
      ],
    };
    t.throws(() => applyPatch(USER, user(), b), scimError('invalidPath', /Invalid path "manager": no such attribute on User/));
    const r = applyPatch(USER, user(), b, { lenient: true });
    t.strictSame(r.resource[ENT], {
      manager: { value: '00aa00aa-bb11-cc22-dd33-44ee44ee44ee', $ref: 'http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee' },
    });
    t.same(r.resource.schemas, [USER_SCHEMA, ENT]);
    t.throws(
      () => applyPatch(USER, user(), { ...b, Operations: [{ op: 'add', path: 'manager', value: [{ value: 'a' }, { value: 'b' }] }] }, { lenient: true }),
      scimError('invalidValue', /manager" must be an object, got an array/),
      'only a one-element array',
    );
    t.throws(
      () => applyPatch(USER, user(), { ...b, Operations: [{ op: 'add', path: 'badgeColour', value: 'red' }] }, { lenient: true }),
      scimError('invalidPath', /Invalid path "badgeColour"/),
      'custom fields are never guessed',
    );
  });

  // The manager as a bare id is reported by implementers of Entra provisioning; Microsoft's samples do not show it.
  t.test('manager as a bare id (lenient only)', async (t) => {
    const b = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager', value: '26118915-6090-4610-87a4-49d0767e9fde' }],
    };
    t.throws(() => applyPatch(USER, user(), b), scimError('invalidValue', /manager" must be an object/));
    const r = applyPatch(USER, user(), b, { lenient: true });
    t.strictSame(r.resource[ENT], { manager: { value: '26118915-6090-4610-87a4-49d0767e9fde' } });
    t.strictSame(r.changed, [`${ENT}:manager`]);
  });
});

t.test('Okta', async (t) => {
  // "SCIM 2.0 protocol reference": Update a specific User (PATCH), deactivation.
  t.test('deactivate', async (t) => {
    const r = applyPatch(USER, user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    t.equal(r.resource.active, false);
    t.strictSame(r.changed, ['active']);
    const again = applyPatch(USER, r.resource, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    t.strictSame(again.changed, [], 'deactivating an inactive user changes nothing');
  });
});

import t from 'tap';
import { normalizeResource } from '../../src/scim/resource.js';
import {
  allSchemas,
  ENTERPRISE_USER_SCHEMA as ENT,
  findAttribute,
  GROUP_SCHEMA,
  groupResourceType as GROUP,
  USER_SCHEMA,
  userResourceType as USER,
  userSchema,
  type AttributeDef,
  type ResourceTypeDef,
  type SchemaDef,
} from '../../src/scim/schema.js';

const create = (input: unknown, lenient = false) => normalizeResource(USER, input, { mode: 'create', lenient });
const createGroup = (input: unknown, lenient = false) => normalizeResource(GROUP, input, { mode: 'create', lenient });
const user = (extra: Record<string, unknown> = {}) => ({ schemas: [USER_SCHEMA], userName: 'bjensen', ...extra });

/** Matches a ScimError with status 400, the scimType, and a detail matching `message`. */
const scimError = (scimType: string, message: RegExp = /./) => ({ name: 'ScimError', status: 400, scimType, message });
const invalidValue = (message?: RegExp) => scimError('invalidValue', message);

t.test('stored shape: canonical names, extension under its URN, derived schemas', async (t) => {
  const { resource, password } = create({
    SCHEMAS: [USER_SCHEMA, ENT],
    UserName: 'bjensen',
    NAME: { GivenName: 'Barbara', familyname: 'Jensen' },
    Emails: [{ Value: 'bjensen@example.com', TYPE: 'work', Primary: true }],
    externalid: 'ext-1',
    [ENT]: { EmployeeNumber: '701984', Manager: { Value: 'boss-id' } },
  });
  t.equal(password, undefined);
  t.strictSame(resource, {
    schemas: [USER_SCHEMA, ENT],
    externalId: 'ext-1',
    userName: 'bjensen',
    name: { familyName: 'Jensen', givenName: 'Barbara' },
    emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
    [ENT]: { employeeNumber: '701984', manager: { value: 'boss-id' } },
  });
});

t.test('id, meta, password and groups are not stored; password is returned', async (t) => {
  const { resource, password } = create(
    user({
      id: 'client-chosen',
      meta: { resourceType: 'User', created: '2011-08-01T18:29:49.793Z' },
      password: 't1meMa$heen',
      groups: [{ value: 'g1', display: 'Tour Guides' }],
    }),
  );
  t.strictSame(resource, { schemas: [USER_SCHEMA], userName: 'bjensen' });
  t.equal(password, 't1meMa$heen');
  t.throws(() => create(user({ password: 42 })), invalidValue(/"password" must be a string/));
});

t.test('extension attributes as flat fully qualified keys, custom fields', async (t) => {
  const { resource } = create(
    user({
      [`${ENT}:department`]: 'Tour Operations',
      [`${ENT}:manager.value`]: 'boss-id',
      [`${ENT}:costCentreCode`]: 'CC-7',
      [ENT]: { badgeNumber: 42, isContractor: false, Division: 'Theme Park' },
    }),
  );
  t.strictSame(resource[ENT], {
    division: 'Theme Park',
    department: 'Tour Operations',
    manager: { value: 'boss-id' },
    costCentreCode: 'CC-7',
    badgeNumber: '42',
    isContractor: 'false',
  });
  t.same(resource.schemas, [USER_SCHEMA, ENT], 'schemas lists the extension once it has a value');
  t.throws(() => create(user({ [ENT]: { badge: { n: 1 } } })), invalidValue(/"urn:.*:User:badge" is a custom field and must be a string/));
  t.strictSame(create(user({ [ENT]: { constructor: 'c', toString: 't' } })).resource[ENT], { constructor: 'c', toString: 't' }, 'names of Object.prototype members are ordinary names');
  t.throws(() => create(user({ [ENT]: 'x' })), invalidValue(/must be an object of extension attributes/));
});

t.test('the same attribute given twice is refused', async (t) => {
  t.throws(() => create(user({ [`${ENT}:department`]: 'a', [ENT]: { department: 'b' } })), invalidValue(/department" is given more than once/));
  t.throws(() => create(user({ name: { givenName: 'a' }, 'name.givenName': 'b' })), invalidValue(/name.givenName" is given more than once/));
  t.throws(() => create(user({ emails: [{ value: 'a@x', Value: 'b@x' }] })), invalidValue(/emails\[0\].value" is given more than once/));
  t.throws(() => create(user({ [ENT]: { Foo: 'a', foo: 'b' } })), invalidValue(/more than once/));
  const merged = create(user({ name: { givenName: 'Barbara' }, 'name.familyName': 'Jensen' })).resource;
  t.strictSame(merged.name, { familyName: 'Jensen', givenName: 'Barbara' }, 'nested and dotted parts of one complex attribute merge');
});

t.test('a body that is not an object is invalidSyntax', async (t) => {
  for (const body of [null, [], 'bjensen', 42]) {
    t.throws(() => create(body), scimError('invalidSyntax'), JSON.stringify(body));
  }
});

t.test('wrong JSON types are invalidValue naming the attribute', async (t) => {
  t.throws(() => create(user({ userName: 42 })), invalidValue(/"userName" must be a string, got number 42/));
  t.throws(() => create(user({ active: 'yes' })), invalidValue(/"active" must be a boolean/));
  t.throws(() => create(user({ name: 'Barbara Jensen' })), invalidValue(/"name" must be an object/));
  t.throws(() => create(user({ emails: [{ value: 7 }] })), invalidValue(/"emails\[0\].value" must be a string/));
  t.throws(() => create(user({ emails: [null] })), invalidValue(/"emails\[0\]" must not be null/));
  t.throws(() => create(user({ emails: ['bjensen@example.com'] })), invalidValue(/"emails\[0\]" must be an object/));
  t.throws(() => create(user({ [ENT]: { manager: 'boss-id' } })), invalidValue(/manager" must be an object/));
});

t.test('unknown attributes are ignored, never stored', async (t) => {
  const { resource } = create(
    user({
      favouriteColour: 'green',
      emails: [{ value: 'a@example.com', verified: true }],
      'urn:example:other:2.0:User': { anything: 1 },
      'name.nickname': 'x',
    }),
  );
  t.strictSame(resource, { schemas: [USER_SCHEMA], userName: 'bjensen', emails: [{ value: 'a@example.com' }] });
});

t.test('required attributes', async (t) => {
  t.throws(() => create({ schemas: [USER_SCHEMA] }), invalidValue(/"userName" is required/));
  t.throws(() => create(user({ userName: '' })), invalidValue(/"userName" is required/));
  t.throws(() => create(user({ userName: null })), invalidValue(/"userName" is required/));
  t.throws(() => createGroup({ schemas: [GROUP_SCHEMA] }), invalidValue(/"displayName" is required for a Group/));
  t.strictSame(createGroup({ schemas: [GROUP_SCHEMA], displayName: 'Tour Guides' }).resource, {
    schemas: [GROUP_SCHEMA],
    displayName: 'Tour Guides',
  });
});

t.test('schemas', async (t) => {
  t.throws(() => create({ userName: 'bjensen' }), invalidValue(/"schemas" must contain "urn:ietf:params:scim:schemas:core:2.0:User"/));
  t.throws(() => create({ schemas: [ENT], userName: 'bjensen' }), invalidValue(/"schemas" must contain/));
  t.throws(() => create({ schemas: USER_SCHEMA, userName: 'bjensen' }), invalidValue(/"schemas" must be an array/));
  t.throws(() => create({ schemas: [USER_SCHEMA, 3], userName: 'bjensen' }, true), invalidValue(/"schemas" must be an array/));
  t.same(create({ userName: 'bjensen' }, true).resource.schemas, [USER_SCHEMA], 'lenient: core schema assumed');
  t.same(create({ schemas: [USER_SCHEMA.toUpperCase()], userName: 'x' }).resource.schemas, [USER_SCHEMA], 'URNs compare case-insensitively');
  t.same(create({ schemas: [USER_SCHEMA, ENT], userName: 'x' }).resource.schemas, [USER_SCHEMA], 'an extension without values is not listed');
});

t.test('readOnly attributes and sub-attributes are ignored on input (RFC 7643 §2.2)', async (t) => {
  const { resource } = create(user({ [ENT]: { manager: { value: 'boss', displayName: 'The Boss' } } }));
  t.strictSame(resource[ENT], { manager: { value: 'boss' } });
  const g = createGroup({ schemas: [GROUP_SCHEMA], displayName: 'G', members: [{ value: 'u1', display: 'Babs' }] });
  t.strictSame(g.members, [{ value: 'u1' }]);
});

t.test('null and empty mean unassigned (RFC 7643 §2.5)', async (t) => {
  const { resource } = create(user({ displayName: null, emails: [], name: { givenName: null }, addresses: [{ type: null }] }));
  t.strictSame(resource, { schemas: [USER_SCHEMA], userName: 'bjensen' });
});

t.test('multi-valued attributes need arrays of their values, in every mode', async (t) => {
  for (const lenient of [false, true]) {
    t.throws(() => create(user({ emails: { value: 'bjensen@example.com', type: 'work' } }), lenient), invalidValue(/"emails" is multi-valued and must be an array, got an object/));
    // Once stored as [{"value": "nope"}]: no client needs a primitive read as a complex value.
    t.throws(() => create(user({ emails: 'nope' }), lenient), invalidValue(/"emails" is multi-valued and must be an array, got string "nope"/));
    t.throws(() => create(user({ emails: ['nope'] }), lenient), invalidValue(/"emails\[0\]" must be an object, got string "nope"/));
    t.throws(() => create(user({ phoneNumbers: 5 }), lenient), invalidValue(/"phoneNumbers" is multi-valued and must be an array, got number 5/));
  }
});

t.test('at most one primary value', async (t) => {
  const body = user({
    emails: [
      { value: 'a@example.com', primary: true },
      { value: 'b@example.com', primary: true },
    ],
  });
  t.throws(() => create(body), invalidValue(/"emails" has 2 values with "primary": true/));
  t.strictSame(create(body, true).resource.emails, [
    { value: 'a@example.com', primary: true },
    { value: 'b@example.com', primary: false },
  ]);
});

t.test('canonicalValues are not enforced', async (t) => {
  const { resource } = create(user({ emails: [{ value: 'a@example.com', type: 'holiday' }], ims: [{ value: 'x', type: 'signal' }] }));
  t.equal((resource.emails as { type: string }[])[0]!.type, 'holiday');
});

t.test('reference formats (RFC 7643 §2.3.7)', async (t) => {
  t.equal(create(user({ profileUrl: 'https://login.example.com/bjensen' })).resource.profileUrl, 'https://login.example.com/bjensen');
  t.throws(() => create(user({ profileUrl: 'login.example.com/bjensen' })), invalidValue(/"profileUrl" must be an absolute URI/));
  t.throws(() => create(user({ profileUrl: 'https://example.com/a b' })), invalidValue(/"profileUrl" must be an absolute URI/));
  t.throws(() => create(user({ photos: [{ value: '/photo.jpg' }] })), invalidValue(/"photos\[0\].value" must be an absolute URI/));
  const rel = create(user({ [ENT]: { manager: { value: 'm', $ref: '../Users/m' } } })).resource[ENT] as Record<string, unknown>;
  t.strictSame(rel.manager, { value: 'm', $ref: '../Users/m' }, 'references to SCIM resources may be relative');
  t.throws(() => create(user({ [ENT]: { manager: { $ref: '' } } })), invalidValue(/manager.\$ref" must be a URI/));
});

t.test('binary values must be base64 (RFC 7643 §2.3.6)', async (t) => {
  const cert = 'MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx';
  t.strictSame(create(user({ x509Certificates: [{ value: cert }] })).resource.x509Certificates, [{ value: cert }]);
  t.throws(() => create(user({ x509Certificates: [{ value: 'not base64!' }] })), invalidValue(/x509Certificates\[0\].value" must be base64/));
});

/** An attribute definition with the schema defaults (RFC 7643 §2.2), taken from nickName, a plain readWrite string. */
const plain = findAttribute(userSchema.attributes, 'nickName')!;
const attr = (name: string, type: AttributeDef['type'], more: Partial<AttributeDef> = {}): AttributeDef => ({ ...plain, name, type, ...more });

/** A schema with the attribute types and mutabilities the User and Group schemas do not use. */
const widgetSchema: SchemaDef = {
  id: 'urn:example:params:scim:schemas:test:2.0:Widget',
  name: 'Widget',
  description: 'test only',
  attributes: [
    attr('serial', 'string', { required: true, caseExact: true, mutability: 'immutable' }),
    attr('madeAt', 'dateTime'),
    attr('count', 'integer'),
    attr('ratio', 'decimal'),
    attr('spec', 'complex', { subAttributes: [attr('model', 'string', { mutability: 'immutable' }), attr('colour', 'string')] }),
  ],
};
const WIDGET = { name: 'Widget', endpoint: '/Widgets', description: '', schema: widgetSchema.id, schemaExtensions: [] } as unknown as ResourceTypeDef;

t.test('a schema with dateTime, integer, decimal and immutable attributes', async (t) => {
  allSchemas.push(widgetSchema);
  t.teardown(() => void allSchemas.splice(allSchemas.indexOf(widgetSchema), 1));
  const widget = (extra: Record<string, unknown>) => ({ schemas: [widgetSchema.id], serial: 'S1', ...extra });
  const norm = (input: unknown, existing?: Record<string, unknown>) =>
    normalizeResource(WIDGET, input, existing ? { mode: 'replace', existing } : { mode: 'create' }).resource;

  t.test('dateTime (RFC 7643 §2.3.5)', async (t) => {
    t.equal(norm(widget({ madeAt: '2008-01-23T04:56:22Z' })).madeAt, '2008-01-23T04:56:22Z');
    t.equal(norm(widget({ madeAt: '2015-09-01T12:00:00.123+02:00' })).madeAt, '2015-09-01T12:00:00.123+02:00');
    for (const bad of ['2008-01-23', '23/01/2008 04:56', '2008-13-45T04:56:22Z']) {
      t.throws(() => norm(widget({ madeAt: bad })), invalidValue(/"madeAt" must be an xsd:dateTime/), bad);
    }
    t.throws(() => norm(widget({ madeAt: 1200000000 })), invalidValue(/"madeAt" must be a dateTime, got number/));
  });

  t.test('integer and decimal', async (t) => {
    t.equal(norm(widget({ count: 3, ratio: 0.5 })).ratio, 0.5);
    t.throws(() => norm(widget({ count: 1.5 })), invalidValue(/"count" must be a integer/));
    t.throws(() => norm(widget({ count: '3' })), invalidValue(/"count"/));
    t.throws(() => norm(widget({ ratio: 'half' })), invalidValue(/"ratio" must be a decimal/));
  });

  t.test('immutable attributes may not change on replace (RFC 7644 §3.5.1)', async (t) => {
    const existing = norm(widget({ spec: { model: 'M1', colour: 'red' } }));
    t.strictSame(norm(widget({ spec: { model: 'M1', colour: 'blue' } }), existing).spec, { model: 'M1', colour: 'blue' });
    t.throws(() => norm(widget({ serial: 'S2' }), existing), scimError('mutability', /"serial" is immutable/));
    t.throws(() => norm(widget({ spec: { model: 'M2' } }), existing), scimError('mutability', /"spec.model" is immutable/));
    t.strictSame(norm(widget({ spec: { colour: 'green' } }), existing).spec, { model: 'M1', colour: 'green' }, 'left out: kept');
    t.equal(norm(widget({ serial: 'S2' })).serial, 'S2', 'create sets it freely');
    const unset = norm(widget({}));
    t.strictSame(norm(widget({ spec: { model: 'M9' } }), unset).spec, { model: 'M9' }, 'set once when it had no value');
  });
});

t.test('Group members are returned as references, not stored', async (t) => {
  const g = createGroup({
    schemas: [GROUP_SCHEMA],
    displayName: 'Tour Guides',
    members: [
      { value: 'u1', $ref: 'https://example.com/v2/Users/u1', display: 'Babs' },
      { value: 'g2', $ref: 'https://example.com/v2/Groups/g2' },
      { value: 'u3', type: 'user' },
      { value: 'x4' },
      { value: 'u1', type: 'User' },
    ],
  });
  t.strictSame(g.resource, { schemas: [GROUP_SCHEMA], displayName: 'Tour Guides' });
  t.strictSame(g.members, [{ value: 'u1', type: 'User' }, { value: 'g2', type: 'Group' }, { value: 'u3', type: 'User' }, { value: 'x4' }]);
  t.equal(createGroup({ schemas: [GROUP_SCHEMA], displayName: 'G' }).members, undefined, 'absent: not asserted');
  t.strictSame(createGroup({ schemas: [GROUP_SCHEMA], displayName: 'G', members: [] }).members, []);
  t.strictSame(createGroup({ schemas: [GROUP_SCHEMA], displayName: 'G', members: null }).members, []);
  const bad = (members: unknown) => createGroup({ schemas: [GROUP_SCHEMA], displayName: 'G', members });
  t.throws(() => bad([{ display: 'no id' }]), invalidValue(/"members\[0\].value" \(the member's id\) is required/));
  t.throws(() => bad([{ value: 'd1', type: 'Device' }]), invalidValue(/"members\[0\].type" must be "User" or "Group"/));
  t.throws(() => bad({ value: 'u1' }), invalidValue(/"members" is multi-valued/));
  t.throws(() => createGroup({ schemas: [GROUP_SCHEMA], displayName: 'G', members: { value: 'u1' } }, true), invalidValue(/"members" is multi-valued and must be an array/));
});

t.test('lenient mode: IdP quirks', async (t) => {
  t.test('Entra ID: booleans as strings', async (t) => {
    const body = user({ active: 'True', roles: [{ primary: 'False', value: 'r1' }] });
    t.throws(() => create(body), invalidValue(/"active" must be a boolean, got string "True"/));
    const { resource } = create(body, true);
    t.equal(resource.active, true);
    t.strictSame(resource.roles, [{ value: 'r1', primary: false }]);
    t.throws(() => create(user({ active: 'yes' }), true), invalidValue(/"active" must be a boolean/), 'only true/false strings');
  });

  t.test('Entra ID: manager as a bare id', async (t) => {
    const body = user({ [ENT]: { manager: 'boss-id' } });
    t.throws(() => create(body), invalidValue(/manager" must be an object, got string/));
    t.strictSame(create(body, true).resource[ENT], { manager: { value: 'boss-id' } });
    t.throws(() => create(user({ name: 'Babs' }), true), invalidValue(/"name" must be an object/), 'only for complex attributes with a value sub-attribute');
  });

  t.test('Entra ID: a one-element array for a single value', async (t) => {
    t.throws(() => create(user({ displayName: ['Babs'] })), invalidValue(/"displayName" must be a string, got an array/));
    t.equal(create(user({ displayName: ['Babs'] }), true).resource.displayName, 'Babs');
    t.throws(() => create(user({ displayName: ['Babs', 'B'] }), true), invalidValue(/"displayName" must be a string, got an array/));
  });

  t.test('blank type', async (t) => {
    const body = user({ phoneNumbers: [{ value: '555-555-5555', type: '' }] });
    t.strictSame(create(body).resource.phoneNumbers, [{ value: '555-555-5555', type: '' }], 'strict: a valid, if empty, string');
    t.strictSame(create(body, true).resource.phoneNumbers, [{ value: '555-555-5555' }]);
  });

  t.test('mixed-case sub-attribute names are read in every mode (RFC 7643 §2.1)', async (t) => {
    const body = user({ emails: [{ Value: 'a@example.com', Primary: true, Type: 'work' }] });
    t.strictSame(create(body).resource.emails, [{ value: 'a@example.com', type: 'work', primary: true }]);
  });
});

t.test('real requests', async (t) => {
  // Microsoft's "Azure Active Directory SCIM guidelines", Create User and Create Group requests.
  t.test('Entra ID create user', async (t) => {
    const body = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
    };
    t.strictSame(create(body).resource, {
      schemas: [USER_SCHEMA],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      active: true,
      emails: [{ value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com', type: 'work', primary: true }],
    });
  });

  t.test('Entra ID create group, with a Microsoft schema URN Roster does not implement', async (t) => {
    const body = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      id: 'c4d56c3c-bf3b-4e96-9b64-837018d6060e',
      displayName: 'displayName',
      members: [],
      meta: { resourceType: 'Group' },
    };
    const g = createGroup(body);
    t.strictSame(g.resource, { schemas: [GROUP_SCHEMA], externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', displayName: 'displayName' });
    t.strictSame(g.members, []);
  });

  // Okta's "SCIM 2.0 protocol reference", Create the User.
  t.test('Okta create user', async (t) => {
    const body = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'test.user@okta.local',
      name: { givenName: 'Test', familyName: 'User' },
      emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
      displayName: 'Test User',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    };
    const { resource, password } = create(body);
    t.equal(password, '1mz050nq');
    t.notOk('groups' in resource || 'password' in resource);
    t.equal(resource.displayName, 'Test User');
  });
});

t.test('replace produces the same shape as create and does not touch `existing`', async (t) => {
  const existing = create(user({ nickName: 'Babs' })).resource;
  const frozen = structuredClone(existing);
  const { resource } = normalizeResource(USER, user({ title: 'Tour Guide' }), { mode: 'replace', existing });
  t.strictSame(resource, { schemas: [USER_SCHEMA], userName: 'bjensen', title: 'Tour Guide' });
  t.strictSame(existing, frozen);
});

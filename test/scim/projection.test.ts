import t from 'tap';
import { parseAttributeList, project } from '../../src/scim/projection.js';
import { ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, groupResourceType, USER_SCHEMA, userResourceType } from '../../src/scim/schema.js';

const U = userResourceType;
const ID = '2819c223-7f76-453a-919d-413861904646';

/** RFC 7643 §8.2/§8.3 bjensen, with a group, an enterprise part with a custom field, and a password that must never show. */
const bjensen = () => ({
  schemas: [USER_SCHEMA, ENT],
  id: ID,
  externalId: '701984',
  userName: 'bjensen@example.com',
  name: { formatted: 'Ms. Barbara J Jensen, III', familyName: 'Jensen', givenName: 'Barbara' },
  displayName: 'Babs Jensen',
  active: true,
  password: 't1meMa$heen',
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ],
  groups: [{ value: 'e9e30dba-f08f-4109-8486-d5c6a331660a', $ref: 'https://example.com/v2/Groups/e9e30dba', display: 'Tour Guides' }],
  [ENT]: { employeeNumber: '701984', costCenter: '4130', manager: { value: '26118915', displayName: 'John Smith' }, customfield: 'blue' },
  meta: {
    resourceType: 'User',
    created: '2010-01-23T04:56:22Z',
    lastModified: '2011-05-13T04:42:34Z',
    version: 'W/"3694e05e9dff591"',
    location: `https://example.com/v2/Users/${ID}`,
  },
});

const attrs = (csv: string, rt = U) => parseAttributeList(rt, csv);
const withoutPassword = () => {
  const { password: _password, ...rest } = bjensen();
  return rest;
};

t.test('RFC 7644 §3.9: attributes=userName returns schemas, id and userName', async (t) => {
  const out = project(U, bjensen(), { attributes: attrs('userName') });
  t.same(out, { schemas: [USER_SCHEMA, ENT], id: ID, userName: 'bjensen@example.com' });
  t.same(Object.keys(out), ['schemas', 'id', 'userName'], 'in the order of the representation');
});

t.test('no parameters: every attribute but returned=never ones', async (t) => {
  t.same(project(U, bjensen()), withoutPassword());
  t.same(project(U, bjensen(), { attributes: [], excludedAttributes: [] }), withoutPassword());
});

t.test('no parameters: empty complex values and empty extensions are dropped, as with parameters', async (t) => {
  const odd = {
    ...bjensen(),
    name: {},
    emails: [{ value: 'a@example.com', type: 'work' }, {}],
    phoneNumbers: [],
    addresses: [{}],
    Ims: [{ value: 'babs', type: 'xmpp' }],
    [ENT]: {},
  };
  const plain = project(U, odd);
  // excludedAttributes=nickName names an attribute the resource does not have: the same answer, built attribute by attribute.
  const viaParameters = project(U, odd, { excludedAttributes: attrs('nickName') });
  t.same(plain, viaParameters);
  t.notOk('name' in plain, 'an empty complex value is dropped');
  t.same(plain.emails, [{ value: 'a@example.com', type: 'work' }], 'an empty element is dropped');
  t.notOk('phoneNumbers' in plain || 'addresses' in plain, 'a multi-valued attribute left empty is dropped');
  t.same(plain.Ims, [{ value: 'babs', type: 'xmpp' }], 'a key in another case is still the schema attribute');
  t.notOk(ENT in plain, 'an empty extension is dropped');
  t.notOk('PassWord' in project(U, { ...withoutPassword(), PassWord: 'x' }), 'returned=never, whatever the case of the key');
});

t.test('attributes', async (t) => {
  t.same(project(U, bjensen(), { attributes: attrs('name.givenName,emails.value') }), {
    schemas: [USER_SCHEMA, ENT],
    id: ID,
    name: { givenName: 'Barbara' },
    emails: [{ value: 'bjensen@example.com' }, { value: 'babs@jensen.org' }],
  });
  t.same(project(U, bjensen(), { attributes: attrs('NAME, Emails') }), {
    schemas: [USER_SCHEMA, ENT],
    id: ID,
    name: bjensen().name,
    emails: bjensen().emails,
  }, 'case-insensitive names, spaces around commas');
  t.same(project(U, bjensen(), { attributes: attrs('meta.lastModified,externalId') }), {
    schemas: [USER_SCHEMA, ENT],
    id: ID,
    externalId: '701984',
    meta: { lastModified: '2011-05-13T04:42:34Z' },
  });
  t.same(project(U, bjensen(), { attributes: attrs('password,id') }), { schemas: [USER_SCHEMA, ENT], id: ID }, 'never is never, even when asked');
  t.same(project(U, bjensen(), { attributes: attrs('nickName') }), { schemas: [USER_SCHEMA, ENT], id: ID }, 'an absent attribute adds nothing');
  t.same(
    project(U, bjensen(), { attributes: attrs('urn:ietf:params:scim:schemas:core:2.0:User:userName,groups.display') }),
    { schemas: [USER_SCHEMA, ENT], id: ID, userName: 'bjensen@example.com', groups: [{ display: 'Tour Guides' }] },
    'fully qualified core attributes',
  );
});

t.test('extension attributes and custom fields', async (t) => {
  t.same(project(U, bjensen(), { attributes: attrs(`${ENT}:costCenter,${ENT}:manager.displayName`) }), {
    schemas: [USER_SCHEMA, ENT],
    id: ID,
    [ENT]: { costCenter: '4130', manager: { displayName: 'John Smith' } },
  });
  t.same(project(U, bjensen(), { attributes: attrs(`${ENT}:CustomField`) }), { schemas: [USER_SCHEMA, ENT], id: ID, [ENT]: { customfield: 'blue' } });
  t.same(
    project(U, bjensen(), { attributes: attrs('userName') }),
    { schemas: [USER_SCHEMA, ENT], id: ID, userName: 'bjensen@example.com' },
    'an extension left empty is dropped; schemas keeps its URN',
  );
  const { [ENT]: ext, ...rest } = withoutPassword();
  t.same(project(U, bjensen(), { excludedAttributes: attrs(`${ENT}:employeeNumber,${ENT}:costCenter,${ENT}:manager,${ENT}:customfield`) }), rest);
  t.same(project(U, bjensen(), { excludedAttributes: attrs(`${ENT}:manager.value`) })[ENT], { ...ext, manager: { displayName: 'John Smith' } });
});

t.test('excludedAttributes', async (t) => {
  const { emails: _e, meta: _m, ...rest } = withoutPassword();
  t.same(project(U, bjensen(), { excludedAttributes: attrs('emails,meta') }), rest);
  t.same(project(U, bjensen(), { excludedAttributes: attrs('id,schemas') }), withoutPassword(), 'no effect on returned=always (§3.9)');
  const out = project(U, bjensen(), { excludedAttributes: attrs('emails.type,name.formatted,groups') });
  t.same(out.emails, [{ value: 'bjensen@example.com', primary: true }, { value: 'babs@jensen.org' }]);
  t.same(out.name, { familyName: 'Jensen', givenName: 'Barbara' });
  t.notOk('groups' in out);
  t.same(
    project(U, bjensen(), { attributes: attrs('emails,userName'), excludedAttributes: attrs('emails.primary,userName') }),
    { schemas: [USER_SCHEMA, ENT], id: ID, emails: [{ value: 'bjensen@example.com', type: 'work' }, { value: 'babs@jensen.org', type: 'home' }] },
    'both parameters together',
  );
});

t.test('attribute paths as strings (e.g. a webhook endpoint setting)', async (t) => {
  t.same(project(U, bjensen(), { attributes: ['userName', 'emails.value'] }), {
    schemas: [USER_SCHEMA, ENT],
    id: ID,
    userName: 'bjensen@example.com',
    emails: [{ value: 'bjensen@example.com' }, { value: 'babs@jensen.org' }],
  });
});

t.test('groups: members and displayName', async (t) => {
  const group = {
    schemas: [GROUP_SCHEMA],
    id: 'e9e30dba-f08f-4109-8486-d5c6a331660a',
    displayName: 'Tour Guides',
    members: [{ value: ID, $ref: `https://example.com/v2/Users/${ID}`, display: 'Babs Jensen', type: 'User' }],
    meta: { resourceType: 'Group' },
  };
  t.same(project(groupResourceType, group, { attributes: attrs('displayName', groupResourceType) }), {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    displayName: 'Tour Guides',
  });
  t.same(project(groupResourceType, group, { attributes: attrs('members.value', groupResourceType) }).members, [{ value: ID }]);
  t.notOk('members' in project(groupResourceType, group, { excludedAttributes: attrs('members', groupResourceType) }));
});

t.test('the input is not modified', async (t) => {
  const input = bjensen();
  project(U, input, { attributes: attrs('emails.value'), excludedAttributes: attrs('emails.type') });
  t.same(input, bjensen());
});

t.test('parseAttributeList', async (t) => {
  t.same(parseAttributeList(U, undefined), []);
  t.same(parseAttributeList(U, ''), []);
  t.same(parseAttributeList(U, ' , '), []);
  t.same(attrs('userName, name.familyName,emails.VALUE').map((a) => a.path), ['userName', 'name.familyName', 'emails.value']);
  t.same(attrs(`${ENT}:manager.value,${ENT}:custom1`).map((a) => a.path), [`${ENT}:manager.value`, `${ENT}:custom1`]);
  t.same(attrs('schemas,id,meta').map((a) => a.path), ['schemas', 'id', 'meta']);
  for (const [csv, detail] of [
    ['nope', /Unknown attribute "nope" for resource type User/],
    ['userName,name.nope', /Unknown attribute "name.nope"/],
    ['members', /Unknown attribute "members"/],
    [`${ENT}`, /Unknown attribute/],
  ] as const) {
    t.throws(() => attrs(csv), { name: 'ScimError', status: 400, scimType: 'invalidValue', message: detail }, csv);
  }
  t.throws(() => attrs('displayName,groups', groupResourceType), { status: 400, scimType: 'invalidValue', message: /"groups" for resource type Group/ });
});

t.test("Microsoft's SCIM test collection for Entra ID: a value filter inside attributes", async (t) => {
  // Query strings exactly as the collection (shared/conformance) sends them.
  for (const query of ['attributes=emails%5Btype+eq+%22work%22%5D', 'attributes=emails%5Bvalue+eq+%22emailName357%22%5D']) {
    const list = attrs(new URLSearchParams(query).get('attributes')!);
    t.same(list.map((a) => a.path), ['emails'], query);
    t.same(project(U, bjensen(), { attributes: list }), { schemas: [USER_SCHEMA, ENT], id: ID, emails: bjensen().emails });
  }
  t.same(attrs('emails[type eq "work"].value,userName').map((a) => a.path), ['emails.value', 'userName']);
  t.same(attrs('emails[value eq "a,b"],userName').map((a) => a.path), ['emails', 'userName'], 'commas inside the filter do not split');
  t.same(attrs(new URLSearchParams('attributes=userName,emails').get('attributes')!).map((a) => a.path), ['userName', 'emails'], 'its plain list');
  t.throws(() => attrs('nope[type eq "work"]'), { status: 400, scimType: 'invalidValue', message: /Unknown attribute "nope"/ });
});

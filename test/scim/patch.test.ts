import t, { type Test } from 'tap';
import { applyPatch, parsePatchRequest } from '../../src/scim/patch.js';
import {
  allSchemas,
  ENTERPRISE_USER_SCHEMA as ENT,
  findAttribute,
  GROUP_SCHEMA,
  groupResourceType as GROUP,
  PATCH_OP_SCHEMA,
  USER_SCHEMA,
  userResourceType as USER,
  userSchema,
  type AttributeDef,
  type ResourceTypeDef,
  type SchemaDef,
} from '../../src/scim/schema.js';

type Json = Record<string, unknown>;

const scimError = (scimType: string, message: RegExp = /./) => ({ name: 'ScimError', status: 400, scimType, message });

/** A stored-shape user, as normalizeResource produces it. */
const stored = (): Json => ({
  schemas: [USER_SCHEMA, ENT],
  externalId: 'ext-1',
  userName: 'bjensen',
  name: { familyName: 'Jensen', givenName: 'Barbara' },
  displayName: 'Babs Jensen',
  nickName: 'Babs',
  active: true,
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ],
  addresses: [{ streetAddress: '100 Universal City Plaza', locality: 'Hollywood', type: 'work', primary: true }],
  [ENT]: { employeeNumber: '701984', department: 'Tour Operations', manager: { value: 'boss-id' }, CostCentreCode: 'CC-7' },
});

const body = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });
const patch = (current: Json, ...ops: unknown[]) => applyPatch(USER, current, body(...ops));
const after = (...ops: unknown[]) => patch(stored(), ...ops).resource;
/** The operations fail with 400 scimType and a detail matching message, leaving the input as it was. */
const patchFails = (t: Test, scimType: string, message: RegExp, ...ops: unknown[]) => {
  const current = stored();
  t.throws(() => patch(current, ...ops), scimError(scimType, message));
  t.strictSame(current, stored(), 'the input is untouched');
};

t.test('the PatchOp request (RFC 7644 §3.5.2)', async (t) => {
  const ok = { op: 'replace', path: 'nickName', value: 'B' };
  const bad = (b: unknown, scimType: string, message: RegExp, lenient = false) =>
    t.throws(() => applyPatch(USER, stored(), b, { lenient }), scimError(scimType, message), JSON.stringify(b));
  bad(null, 'invalidSyntax', /must be a JSON object/);
  bad([ok], 'invalidSyntax', /must be a JSON object/);
  bad({ Operations: [ok] }, 'invalidSyntax', /"schemas" must contain "urn:ietf:params:scim:api:messages:2.0:PatchOp"/);
  bad({ schemas: [USER_SCHEMA], Operations: [ok] }, 'invalidSyntax', /"schemas" must contain/);
  t.equal(applyPatch(USER, stored(), { Operations: [ok] }, { lenient: true }).resource.nickName, 'B', 'lenient: PatchOp URN assumed');
  bad({ schemas: [PATCH_OP_SCHEMA] }, 'invalidSyntax', /"Operations" must be an array of one or more operations/);
  bad(body(), 'invalidSyntax', /"Operations" must be an array of one or more/);
  bad({ schemas: [PATCH_OP_SCHEMA], Operations: ok }, 'invalidSyntax', /"Operations" must be an array/);
  bad(body('replace'), 'invalidSyntax', /Operations\[0\] must be an object/);
  bad(body(ok, { op: 'move', path: 'nickName' }), 'invalidSyntax', /Operations\[1\].op must be "add", "remove" or "replace", got "move"/);
  bad(body({ path: 'nickName', value: 'x' }), 'invalidSyntax', /Operations\[0\].op must be .* got null/);
  bad(body({ op: 'add', path: 'nickName' }), 'invalidValue', /Operations\[0\]: "add" requires a "value"/);
  bad(body({ op: 'replace', path: 'nickName' }), 'invalidValue', /"replace" requires a "value"/);
  bad(body({ op: 'remove' }), 'noTarget', /"remove" requires a "path"/);
  bad(body({ op: 'add', value: 'Babs' }), 'invalidValue', /Without a "path", the value of "add" must be an object of attributes/);
  bad(body({ op: 'replace', path: 'nickName ', value: 'x' }, { op: 'add', path: 'nope', value: 1 }), 'invalidPath', /Operations\[1\] \(add "nope"\): Invalid path "nope"/);

  t.strictSame(parsePatchRequest(body({ OP: 'Add', PATH: 'nickName', VALUE: null }, { op: 'REMOVE', path: 'title' }), { lenient: false }), [
    { op: 'add', path: 'nickName', value: null, hasValue: true },
    { op: 'remove', path: 'title', value: undefined, hasValue: false },
  ], 'op names and member names are case-insensitive');
});

t.test('add (RFC 7644 §3.5.2.1)', async (t) => {
  t.equal(after({ op: 'add', path: 'title', value: 'Tour Guide' }).title, 'Tour Guide', 'a new attribute');
  t.equal(after({ op: 'add', path: 'nickName', value: 'B' }).nickName, 'B', 'a single-valued attribute is replaced');
  t.strictSame(after({ op: 'add', path: 'name', value: { middleName: 'Jane', givenName: 'Babs' } }).name, {
    familyName: 'Jensen',
    givenName: 'Babs',
    middleName: 'Jane',
  }, 'a complex attribute gets the given sub-attributes, keeps the others');
  t.strictSame(after({ op: 'add', path: 'name.honorificPrefix', value: 'Ms.' }).name, { familyName: 'Jensen', givenName: 'Barbara', honorificPrefix: 'Ms.' });

  t.test('multi-valued: values are appended, ones present are not repeated', async (t) => {
    const r = after({ op: 'add', path: 'emails', value: [{ value: 'babs@jensen.org', type: 'home' }, { value: 'b@example.org', type: 'other' }] });
    t.strictSame(r.emails, [...(stored().emails as Json[]), { value: 'b@example.org', type: 'other' }]);
    t.strictSame(after({ op: 'add', path: 'phoneNumbers', value: [{ value: '555-555-5555' }] }).phoneNumbers, [{ value: '555-555-5555' }]);
    patchFails(t, 'invalidValue', /"emails" is multi-valued and must be an array, got an object/, { op: 'add', path: 'emails', value: { value: 'x@example.com' } });
    for (const value of [{ value: 'x@example.com' }, 'x@example.com']) {
      t.throws(
        () => applyPatch(USER, stored(), body({ op: 'add', path: 'emails', value }), { lenient: true }),
        scimError('invalidValue', /"emails" is multi-valued and must be an array/),
        `lenient too: ${JSON.stringify(value)}`,
      );
    }
  });

  t.test('a new primary value makes the others non-primary', async (t) => {
    const r = after({ op: 'add', path: 'emails', value: [{ value: 'new@example.com', type: 'work', primary: true }] });
    t.strictSame(
      (r.emails as Json[]).map((e) => [e.value, e.primary]),
      [['bjensen@example.com', false], ['babs@jensen.org', undefined], ['new@example.com', true]],
    );
  });

  t.test('extension attributes, custom fields', async (t) => {
    const r = after(
      { op: 'add', path: `${ENT}:division`, value: 'Theme Park' },
      { op: 'add', path: `${ENT}:manager.value`, value: 'new-boss' },
      { op: 'add', path: `${ENT}:costcentrecode`, value: 'CC-8' },
      { op: 'add', path: `${ENT}:badge`, value: 42 },
    );
    t.strictSame(r[ENT], {
      employeeNumber: '701984',
      division: 'Theme Park',
      department: 'Tour Operations',
      manager: { value: 'new-boss' },
      CostCentreCode: 'CC-8',
      badge: '42',
    }, 'a custom field keeps the spelling it is stored under; numbers are stored as text');
    const proto = after({ op: 'add', path: `${ENT}:constructor`, value: 'c' }, { op: 'replace', path: `${ENT}:hasOwnProperty`, value: 'h' });
    t.strictSame([(proto[ENT] as Json).constructor, (proto[ENT] as Json).hasOwnProperty], ['c', 'h'], 'names of Object.prototype members are ordinary names');
    const plain: Json = { ...stored(), schemas: [USER_SCHEMA] };
    delete plain[ENT];
    const added = patch(plain, { op: 'add', path: `${ENT}:department`, value: 'Sales' });
    t.same(added.resource.schemas, [USER_SCHEMA, ENT], 'schemas gains the extension');
    t.strictSame(added.changed, [`${ENT}:department`]);
  });

  t.test('value-filtered paths', async (t) => {
    const set = after({ op: 'add', path: 'emails[type eq "work"].value', value: 'babs@example.com' });
    t.strictSame((set.emails as Json[])[0], { value: 'babs@example.com', type: 'work', primary: true }, 'a matching value gets the sub-attribute');
    const merged = after({ op: 'add', path: 'emails[type eq "home"]', value: { display: 'Home' } });
    t.strictSame((merged.emails as Json[])[1], { value: 'babs@jensen.org', display: 'Home', type: 'home' });
  });

  t.test('a value filter that matches nothing adds a value made of its eq terms', async (t) => {
    const r = after({ op: 'add', path: 'phoneNumbers[type eq "mobile"].value', value: '555-555-4444' });
    t.strictSame(r.phoneNumbers, [{ value: '555-555-4444', type: 'mobile' }]);
    const a = after({ op: 'add', path: 'addresses[type eq "home"].locality', value: 'Burbank' });
    t.strictSame((a.addresses as Json[])[1], { locality: 'Burbank', type: 'home' });
    const both = after({ op: 'add', path: 'emails[type eq "other" and primary eq true]', value: { value: 'o@example.com' } });
    t.strictSame(
      (both.emails as Json[]).map((e) => [e.value, e.primary]),
      [['bjensen@example.com', false], ['babs@jensen.org', undefined], ['o@example.com', true]],
      'the new value is primary, so the others are not',
    );
    patchFails(t, 'noTarget', /does not describe a new value/, { op: 'add', path: 'emails[value ew "example.net"].type', value: 'work' });
    patchFails(t, 'noTarget', /does not describe a new value/, { op: 'add', path: 'emails[type eq "a" or type eq "b"].value', value: 'x' });
  });

  t.test('without path: a partial resource, with dotted and fully qualified names', async (t) => {
    const r = patch(stored(), {
      op: 'add',
      value: {
        schemas: ['whatever'],
        'name.middleName': 'Jane',
        Title: 'Tour Guide',
        [`${ENT}:employeeNumber`]: '42',
        [ENT]: { division: 'Theme Park', manager: { value: 'm2' } },
        emails: [{ value: 'c@example.com' }],
        id: 'ignored',
        meta: { version: 'W/"1"' },
        groups: [{ value: 'g' }],
        unknownThing: 1,
      },
    });
    t.strictSame(r.changed.sort(), [
      'emails',
      'name.middleName',
      'title',
      `${ENT}:division`,
      `${ENT}:employeeNumber`,
      `${ENT}:manager`,
    ].sort());
    t.strictSame((r.resource[ENT] as Json).manager, { value: 'm2' });
  });

  t.test('null adds nothing (RFC 7643 §2.5)', async (t) => {
    const r = patch(stored(), { op: 'add', path: 'title', value: null });
    t.strictSame(r.changed, []);
  });
});

t.test('replace (RFC 7644 §3.5.2.3)', async (t) => {
  t.equal(after({ op: 'replace', path: 'displayName', value: 'Barbara' }).displayName, 'Barbara');
  t.equal(after({ op: 'replace', path: 'title', value: 'Guide' }).title, 'Guide', 'an absent attribute is added');
  t.strictSame(after({ op: 'replace', path: 'emails', value: [{ value: 'only@example.com' }] }).emails, [{ value: 'only@example.com' }], 'a multi-valued attribute is replaced as a whole');
  t.strictSame(after({ op: 'replace', path: 'name', value: { givenName: 'Babs' } }).name, { familyName: 'Jensen', givenName: 'Babs' }, 'complex: sub-attributes not given are left unchanged');
  t.strictSame(after({ op: 'replace', path: `${ENT}:manager`, value: { value: 'm2' } })[ENT], { ...(stored()[ENT] as Json), manager: { value: 'm2' } });
  t.equal(after({ op: 'replace', path: 'nickName', value: null }).nickName, undefined, 'null clears');
  t.strictSame(after({ op: 'replace', path: 'name', value: {} }).name, stored().name, 'an empty complex value changes nothing');
  t.equal(after({ op: 'replace', path: 'emails', value: [] }).emails, undefined, 'an empty array clears');
  t.strictSame(patch(stored(), { op: 'add', path: 'emails[type eq "other"].value', value: null }).changed, [], 'add null adds nothing, even through a filter');
  t.equal(after({ op: 'replace', path: 'externalId', value: 'ext-2' }).externalId, 'ext-2');

  t.test('value-filtered paths', async (t) => {
    const whole = after({ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'babs@home.example', type: 'home' } });
    t.strictSame((whole.emails as Json[])[1], { value: 'babs@home.example', type: 'home' }, 'the matched value is replaced');
    const sub = after({ op: 'replace', path: 'emails[value eq "BABS@jensen.org"].display', value: 'Home' });
    t.strictSame((sub.emails as Json[])[1], { value: 'babs@jensen.org', display: 'Home', type: 'home' }, 'caseExact=false values match case-insensitively');
    const primary = after({ op: 'replace', path: 'emails[type eq "home"].primary', value: true });
    t.strictSame((primary.emails as Json[]).map((e) => e.primary), [false, true], 'a new primary clears the old one');
    const both = after({ op: 'replace', path: 'emails[type pr].type', value: 'other' });
    t.strictSame((both.emails as Json[]).map((e) => e.type), ['other', 'other'], 'every matched value');
    const gone = after({ op: 'replace', path: 'emails[type eq "home"]', value: null });
    t.equal((gone.emails as Json[]).length, 1, 'null unassigns the matched values');
    patchFails(t, 'noTarget', /No value of "emails" matches the filter in "emails\[type eq \\?"other\\?"\].value" \(RFC 7644 §3.5.2.3\)/, {
      op: 'replace',
      path: 'emails[type eq "other"].value',
      value: 'x',
    });
    patchFails(t, 'noTarget', /No value of "phoneNumbers" matches/, { op: 'replace', path: 'phoneNumbers[type eq "work"]', value: { value: '1' } });
  });

  t.test('a sub-attribute of every value, without filter', async (t) => {
    t.strictSame((after({ op: 'replace', path: 'emails.display', value: 'Babs' }).emails as Json[]).map((e) => e.display), ['Babs', 'Babs']);
    patchFails(t, 'noTarget', /"phoneNumbers" has no values to set "type" on/, { op: 'replace', path: 'phoneNumbers.type', value: 'work' });
    patchFails(t, 'invalidValue', /"emails" has 2 values with "primary": true/, { op: 'replace', path: 'emails.primary', value: true });
  });

  t.test('without path', async (t) => {
    const r = after({ op: 'replace', value: { nickName: 'B', name: { givenName: 'Babs' }, [`${ENT}:department`]: 'Sales' } });
    t.equal(r.nickName, 'B');
    t.strictSame(r.name, { familyName: 'Jensen', givenName: 'Babs' });
    t.equal((r[ENT] as Json).department, 'Sales');
  });
});

t.test('remove (RFC 7644 §3.5.2.2)', async (t) => {
  t.equal(after({ op: 'remove', path: 'nickName' }).nickName, undefined);
  t.equal(after({ op: 'remove', path: 'name' }).name, undefined);
  t.strictSame(after({ op: 'remove', path: 'name.givenName' }).name, { familyName: 'Jensen' });
  t.equal(after({ op: 'remove', path: 'name.givenName' }, { op: 'remove', path: 'name.familyName' }).name, undefined, 'an emptied complex attribute is unassigned');
  t.equal(after({ op: 'remove', path: 'emails' }).emails, undefined);
  t.strictSame(after({ op: 'remove', path: 'emails[type eq "work"]' }).emails, [{ value: 'babs@jensen.org', type: 'home' }]);
  t.equal(after({ op: 'remove', path: 'emails[type pr]' }).emails, undefined, 'no values left: unassigned');
  t.strictSame(after({ op: 'remove', path: 'emails[type eq "work"].primary' }).emails, [
    { value: 'bjensen@example.com', type: 'work' },
    { value: 'babs@jensen.org', type: 'home' },
  ]);
  t.strictSame(after({ op: 'remove', path: 'emails.type' }).emails, [{ value: 'bjensen@example.com', primary: true }, { value: 'babs@jensen.org' }]);
  t.strictSame(after({ op: 'remove', path: 'emails', value: [{ value: 'BJENSEN@example.com' }] }).emails, [{ value: 'babs@jensen.org', type: 'home' }], 'a value given with remove selects the values to drop');
  t.strictSame(after({ op: 'remove', path: `${ENT}:manager.value` })[ENT], { employeeNumber: '701984', department: 'Tour Operations', CostCentreCode: 'CC-7' });
  t.strictSame(after({ op: 'remove', path: `${ENT}:costcentrecode` })[ENT], { employeeNumber: '701984', department: 'Tour Operations', manager: { value: 'boss-id' } });

  t.test('removing what is not there changes nothing', async (t) => {
    for (const path of ['title', 'phoneNumbers', 'emails[type eq "other"]', 'phoneNumbers.type', `${ENT}:division`, 'name.middleName']) {
      t.strictSame(patch(stored(), { op: 'remove', path }).changed, [], path);
    }
  });

  t.test('the last extension attribute takes the extension out of schemas', async (t) => {
    const r = after(
      { op: 'remove', path: `${ENT}:employeeNumber` },
      { op: 'remove', path: `${ENT}:department` },
      { op: 'remove', path: `${ENT}:manager` },
      { op: 'remove', path: `${ENT}:CostCentreCode` },
    );
    t.same(r.schemas, [USER_SCHEMA]);
    t.notOk(ENT in r);
  });
});

t.test('mutability (RFC 7643 §2.2, RFC 7644 §3.5.2)', async (t) => {
  patchFails(t, 'mutability', /"userName" is required and cannot be removed/, { op: 'remove', path: 'userName' });
  patchFails(t, 'mutability', /"userName" is required/, { op: 'replace', path: 'userName', value: null });
  patchFails(t, 'mutability', /"userName" is required/, { op: 'replace', value: { userName: null } });
  patchFails(t, 'invalidValue', /"userName" is required/, { op: 'replace', path: 'userName', value: '' });
  patchFails(t, 'mutability', /"id" is readOnly/, { op: 'replace', path: 'id', value: 'x' });
  patchFails(t, 'mutability', /"meta.lastModified" is readOnly/, { op: 'replace', path: 'meta.lastModified', value: '2020-01-01T00:00:00Z' });
  patchFails(t, 'mutability', /"groups" is readOnly/, { op: 'add', path: 'groups', value: [{ value: 'g1' }] });
  patchFails(t, 'mutability', /"groups" is readOnly/, { op: 'remove', path: 'groups' });
  patchFails(t, 'mutability', /manager.displayName" is readOnly/, { op: 'replace', path: `${ENT}:manager.displayName`, value: 'Boss' });
  t.throws(
    () => applyPatch(GROUP, { schemas: [GROUP_SCHEMA], displayName: 'G' }, body({ op: 'remove', path: 'displayName' })),
    scimError('mutability', /"displayName" is required and cannot be removed/),
  );

  t.test('immutable attributes: add when unset, nothing else', async (t) => {
    const plain = findAttribute(userSchema.attributes, 'nickName')!;
    const attr = (name: string, more: Partial<AttributeDef>): AttributeDef => ({ ...plain, name, ...more });
    const schema: SchemaDef = {
      id: 'urn:example:params:scim:schemas:test:2.0:Widget',
      name: 'Widget',
      description: 'test only',
      attributes: [attr('label', { required: true }), attr('serial', { caseExact: true, mutability: 'immutable' })],
    };
    allSchemas.push(schema);
    t.teardown(() => void allSchemas.splice(allSchemas.indexOf(schema), 1));
    const WIDGET = { name: 'Widget', endpoint: '/Widgets', description: '', schema: schema.id, schemaExtensions: [] } as unknown as ResourceTypeDef;
    const unset = { schemas: [schema.id], label: 'w' };
    const set = applyPatch(WIDGET, unset, body({ op: 'add', path: 'serial', value: 'S1' }));
    t.equal(set.resource.serial, 'S1');
    for (const op of [
      { op: 'add', path: 'serial', value: 'S2' },
      { op: 'replace', path: 'serial', value: 'S2' },
      { op: 'remove', path: 'serial' },
    ]) {
      t.throws(() => applyPatch(WIDGET, set.resource, body(op)), scimError('mutability', /"serial" is immutable/), op.op);
    }
    t.throws(() => applyPatch(WIDGET, unset, body({ op: 'replace', path: 'serial', value: 'S1' })), scimError('mutability'), 'replace is not add');
  });
});

t.test('bad values are invalidValue, as for PUT', async (t) => {
  patchFails(t, 'invalidValue', /"active" must be a boolean, got string "False"/, { op: 'replace', path: 'active', value: 'False' });
  patchFails(t, 'invalidValue', /"name" must be an object/, { op: 'replace', path: 'name', value: 'Babs Jensen' });
  patchFails(t, 'invalidValue', /"name.givenName" must be a string/, { op: 'replace', path: 'name.givenName', value: ['Babs'] });
  patchFails(t, 'invalidValue', /"emails\[type eq \\?"work\\?"\].value" must be a string/, { op: 'replace', path: 'emails[type eq "work"].value', value: 1 });
  patchFails(t, 'invalidValue', /"profileUrl" must be an absolute URI/, { op: 'add', path: 'profileUrl', value: 'not a url' });
  patchFails(t, 'invalidValue', /"emails" has 2 values with "primary": true/, {
    op: 'add',
    path: 'emails',
    value: [
      { value: 'a@example.com', primary: true },
      { value: 'b@example.com', primary: true },
    ],
  });
  patchFails(t, 'invalidValue', /is a custom field and must be a string/, { op: 'add', path: `${ENT}:badge`, value: { n: 1 } });
  patchFails(t, 'invalidPath', /Invalid path "favouriteColour"/, { op: 'add', path: 'favouriteColour', value: 'green' });
  patchFails(t, 'invalidFilter', /./, { op: 'remove', path: 'emails[nope eq "x"]' });
});

t.test('all or nothing: a failing operation leaves the input untouched', async (t) => {
  const current = stored();
  t.throws(
    () =>
      patch(
        current,
        { op: 'replace', path: 'nickName', value: 'B' },
        { op: 'remove', path: 'emails' },
        { op: 'add', path: 'name.givenName', value: 'Babs' },
        { op: 'remove', path: 'userName' },
      ),
    scimError('mutability', /^Operations\[3\] \(remove "userName"\): "userName" is required/),
  );
  t.strictSame(current, stored());
  const r = patch(current, { op: 'replace', path: 'nickName', value: 'B' }, { op: 'remove', path: 'emails' });
  t.not(r.resource, current);
  t.strictSame(current, stored(), 'nor does a successful one');
});

t.test('operations apply in order', async (t) => {
  const r = after(
    { op: 'remove', path: 'emails' },
    { op: 'add', path: 'emails', value: [{ value: 'a@example.com', type: 'work' }] },
    { op: 'replace', path: 'emails[type eq "work"].value', value: 'b@example.com' },
  );
  t.strictSame(r.emails, [{ value: 'b@example.com', type: 'work' }]);
});

t.test('changed: canonical paths, [] when nothing changed', async (t) => {
  t.strictSame(patch(stored(), { op: 'replace', path: 'nickName', value: 'Babs' }).changed, []);
  t.strictSame(patch(stored(), { op: 'add', path: 'emails', value: [{ value: 'babs@jensen.org', type: 'home' }] }).changed, []);
  t.strictSame(patch(stored(), { op: 'replace', value: { displayName: 'Babs Jensen', [`${ENT}:department`]: 'Tour Operations' } }).changed, []);
  t.strictSame(
    patch(stored(), { op: 'replace', path: 'NAME.givenname', value: 'Babs' }, { op: 'replace', path: 'active', value: false }, { op: 'remove', path: `${ENT}:department` }).changed.sort(),
    ['active', 'name.givenName', `${ENT}:department`].sort(),
  );
});

t.test('password: returned, never stored, not a change', async (t) => {
  const r = patch(stored(), { op: 'replace', path: 'password', value: 't1meMa$heen' });
  t.equal(r.password, 't1meMa$heen');
  t.notOk('password' in r.resource);
  t.strictSame(r.changed, []);
  t.equal(patch(stored(), { op: 'replace', value: { password: 'p2', nickName: 'B' } }).password, 'p2');
  t.strictSame(patch(stored(), { op: 'remove', path: 'password' }).changed, []);
  patchFails(t, 'invalidValue', /"password" must be a string/, { op: 'replace', path: 'password', value: 1234 });
});

t.test('lenient mode: Entra ID quirks', async (t) => {
  const lenient = (...ops: unknown[]) => applyPatch(USER, stored(), body(...ops), { lenient: true });
  t.equal(lenient({ op: 'Replace', path: 'active', value: 'False' }).resource.active, false);
  t.equal(lenient({ op: 'Replace', value: { active: 'True' } }).changed.length, 0);
  patchFails(t, 'invalidValue', /manager" must be an object, got string "m2"/, { op: 'replace', path: `${ENT}:manager`, value: 'm2' });
  t.strictSame((lenient({ op: 'Replace', path: `${ENT}:manager`, value: 'm2' }).resource[ENT] as Json).manager, { value: 'm2' });
  t.strictSame(
    (lenient({ op: 'Add', path: 'phoneNumbers', value: [{ value: '555', type: '' }] }).resource.phoneNumbers as Json[]),
    [{ value: '555' }],
    'a blank type dropped',
  );
});

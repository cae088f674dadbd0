/**
 * Group membership through PATCH: `members` operations become a MemberDelta
 * for the database layer, never a JSON array.
 */
import t from 'tap';
import { applyPatch } from '../../src/scim/patch.js';
import { GROUP_SCHEMA, groupResourceType as GROUP, PATCH_OP_SCHEMA } from '../../src/scim/schema.js';

const scimError = (scimType: string, message: RegExp = /./) => ({ name: 'ScimError', status: 400, scimType, message });
const group = () => ({ schemas: [GROUP_SCHEMA], displayName: 'Tour Guides', externalId: 'g-ext' });
const body = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });
const patch = (...ops: unknown[]) => applyPatch(GROUP, group(), body(...ops));
const delta = (...ops: unknown[]) => patch(...ops).members;

const add = (...ids: string[]) => ({ op: 'add', path: 'members', value: ids.map((value) => ({ value })) });
const remove = (...ids: string[]) => ({ op: 'remove', path: `members[${ids.map((id) => `value eq "${id}"`).join(' or ')}]` });
const replace = (...ids: string[]) => ({ op: 'replace', path: 'members', value: ids.map((value) => ({ value })) });
const removeAll = { op: 'remove', path: 'members' };

t.test('single operations', async (t) => {
  t.strictSame(delta(add('a', 'b')), { add: [{ value: 'a' }, { value: 'b' }], remove: [] });
  t.strictSame(delta(remove('a')), { add: [], remove: ['a'] });
  t.strictSame(delta(remove('a', 'b', 'c')), { add: [], remove: ['a', 'b', 'c'] }, 'value eq … or value eq …');
  t.strictSame(delta(replace('a')), { add: [], remove: [], removeAll: true, replaceWith: [{ value: 'a' }] });
  t.strictSame(delta(replace()), { add: [], remove: [], removeAll: true, replaceWith: [] });
  t.strictSame(delta({ op: 'replace', path: 'members', value: null }), { add: [], remove: [], removeAll: true, replaceWith: [] });
  t.strictSame(delta(removeAll), { add: [], remove: [], removeAll: true, replaceWith: [] });
  t.strictSame(delta(add('a', 'a')), { add: [{ value: 'a' }], remove: [] }, 'deduplicated');
  t.strictSame(delta({ op: 'add', path: 'members', value: [{ value: 'u', type: 'User' }, { value: 'g', $ref: '/Groups/g' }] }), {
    add: [{ value: 'u', type: 'User' }, { value: 'g', type: 'Group' }],
    remove: [],
  });
  t.strictSame(delta({ op: 'remove', path: 'members', value: [{ value: 'a' }, { value: 'b' }] }), { add: [], remove: ['a', 'b'] }, 'remove with a value');
  t.strictSame(delta({ op: 'REMOVE', path: 'MEMBERS[VALUE EQ "a"]' }), { add: [], remove: ['a'] }, 'names are case-insensitive');
  t.equal(patch({ op: 'replace', path: 'displayName', value: 'Guides' }).members, undefined, 'no member operation: no delta');
});

t.test('several operations fold in order into one delta', async (t) => {
  t.strictSame(delta(add('a'), remove('a')), { add: [], remove: ['a'] }, 'add then remove: removed');
  t.strictSame(delta(remove('a'), add('a')), { add: [{ value: 'a' }], remove: [] }, 'remove then add: added');
  t.strictSame(delta(add('a'), add('b'), remove('c')), { add: [{ value: 'a' }, { value: 'b' }], remove: ['c'] });
  t.strictSame(delta(replace('a', 'b'), add('c'), remove('a')), { add: [], remove: [], removeAll: true, replaceWith: [{ value: 'b' }, { value: 'c' }] }, 'replace, then edits of the new list');
  t.strictSame(delta(add('x'), remove('y'), replace('a')), { add: [], remove: [], removeAll: true, replaceWith: [{ value: 'a' }] }, 'a replace discards what came before');
  t.strictSame(delta(removeAll, add('a')), { add: [], remove: [], removeAll: true, replaceWith: [{ value: 'a' }] });
  t.strictSame(delta(add('a'), removeAll), { add: [], remove: [], removeAll: true, replaceWith: [] });
  t.strictSame(delta(replace('a'), removeAll, add('b')), { add: [], remove: [], removeAll: true, replaceWith: [{ value: 'b' }] });
});

t.test('members next to other attributes', async (t) => {
  const r = patch({ op: 'replace', value: { displayName: 'Guides', members: [{ value: 'a' }] } }, add('b'));
  t.strictSame(r.resource, { schemas: [GROUP_SCHEMA], externalId: 'g-ext', displayName: 'Guides' }, 'never in the JSON');
  t.strictSame(r.changed, ['displayName'], 'changed covers the JSON attributes only');
  t.strictSame(r.members, { add: [], remove: [], removeAll: true, replaceWith: [{ value: 'a' }, { value: 'b' }] });
  t.strictSame(patch({ op: 'add', value: { members: [{ value: 'a' }] } }).members, { add: [{ value: 'a' }], remove: [] }, 'add without path');
});

t.test('member filters are limited to ids', async (t) => {
  for (const path of [
    'members[type eq "User"]',
    'members[value ne "a"]',
    'members[value sw "a"]',
    'members[value eq "a" and type eq "User"]',
    'members[value eq "a" or type eq "User"]',
    'members[not (value eq "a")]',
    'members[value pr]',
    'members[display eq "Babs"]',
  ]) {
    t.throws(() => patch({ op: 'remove', path }), scimError('invalidFilter', /members can be selected only by id, as value eq "<id>" comparisons joined by "or"/), path);
  }
  t.throws(() => patch({ op: 'remove', path: 'members[value eq 42]' }), scimError('invalidFilter'), 'a non-string id');
});

t.test('what cannot be done to members', async (t) => {
  t.throws(() => patch({ op: 'replace', path: 'members[value eq "a"]', value: { value: 'b' } }), scimError('invalidPath', /a filtered members path is supported by "remove" only/));
  t.throws(() => patch({ op: 'add', path: 'members[value eq "a"]', value: { value: 'a' } }), scimError('invalidPath', /supported by "remove" only/));
  t.throws(() => patch({ op: 'replace', path: 'members.value', value: 'a' }), scimError('invalidPath', /a member's sub-attributes cannot be patched/));
  t.throws(() => patch({ op: 'remove', path: 'members[value eq "a"].display' }), scimError('invalidPath', /sub-attributes cannot be patched/));
  t.throws(() => patch({ op: 'add', path: 'members', value: [{ display: 'Babs' }] }), scimError('invalidValue', /"members\[0\].value" \(the member's id\) is required/));
  t.throws(() => patch({ op: 'add', path: 'members', value: [{ value: 'd', type: 'Device' }] }), scimError('invalidValue', /"members\[0\].type" must be "User" or "Group"/));
  t.throws(() => patch({ op: 'add', path: 'members', value: { value: 'a' } }), scimError('invalidValue', /"members" is multi-valued and must be an array/));
  // No identity provider sends a lone member or id where RFC 7643 §2.4 wants an array: 400 in every mode.
  for (const value of [{ value: 'a' }, 'a']) {
    t.throws(
      () => applyPatch(GROUP, group(), body({ op: 'add', path: 'members', value }), { lenient: true }),
      scimError('invalidValue', /"members" is multi-valued and must be an array/),
      `lenient: ${JSON.stringify(value)}`,
    );
  }
  t.throws(
    () => applyPatch(GROUP, group(), body({ op: 'add', path: 'members', value: ['a'] }), { lenient: true }),
    scimError('invalidValue', /"members\[0\]" must be an object, got string "a"/),
    'lenient: an array of bare ids',
  );
});

t.test('a failing operation fails the whole request, members included', async (t) => {
  const current = group();
  t.throws(() => applyPatch(GROUP, current, body(add('a'), { op: 'remove', path: 'displayName' })), scimError('mutability', /^Operations\[1\]/));
  t.strictSame(current, group());
});

t.test('real requests', async (t) => {
  // Microsoft's "Azure Active Directory SCIM guidelines": Update Group [Add Members], [Remove Members].
  t.test('Entra ID add and remove members ($ref: null)', async (t) => {
    const addBody = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'f648f8d5ea4e4cd38e9c' }] }],
    };
    const removeBody = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: 'f648f8d5ea4e4cd38e9c' }] }],
    };
    for (const lenient of [false, true]) {
      t.strictSame(applyPatch(GROUP, group(), addBody, { lenient }).members, { add: [{ value: 'f648f8d5ea4e4cd38e9c' }], remove: [] });
      t.strictSame(applyPatch(GROUP, group(), removeBody, { lenient }).members, { add: [], remove: ['f648f8d5ea4e4cd38e9c'] });
    }
  });

  // Microsoft's "Known issues ... SCIM 2.0 protocol compliance": requests made to remove a group member, without and with aadOptscim062020.
  t.test('Entra ID remove a member, both behaviours', async (t) => {
    const legacy = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: 'u1091' }] }],
    };
    const compliant = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'remove', path: 'members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]' }],
    };
    t.strictSame(applyPatch(GROUP, group(), legacy).members, { add: [], remove: ['u1091'] });
    t.strictSame(applyPatch(GROUP, group(), compliant).members, { add: [], remove: ['7f4bc1a3-285e-48ae-8202-5accb43efb0e'] });
  });

  t.test('Entra ID rename', async (t) => {
    const r = applyPatch(GROUP, group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'displayName', value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName' }],
    });
    t.equal(r.resource.displayName, '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName');
    t.strictSame(r.changed, ['displayName']);
  });

  // Okta's "SCIM 2.0 protocol reference": Update a specific Group name, Update specific Group membership.
  t.test('Okta rename, with the group id in the value', async (t) => {
    const r = applyPatch(GROUP, group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { id: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b', displayName: 'Test SCIMv2' } }],
    });
    t.strictSame(r.resource, { schemas: [GROUP_SCHEMA], externalId: 'g-ext', displayName: 'Test SCIMv2' }, 'the readOnly id is ignored');
    t.strictSame(r.changed, ['displayName']);
    t.equal(r.members, undefined);
  });

  t.test('Okta membership update and full push', async (t) => {
    const update = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'remove', path: 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]' },
        { op: 'add', path: 'members', value: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173', display: 'test.user@okta.local' }] },
      ],
    };
    t.strictSame(applyPatch(GROUP, group(), update).members, {
      add: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173' }],
      remove: ['89bb1940-b905-4575-9e7f-6f887cfb368e'],
    });
    const push = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        {
          op: 'replace',
          path: 'members',
          value: [
            { value: '23a35c27-23d3-4c03-b4c5-6443c09e7173', display: 'test.user@okta.local' },
            { value: '89bb1940-b905-4575-9e7f-6f887cfb368e', display: 'test.user@okta.local' },
          ],
        },
      ],
    };
    t.strictSame(applyPatch(GROUP, group(), push).members, {
      add: [],
      remove: [],
      removeAll: true,
      replaceWith: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173' }, { value: '89bb1940-b905-4575-9e7f-6f887cfb368e' }],
    });
  });
});

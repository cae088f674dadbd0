/**
 * RFC 7644's own PATCH examples (§3.5.2.1–§3.5.2.3), read from
 * test/fixtures/rfc/, applied to a Group and to a User.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { applyPatch } from '../../src/scim/patch.js';
import { GROUP_SCHEMA, groupResourceType as GROUP, USER_SCHEMA, userResourceType as USER } from '../../src/scim/schema.js';

type Json = Record<string, unknown>;

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/rfc/${name}.json`, import.meta.url), 'utf8'));
const group = (): Json => ({ schemas: [GROUP_SCHEMA], displayName: 'Tour Guides' });
const user = (extra: Json = {}): Json => ({ schemas: [USER_SCHEMA], userName: 'bjensen', ...extra });

const BABS = { value: '2819c223-7f76-453a-919d-413861904646', type: 'User' };
const JAMES = { value: '08e1d05d-121c-4561-8b96-473d93df9210', type: 'User' };

t.test('§3.5.2.1 add a member to a group', async (t) => {
  const r = applyPatch(GROUP, group(), fixture('7644-3.5.2.1-add-member'));
  t.strictSame(r.members, { add: [BABS], remove: [] }, 'the member type comes from $ref');
  t.strictSame(r.resource, group(), 'members are not stored in the JSON');
  t.strictSame(r.changed, []);
});

t.test('§3.5.2.1 add attributes without a path', async (t) => {
  const current = user({ emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }] });
  const r = applyPatch(USER, current, fixture('7644-3.5.2.1-add-without-path'));
  t.strictSame(r.resource.emails, [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ], '"an additional value is added to the multi-valued attribute emails"');
  t.equal(r.resource.nickName, 'Babs', '"nickname" is nickName (names are case-insensitive)');
  t.strictSame(r.changed.sort(), ['emails', 'nickName']);
  const again = applyPatch(USER, r.resource, fixture('7644-3.5.2.1-add-without-path'));
  t.strictSame(again.changed, [], 'applied twice: the second time changes nothing');
  t.equal(applyPatch(USER, user({ nickName: 'Barbara' }), fixture('7644-3.5.2.1-add-without-path')).resource.nickName, 'Babs', 'an existing nickName is replaced');
});

t.test('§3.5.2.2 remove a single member from a group', async (t) => {
  const r = applyPatch(GROUP, group(), fixture('7644-3.5.2.2-remove-member'));
  t.strictSame(r.members, { add: [], remove: ['2819c223-7f76-...413861904646'] });
});

t.test('§3.5.2.2 remove all members of a group', async (t) => {
  const r = applyPatch(GROUP, group(), fixture('7644-3.5.2.2-remove-all-members'));
  t.strictSame(r.members, { add: [], remove: [], removeAll: true, replaceWith: [] });
});

t.test('§3.5.2.2 remove a value from a complex multi-valued attribute', async (t) => {
  const current = user({
    emails: [
      { value: 'babs@example.com', type: 'work' },
      { value: 'babs@example.org', type: 'work' },
      { value: 'babs@example.com', type: 'home' },
    ],
  });
  const r = applyPatch(USER, current, fixture('7644-3.5.2.2-remove-email-by-filter'));
  t.strictSame(r.resource.emails, [
    { value: 'babs@example.org', type: 'work' },
    { value: 'babs@example.com', type: 'home' },
  ]);
  t.strictSame(r.changed, ['emails']);
});

t.test('§3.5.2.2 remove and add a member', async (t) => {
  const r = applyPatch(GROUP, group(), fixture('7644-3.5.2.2-remove-and-add-member'));
  t.strictSame(r.members, {
    add: [{ value: '08e1d05d...473d93df9210', type: 'User' }],
    remove: ['2819c223...919d-413861904646'],
  }, 'the filter is read although the RFC writes eq\\"…\\" without a space');
});

t.test('§3.5.2.2 replace all members with remove, then add', async (t) => {
  const r = applyPatch(GROUP, group(), fixture('7644-3.5.2.2-remove-all-then-add-members'));
  t.strictSame(r.members, { add: [], remove: [], removeAll: true, replaceWith: [BABS, JAMES] });
});

t.test('§3.5.2.3 replace all members in one operation', async (t) => {
  const r = applyPatch(GROUP, group(), fixture('7644-3.5.2.3-replace-members'));
  t.strictSame(r.members, {
    add: [],
    remove: [],
    removeAll: true,
    replaceWith: [
      { value: '2819c223...413861904646', type: 'User' },
      { value: '08e1d05d...473d93df9210', type: 'User' },
    ],
  });
});

const addresses = () => [
  { streetAddress: '100 Universal City Plaza', locality: 'Hollywood', region: 'CA', postalCode: '91608', country: 'US', type: 'work' },
  { streetAddress: '456 Hollywood Blvd', locality: 'Hollywood', region: 'CA', postalCode: '91608', country: 'US', type: 'home', primary: true },
];

t.test('§3.5.2.3 replace the work address', async (t) => {
  const r = applyPatch(USER, user({ addresses: addresses() }), fixture('7644-3.5.2.3-replace-work-address'));
  t.strictSame(r.resource.addresses, [
    {
      formatted: '911 Universal City Plaza\nHollywood, CA 91608 US',
      streetAddress: '911 Universal City Plaza',
      locality: 'Hollywood',
      region: 'CA',
      postalCode: '91608',
      country: 'US',
      type: 'work',
      primary: true,
    },
    { ...addresses()[1], primary: false },
  ], '"the service provider will reset primary to false for any other existing values"');
  t.throws(
    () => applyPatch(USER, user({ addresses: [addresses()[1]] }), fixture('7644-3.5.2.3-replace-work-address')),
    { name: 'ScimError', status: 400, scimType: 'noTarget', message: /No value of "addresses" matches/ },
    'no work address: noTarget',
  );
});

t.test('§3.5.2.3 replace the streetAddress of the work address', async (t) => {
  const r = applyPatch(USER, user({ addresses: addresses() }), fixture('7644-3.5.2.3-replace-street-address'));
  t.strictSame(r.resource.addresses, [{ ...addresses()[0], streetAddress: '1010 Broadway Ave' }, addresses()[1]]);
  t.strictSame(r.changed, ['addresses']);
});

t.test('§3.5.2.3 replace attributes without a path', async (t) => {
  const current = user({ title: 'Tour Guide', emails: [{ value: 'old@example.com', type: 'work', primary: true }] });
  const r = applyPatch(USER, current, fixture('7644-3.5.2.3-replace-without-path'));
  t.strictSame(r.resource, {
    schemas: [USER_SCHEMA],
    userName: 'bjensen',
    nickName: 'Babs',
    title: 'Tour Guide',
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ],
  }, '"other attributes are unaffected"');
});

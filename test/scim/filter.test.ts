import t from 'tap';
import { resolveAttrPath } from '../../src/scim/attributes.js';
import {
  dateTimeMicros,
  matches,
  MAX_FILTER_LENGTH,
  normalizeDateTime,
  parseFilter,
  parseValueFilter,
  type ValidatedFilter,
} from '../../src/scim/filter.js';
import { ENTERPRISE_USER_SCHEMA as ENT, groupResourceType, userResourceType } from '../../src/scim/schema.js';

const U = userResourceType;

/** Compact text of a validated filter, to compare shapes. */
function show(f: ValidatedFilter): string {
  switch (f.kind) {
    case 'compare':
      return `${f.attr.path} ${f.op} ${JSON.stringify(f.value)}`;
    case 'present':
      return `${f.attr.path} pr`;
    case 'not':
      return `not(${show(f.filter)})`;
    case 'valuePath':
      return `${f.attr.path}[${show(f.filter)}]`;
    default:
      return `(${f.filters.map(show).join(` ${f.kind} `)})`;
  }
}

const parsed = (text: string, rt = U) => show(parseFilter(text, rt));

t.test('every operator', async (t) => {
  for (const op of ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']) {
    t.equal(parsed(`userName ${op} "x"`), `userName ${op} "x"`);
    t.equal(parsed(`userName ${op.toUpperCase()} "x"`), `userName ${op} "x"`, 'operators are case-insensitive');
  }
  t.equal(parsed('title pr'), 'title pr');
  t.equal(parsed('TITLE PR'), 'title pr', 'attribute names are case-insensitive and canonicalized');
});

t.test('logical operators, precedence and grouping (§3.4.2.2)', async (t) => {
  t.equal(parsed('title pr and userType eq "Employee"'), '(title pr and userType eq "Employee")');
  t.equal(parsed('title pr or userType eq "Intern"'), '(title pr or userType eq "Intern")');
  t.equal(parsed('title pr or nickName pr and locale pr'), '(title pr or (nickName pr and locale pr))', 'and binds tighter');
  t.equal(parsed('(title pr or nickName pr) and locale pr'), '((title pr or nickName pr) and locale pr)');
  t.equal(parsed('not (title pr) and locale pr'), '(not(title pr) and locale pr)');
  t.equal(
    parsed('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'),
    '(userType ne "Employee" and not((emails[emails.value co "example.com"] or emails[emails.value co "example.org"])))',
  );
});

t.test('value paths', async (t) => {
  t.equal(
    parsed('emails[type eq "work" and value co "@example.com"]'),
    'emails[(emails.type eq "work" and emails.value co "@example.com")]',
  );
  t.equal(parsed('emails.value eq "x"'), 'emails[emails.value eq "x"]', 'a sub-attribute of a multi-valued attribute is a value path');
  t.equal(parsed('emails co "example.com"'), 'emails[emails.value co "example.com"]', 'a complex attribute stands for its value');
  t.equal(parsed('emails.type pr'), 'emails[emails.type pr]');
  t.equal(parsed('emails pr'), 'emails pr');
  t.test('attr[filter].sub is one element satisfying both', async (t) => {
    t.equal(parsed('emails[type eq "work"].value eq "x"'), 'emails[(emails.type eq "work" and emails.value eq "x")]');
    t.equal(
      parsed('emails[type eq "work" or type eq "home"].value eq "x" and active eq true'),
      '(emails[((emails.type eq "work" or emails.type eq "home") and emails.value eq "x")] and active eq true)',
    );
    t.equal(parsed('emails[type eq "work"].value pr or title pr'), '(emails[(emails.type eq "work" and emails.value pr)] or title pr)');
  });
  t.equal(parsed(`members[value eq "abc"]`, groupResourceType), 'members[members.value eq "abc"]');
  t.equal(parsed('members.value eq "abc"', groupResourceType), 'members[members.value eq "abc"]');
  t.equal(parsed('groups.value eq "abc"'), 'groups[groups.value eq "abc"]');
  const f = parseFilter('emails[type eq "work"]', U);
  t.equal(f.kind === 'valuePath' && f.attr.sub, undefined, 'the value path names the attribute, without sub-attribute');
});

t.test('extension attributes, custom fields, common attributes', async (t) => {
  t.equal(parsed(`${ENT}:costCenter eq "4130"`), `${ENT}:costCenter eq "4130"`);
  t.equal(parsed(`${ENT}:customfield eq "x"`), `${ENT}:customfield eq "x"`);
  const custom = parseFilter(`${ENT}:customfield eq "x"`, U);
  t.ok(custom.kind === 'compare' && custom.attr.custom && custom.attr.extension);
  t.equal(parsed(`${ENT}:manager eq "m"`), `${ENT}:manager.value eq "m"`);
  t.equal(parsed('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"'), 'userName sw "J"');
  t.equal(parsed('schemas eq "urn:x"'), 'schemas eq "urn:x"');
  t.equal(parsed('id eq "x" or externalId eq "y" or meta.resourceType eq "User"'), '(id eq "x" or externalId eq "y" or meta.resourceType eq "User")');
});

t.test('null, booleans, numbers and JSON strings', async (t) => {
  t.equal(parsed('title eq null'), 'not(title pr)');
  t.equal(parsed('title ne null'), 'title pr');
  t.equal(parsed('emails eq null'), 'not(emails[emails.value pr])');
  t.equal(parsed('active eq true'), 'active eq true');
  t.equal(parsed('active ne false'), 'active ne false');
  t.equal(parsed('userName eq "a\\\\b"'), 'userName eq "a\\\\b"', 'JSON escapes are decoded (a\\b)');
  t.equal((parseFilter('userName eq "a\\\\b"', U) as { value: string }).value, 'a\\b');
  t.equal((parseFilter('userName eq "\\u00e9t\\u00e9"', U) as { value: string }).value, 'été');
  t.equal((parseFilter('userName eq "a\\\\"', U) as { value: string }).value, 'a\\');
  t.equal((parseFilter('userName eq "say \\"hi\\" (or [not])"', U) as { value: string }).value, 'say "hi" (or [not])');
});

t.test("Microsoft's SCIM test collection for Entra ID (shared/conformance) — real request filters", async (t) => {
  // Query strings exactly as the collection sends them.
  const fixtures: [string, string][] = [
    ['filter=DisplayName+eq+%22BobIsAmazing%22', 'displayName eq "BobIsAmazing"'],
    ['filter=userName sw O', 'userName sw "O"'],
    [
      'filter=name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)',
      '(name.familyName eq "Employee" and (emails[emails.value co "example.com"] or emails[emails.value co "example.org"]))',
    ],
    ['filter=meta.Created gt 2015-10-10T14:38:21.8617979-07:00', 'meta.created gt "2015-10-10T14:38:21.8617979-07:00"'],
  ];
  for (const [query, expected] of fixtures) {
    t.equal(parsed(new URLSearchParams(query).get('filter')!), expected, query);
  }
  t.equal(parsed('active eq True'), 'active eq true', 'bare true/false/null in any case');
  t.throws(() => parseFilter(`${ENT}:employeeNumber eq 12`, U), { status: 400, scimType: 'invalidFilter', message: /needs a string/ }, 'bare numbers stay numbers');
});

t.test('invalid filters are 400 invalidFilter naming the problem', async (t) => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['foo eq "x"', /Unknown attribute "foo"/],
    ['name.nope eq "x"', /Unknown attribute "name.nope"/],
    [`${ENT}:manager.nope eq "x"`, /Unknown attribute/],
    ['emails[nope eq "x"]', /Unknown sub-attribute "nope" of "emails"/],
    ['userName xx "b"', /xx/],
    ['userName eq', /Invalid filter/],
    ['userName "x"', /Invalid filter/],
    ['userName eq "x" userName eq "y"', /unexpected "userName"/],
    ['userName eq "x" and', /Invalid filter/],
    ['(userName eq "x"', /missing "\)"/],
    ['userName eq "x")', /unexpected "\)"/],
    ['emails[type eq "work"', /missing "\]"/],
    ['emails[type eq "work")', /unexpected "\)"/],
    ['userName eq "x', /unterminated or badly escaped string at position 13/],
    ['userName eq "\\x"', /badly escaped/],
    ['userName eq x y', /Invalid filter/],
    ['active co "x"', /operator "co" does not apply to boolean attribute "active"/],
    ['active gt true', /operator "gt" does not apply to boolean/],
    ['active eq "true"', /"active" is boolean and needs true or false/],
    ['active eq 1', /needs true or false/],
    ['userName eq 5', /"userName" is string and needs a string/],
    ['userName eq true', /needs a string/],
    ['x509Certificates.value gt "a"', /does not apply to binary/],
    ['name eq "x"', /"name" is complex; compare one of its sub-attributes/],
    ['meta gt "x"', /"meta" is complex/],
    ['userName gt null', /null can only be compared with eq or ne/],
    ['meta.created gt "yesterday"', /needs an ISO 8601 date and time/],
    ['meta.created gt "2011-13-01T00:00:00Z"', /ISO 8601/],
    ['meta.created gt "2023-02-29T00:00:00Z"', /ISO 8601/],
    ['meta.created gt "2011-05-13T24:00:00Z"', /ISO 8601/],
    ['meta.created gt "2011-05-13"', /ISO 8601/],
    ['meta.created gt "2011-05-13T04:42:34+15:00"', /ISO 8601/],
    ['meta.created co "2011"', /operator "co" does not apply to dateTime/],
    ['meta.created gt 20110513', /ISO 8601/],
    ['name[givenName eq "x"]', /"name" is not a multi-valued complex attribute/],
    ['schemas[value eq "x"]', /not a multi-valued complex attribute/],
    ['emails[type eq "x" and phoneNumbers[type eq "y"]]', /cannot be nested/],
    ['emails[value.x eq "y"]', /Unknown sub-attribute "value.x"/],
    ['members.value eq "x"', /Unknown attribute "members.value"/],
  ];
  for (const [text, detail] of cases) {
    t.throws(() => parseFilter(text, U), { name: 'ScimError', status: 400, scimType: 'invalidFilter', message: detail }, text);
  }
  t.throws(() => parseFilter('groups.value eq "x"', groupResourceType), { status: 400, scimType: 'invalidFilter', message: /Unknown attribute "groups.value" for resource type Group/ }, 'groups on Group');
});

t.test('size limits', async (t) => {
  const long = `userName eq "${'x'.repeat(MAX_FILTER_LENGTH)}"`;
  t.throws(() => parseFilter(long, U), { status: 400, scimType: 'invalidFilter', message: /longer than 4096 characters/ });
  const many = Array.from({ length: 250 }, () => 'title pr').join(' or ');
  t.ok(many.length < MAX_FILTER_LENGTH);
  t.throws(() => parseFilter(many, U), { status: 400, scimType: 'invalidFilter', message: /more than 200 expressions/ });
  const deep = `${'not ('.repeat(300)}title pr${')'.repeat(300)}`;
  t.throws(() => parseFilter(deep, U), { status: 400, scimType: 'invalidFilter', message: /more than 200/ });
  const fifty = Array.from({ length: 50 }, (_, i) => `id eq "u${i}"`).join(' or ');
  t.equal((parseFilter(fifty, U) as { filters: unknown[] }).filters.length, 50, 'a batch of 50 ids is fine');
});

t.test('dateTime values', async (t) => {
  t.equal(normalizeDateTime('2011-05-13T04:42:34Z'), '2011-05-13T04:42:34Z');
  t.equal(normalizeDateTime('2011-05-13T04:42:34'), '2011-05-13T04:42:34Z', 'no zone: UTC');
  t.equal(normalizeDateTime('2011-05-13T04:42:34.5+02:00'), '2011-05-13T04:42:34.5+02:00');
  t.equal(normalizeDateTime('2024-02-29T00:00:00Z'), '2024-02-29T00:00:00Z');
  t.equal(normalizeDateTime('2100-02-29T00:00:00Z'), undefined);
  t.equal(normalizeDateTime('0000-01-01T00:00:00Z'), undefined);
  t.equal(dateTimeMicros('1970-01-01T00:00:00Z'), 0);
  t.equal(dateTimeMicros('1970-01-01T01:00:00.000001+01:00'), 1);
  t.equal(dateTimeMicros('2015-10-10T14:38:21.8617979-07:00'), Date.parse('2015-10-10T21:38:21.861Z') * 1000 + 798, 'rounded to microseconds');
  t.equal(new Date(dateTimeMicros('0099-12-31T23:59:59Z')! / 1000).getUTCFullYear(), 99, 'two-digit years are not 19xx');
});

t.test('matches() on resources', async (t) => {
  const bjensen = {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENT],
    id: '2819c223-7f76-453a-919d-413861904646',
    userName: 'bjensen',
    name: { familyName: 'Jensen', givenName: 'Barbara' },
    active: true,
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ],
    [ENT]: { costCenter: '4130', Custom: 'X' },
    meta: { resourceType: 'User', created: '2010-01-23T04:56:22Z', lastModified: '2011-05-13T04:42:34Z' },
  };
  const yes = (text: string) => t.ok(matches(parseFilter(text, U), bjensen), text);
  const no = (text: string) => t.notOk(matches(parseFilter(text, U), bjensen), text);
  yes('userName eq "BJensen"');
  yes('name.familyName sw "jen"');
  yes('emails[type eq "work" and value ew "EXAMPLE.COM"]');
  no('emails[type eq "home" and value ew "example.com"]');
  no('emails[type eq "home"].value eq "bjensen@example.com"');
  yes('emails.value ne "bjensen@example.com"');
  no('emails[value ne "bjensen@example.com" and value ne "babs@jensen.org"]');
  yes(`${ENT}:costCenter eq "4130"`);
  yes(`${ENT}:custom eq "x"`);
  no(`${ENT}:department pr`);
  yes('nickName ne "x"');
  no('nickName eq "x"');
  yes('meta.lastModified gt "2011-05-13T04:42:33.999999Z"');
  no('meta.lastModified gt "2011-05-13T04:42:33.9999999Z"'); // rounded to microseconds, as timestamptz does
  no('meta.lastModified gt "2011-05-13T06:42:34+02:00"');
  yes('meta.lastModified ge "2011-05-13T06:42:34+02:00"');
  yes('schemas eq "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"');
  yes('userName gt "bjensem" and userName lt "bjensen\u{1F600}"');
  t.ok(matches(parseFilter('userName gt "\uFFFD"', U), { userName: '\u{1F600}' }), 'code point order, not UTF-16 order');
});

t.test('parseValueFilter and matches() on one element', async (t) => {
  const emails = resolveAttrPath(U, 'emails');
  const work = parseValueFilter('type eq "work"', emails);
  t.equal(show(work), 'emails.type eq "work"');
  t.ok(matches(work, { value: 'a@x', type: 'work' }));
  t.notOk(matches(work, { value: 'a@x', type: 'home' }));
  t.notOk(matches(work, { value: 'a@x' }));
  // Microsoft's collection sends mixed-case keys such as "Primary" and values such as "Work".
  t.ok(matches(work, { Value: 'a@x', Type: 'Work' }), 'attribute names and caseExact=false values ignore case');
  const primaryWork = parseValueFilter('type eq "work" and primary eq true', emails);
  t.ok(matches(primaryWork, { type: 'work', Primary: true }));
  t.notOk(matches(primaryWork, { type: 'work', primary: false }));
  t.ok(matches(parseValueFilter('not (display pr)', emails), { value: 'x', display: '' }));
  const members = resolveAttrPath(groupResourceType, 'members');
  t.ok(matches(parseValueFilter('value eq "ABC"', members), { value: 'abc' }));
  t.equal(show(parseValueFilter('value eq null', members)), 'not(members.value pr)');
  t.throws(() => parseValueFilter('value eq "x"', resolveAttrPath(U, 'name')), { status: 400, scimType: 'invalidFilter', message: /not a multi-valued complex/ });
  t.throws(() => parseValueFilter('value eq "x"', resolveAttrPath(U, 'emails.value')), { status: 400, scimType: 'invalidFilter', message: /not a multi-valued complex/ });
  t.throws(() => parseValueFilter('nope eq "x"', emails), { status: 400, scimType: 'invalidFilter', message: /Unknown sub-attribute "nope"/ });
  t.throws(() => parseValueFilter('phoneNumbers[type eq "x"]', emails), { status: 400, scimType: 'invalidFilter', message: /nested/ });
});

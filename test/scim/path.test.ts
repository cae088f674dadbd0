import t from 'tap';
import { parsePatchPath } from '../../src/scim/path.js';
import { ENTERPRISE_USER_SCHEMA as ENT, groupResourceType as GROUP, userResourceType as USER } from '../../src/scim/schema.js';

const scimError = (scimType: string, message: RegExp = /./) => ({ name: 'ScimError', status: 400, scimType, message });

/** The parts of a parsed path a test cares about. */
function shape(rt = USER, text: string) {
  const p = parsePatchPath(rt, text);
  return { path: p.attr.path, attribute: p.attr.attribute.name, sub: p.attr.sub?.name, extension: p.attr.extension, custom: p.attr.custom, filter: p.filter?.kind };
}

t.test('attribute paths', async (t) => {
  t.match(shape(USER, 'emails'), { path: 'emails', attribute: 'emails', sub: undefined, filter: undefined });
  t.match(shape(USER, 'name.givenName'), { path: 'name.givenName', attribute: 'name', sub: 'givenName' });
  t.match(shape(USER, 'NAME.GIVENNAME'), { path: 'name.givenName' }, 'names are case-insensitive (RFC 7643 §2.1)');
  t.match(shape(USER, 'urn:ietf:params:scim:schemas:core:2.0:User:userName'), { path: 'userName', extension: false });
  t.match(shape(USER, 'externalId'), { path: 'externalId' });
  t.match(shape(USER, ` ${'active'} `), { path: 'active' }, 'surrounding blanks are ignored');
});

t.test('extension paths', async (t) => {
  t.match(shape(USER, `${ENT}:department`), { path: `${ENT}:department`, attribute: 'department', extension: true, custom: false });
  t.match(shape(USER, `${ENT}:manager.value`), { path: `${ENT}:manager.value`, attribute: 'manager', sub: 'value' });
  t.match(shape(USER, `${ENT}:customfield`), { path: `${ENT}:customfield`, attribute: 'customfield', custom: true });
  t.match(shape(USER, `${ENT.toLowerCase()}:Department`), { path: `${ENT}:department` }, 'the URN is case-insensitive too');
});

t.test('lenient: an extension attribute by its bare name (Entra ID)', async (t) => {
  const lenient = { lenient: true };
  t.equal(parsePatchPath(USER, 'manager', lenient).attr.path, `${ENT}:manager`);
  t.equal(parsePatchPath(USER, 'Manager.value', lenient).attr.path, `${ENT}:manager.value`);
  t.equal(parsePatchPath(USER, 'userName', lenient).attr.path, 'userName', 'core attributes first');
  t.throws(() => parsePatchPath(USER, 'manager'), scimError('invalidPath', /no such attribute on User/), 'strict');
  t.throws(() => parsePatchPath(USER, 'costCentreCode', lenient), scimError('invalidPath'), 'not a custom field');
  t.throws(() => parsePatchPath(GROUP, 'manager', lenient), scimError('invalidPath'), 'not on a resource type without the extension');
});

t.test('value paths (RFC 7644 §3.5.2 valuePath [subAttr])', async (t) => {
  const work = parsePatchPath(USER, 'emails[type eq "work"].value');
  t.match(shape(USER, 'emails[type eq "work"].value'), { path: 'emails.value', attribute: 'emails', sub: 'value', filter: 'compare' });
  t.match(work.filter, { kind: 'compare', op: 'eq', value: 'work', attr: { path: 'emails.type' } });
  t.match(shape(USER, 'addresses[type eq "work"].locality'), { path: 'addresses.locality', sub: 'locality', filter: 'compare' });
  t.match(shape(USER, 'emails[type eq "work" and value ew "example.com"]'), { path: 'emails', sub: undefined, filter: 'and' });
  t.match(shape(GROUP, 'members[value eq "2819c223-7f76-453a-919d-413861904646"]'), { path: 'members', filter: 'compare' });
  t.match(shape(USER, 'emails[value eq "a]b"].type'), { path: 'emails.type' }, 'a "]" inside a quoted value does not end the filter');
  t.match(shape(USER, 'emails[value eq "say \\"hi]\\""].type'), { path: 'emails.type' }, 'nor does an escaped quote');
});

t.test('the RFC 7644 §3.5.2 path examples (Figure 8)', async (t) => {
  t.match(shape(GROUP, 'members'), { path: 'members' });
  t.match(shape(USER, 'name.familyName'), { path: 'name.familyName' });
  t.match(shape(USER, 'addresses[type eq "work"]'), { path: 'addresses', filter: 'compare' });
  t.match(shape(GROUP, 'members[value eq "2819c223-7f76-453a-919d-413861904646"]'), { path: 'members', filter: 'compare' });
  // The figure's last example names "displayName", which RFC 7643 §4.2's members do not have (they have "display").
  t.throws(
    () => parsePatchPath(GROUP, 'members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName'),
    scimError('invalidPath', /"members" has no sub-attribute "displayName"/),
  );
  t.match(shape(GROUP, 'members[value eq "2819c223-7f76-453a-919d-413861904646"].display'), { path: 'members.display' });
});

t.test('bad paths are 400 invalidPath naming the problem', async (t) => {
  const bad = (text: unknown, message: RegExp, rt = USER) => t.throws(() => parsePatchPath(rt, text), scimError('invalidPath', message), String(text));
  bad('', /"path" must not be empty/);
  bad('   ', /"path" must not be empty/);
  bad(42, /"path" must be a string, got number/);
  bad(null, /"path" must be a string, got null/);
  bad('favouriteColour', /no such attribute on User/);
  bad('name.givenName.first', /no such attribute/);
  bad('name.nickname', /no such attribute/);
  bad('members', /no such attribute on User/);
  bad('userName', /no such attribute on Group/, GROUP);
  bad(`${ENT}:manager.nope`, /no such attribute/);
  bad('emails[type eq "work"', /no closing "\]"/);
  bad('emails[type eq "work"]value', /unexpected "value" after the value filter/);
  bad('emails[type eq "work"].nope', /"emails" has no sub-attribute "nope"/);
  bad('emails[type eq "work"].value.more', /"emails" has no sub-attribute "value.more"/);
  bad('name[givenName eq "x"]', /applies only to a multi-valued complex attribute, and "name" is not one/);
  bad('emails.value[value eq "x"]', /applies only to a multi-valued complex attribute, and "emails.value" is not one/);
  bad('nope[value eq "x"]', /no such attribute "nope"/);
});

t.test('bad filters are 400 invalidFilter', async (t) => {
  for (const text of ['emails[]', 'emails[ ]', 'emails[nope eq "x"]', 'emails[type eq]', 'emails[type eq "work" and]']) {
    t.throws(() => parsePatchPath(USER, text), scimError('invalidFilter'), text);
  }
});

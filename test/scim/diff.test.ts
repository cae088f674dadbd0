import t from 'tap';
import { changedPaths } from '../../src/scim/diff.js';

const E = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

t.test('changedPaths names what differs, as canonical paths', async (t) => {
  t.same(changedPaths({ userName: 'a' }, { userName: 'a' }), []);
  t.same(changedPaths({ userName: 'a', title: 'x' }, { userName: 'b' }), ['title', 'userName']);
  t.same(changedPaths({ name: { givenName: 'A', familyName: 'B' } }, { name: { givenName: 'C', familyName: 'B' } }), ['name.givenName']);
  t.same(changedPaths({}, { name: { givenName: 'A' } }), ['name']);
  t.same(changedPaths({ emails: [{ value: 'a' }] }, { emails: [{ value: 'b' }] }), ['emails']);
  t.same(changedPaths({ [E]: { department: 'x', costCenter: '1' } }, { [E]: { department: 'y', costCenter: '1' } }), [`${E}:department`]);
  t.same(changedPaths({}, { [E]: { department: 'y' } }), [`${E}:department`]);
  t.same(changedPaths({ schemas: ['a'] }, { schemas: ['a', 'b'] }), [], 'schemas alone is not a change');
  t.same(changedPaths({ [E]: { constructor: 'x' } }, { [E]: { constructor: 'x' } }), [], 'inherited names are not mistaken for values');
  t.same(changedPaths({ [E]: {} }, { [E]: { toString: 'x' } }), [`${E}:toString`]);
});

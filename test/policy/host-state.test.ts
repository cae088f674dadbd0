/**
 * The pure rules of provisioning policies (src/policy): the host state a
 * user should have, the event that gets the host there, and field mapping.
 * The HTTP behaviour is in test/http/policy.test.ts.
 */
import t from 'tap';
import { compilePolicy } from '../../src/policy/compiled.js';
import { dateOf, desiredHostState, userEventFor, type HostState } from '../../src/policy/host-state.js';
import { profileOf } from '../../src/policy/mapping.js';
import { DEFAULT_POLICY, withDefaults } from '../../src/policy/policy.js';
import { ENTERPRISE_USER_SCHEMA as ENT } from '../../src/scim/schema.js';

const NOW = new Date('2026-12-06T12:00:00Z');
const DAY = 86_400_000;
const policy = (doc: Record<string, unknown>) => compilePolicy(withDefaults(doc));
const facts = (view: Record<string, unknown>, known: HostState = 'absent', extra: { deletedAt?: Date; inactiveSince?: Date } = {}) => ({
  view: { userName: 'u', ...view },
  known,
  deletedAt: extra.deletedAt ?? null,
  inactiveSince: extra.inactiveSince ?? null,
});

t.test('without a policy the host is told everything, as it happens', async (t) => {
  const p = compilePolicy(DEFAULT_POLICY);
  t.equal(desiredHostState(p, facts({ active: true }), NOW).state, 'active');
  t.equal(desiredHostState(p, facts({}), NOW).state, 'active', 'no active attribute: active');
  t.equal(desiredHostState(p, facts({ active: false }), NOW).state, 'inactive', 'created inactive: created inactive');
  t.equal(desiredHostState(p, facts({ active: false }, 'active'), NOW).state, 'inactive');
  t.equal(desiredHostState(p, facts({}, 'active', { deletedAt: NOW }), NOW).state, 'absent');
});

t.test('events between host states', async (t) => {
  t.equal(userEventFor('absent', 'active', false), 'user.created');
  t.equal(userEventFor('absent', 'inactive', false), 'user.created');
  t.equal(userEventFor('active', 'inactive', true), 'user.deactivated');
  t.equal(userEventFor('inactive', 'active', true), 'user.reactivated');
  t.equal(userEventFor('inactive', 'absent', false), 'user.deleted');
  t.equal(userEventFor('active', 'active', true), 'user.updated');
  t.equal(userEventFor('active', 'active', false), undefined);
  t.equal(userEventFor('absent', 'absent', true), undefined, 'nothing about a user the host does not have');
});

t.test('lifecycle', async (t) => {
  const deact = policy({ lifecycle: { onDelete: 'deactivate', purgeAfterDays: 30 } });
  const deleted = new Date(NOW.getTime() - 10 * DAY);
  t.match(desiredHostState(deact, facts({}, 'active', { deletedAt: deleted }), NOW), { state: 'inactive', reason: 'deleted (kept deactivated)', next: new Date(deleted.getTime() + 30 * DAY) });
  t.match(desiredHostState(deact, facts({}, 'active', { deletedAt: new Date(NOW.getTime() - 31 * DAY) }), NOW), { state: 'absent', reason: 'purged', next: null });
  t.equal(desiredHostState(deact, facts({}, 'absent', { deletedAt: deleted }), NOW).state, 'absent', 'a user the host never had stays unknown');

  const del = policy({ lifecycle: { onDeactivate: 'delete' } });
  t.match(desiredHostState(del, facts({ active: false }, 'active'), NOW), { state: 'absent', reason: 'inactive' });

  const stale = policy({ lifecycle: { deleteInactiveAfterDays: 90 } });
  const since = new Date(NOW.getTime() - 60 * DAY);
  t.match(desiredHostState(stale, facts({ active: false }, 'inactive', { inactiveSince: since }), NOW), { state: 'inactive', next: new Date(since.getTime() + 90 * DAY) });
  t.match(desiredHostState(stale, facts({ active: false }, 'inactive', { inactiveSince: new Date(NOW.getTime() - 91 * DAY) }), NOW), { state: 'absent', reason: 'inactive too long' });

  const dates = policy({ lifecycle: { startDate: `${ENT}:start`, endDate: `${ENT}:end` } });
  t.match(desiredHostState(dates, facts({ [ENT]: { start: '2026-12-20' } }), NOW), { state: 'absent', reason: 'before its start date', next: new Date('2026-12-20T00:00:00Z') });
  t.equal(desiredHostState(dates, facts({ [ENT]: { start: '2026-12-20' } }, 'active'), NOW).state, 'active', 'a start date moved later does not take back a user the host has');
  t.match(desiredHostState(dates, facts({ [ENT]: { end: '2026-12-01' } }, 'active'), NOW), { state: 'inactive', reason: 'after its end date' });
  t.equal(desiredHostState(dates, facts({ [ENT]: { end: '2026-12-01' } }), NOW).state, 'absent', 'never created just to be deactivated');
  t.match(desiredHostState(dates, facts({ [ENT]: { end: '2027-01-31T17:00:00+01:00' } }, 'active'), NOW), { state: 'active', next: new Date('2027-01-31T16:00:00Z') });
  t.equal(desiredHostState(dates, facts({ [ENT]: { start: 'soon' } }), NOW).state, 'active', 'a value that is no date holds nobody back');
  t.same(dateOf('2027-01-15'), new Date('2027-01-15T00:00:00Z'));
  t.equal(dateOf(''), undefined);
});

t.test('audience', async (t) => {
  const p = policy({ audience: { include: `${ENT}:department eq "sales"`, exclude: 'title sw "intern"' } });
  t.equal(desiredHostState(p, facts({ [ENT]: { department: 'Sales' } }), NOW).state, 'active', 'case-insensitive, as SCIM compares strings');
  t.match(desiredHostState(p, facts({ [ENT]: { department: 'R&D' } }), NOW), { state: 'absent', reason: 'outside the audience' });
  t.match(desiredHostState(p, facts({ [ENT]: { department: 'Sales' }, title: 'Intern, summer' }, 'active'), NOW), { state: 'inactive', reason: 'outside the audience' });
  const gone = policy({ audience: { exclude: 'title eq "x"' }, lifecycle: { onDeactivate: 'delete' } });
  t.equal(desiredHostState(gone, facts({ title: 'X' }, 'active'), NOW).state, 'absent', 'leaving the audience deletes with onDeactivate "delete"');
});

t.test('mapping: values, email priority, transforms, missing fields', async (t) => {
  const p = policy({
    mapping: {
      fields: {
        email: 'emails',
        work: 'emails[type eq "work"].value',
        dept: { path: `${ENT}:department`, transform: ['trim', 'lower'] },
        manager: 'manager.value',
        phone: 'phoneNumbers',
        hired: { path: `${ENT}:hired`, transform: ['date'] },
        given: 'name.givenName',
        opt: { path: 'nickName', required: false },
      },
    },
  });
  const view = {
    emails: [{ value: 'h@x', type: 'home', primary: true }, { value: 'o@x', type: 'other' }, { value: 'w@x', type: 'work' }],
    phoneNumbers: [{ value: '1' }, { value: '2', primary: true }],
    name: { givenName: 'Ada' },
    [ENT]: { department: '  R&D ', manager: { value: 'm1' }, hired: '2024-02-29T23:30:00-02:00' },
  };
  t.same(profileOf(p, view), {
    profile: { email: 'w@x', work: 'w@x', dept: 'r&d', manager: 'm1', phone: '2', hired: '2024-03-01', given: 'Ada', opt: null },
    missing: [],
  });
  const personal = policy({ mapping: { fields: { email: 'emails' }, personalEmails: true } });
  t.same(profileOf(personal, { emails: [{ value: 'h@x', type: 'home' }] }).profile, { email: 'h@x' }, 'a home address only with personalEmails');
  t.same(profileOf(p, { emails: [{ value: 'h@x', type: 'home' }] }).profile.email, null);
  t.same(profileOf(p, {}).missing, ['email', 'work', 'dept', 'manager', 'phone', 'hired', 'given'], 'required fields that yield nothing, in order');
  t.same(profileOf(p, { [ENT]: { hired: 'not a date' } }).profile.hired, null, 'a value the date transform cannot read');
});

t.test('compiling names every problem', async (t) => {
  const problems: string[] = [];
  compilePolicy(withDefaults({ audience: { include: 'nope eq', exclude: 'groups[value eq "x"]' }, mapping: { fields: { a: 'shoeSize', b: 'emails[type eq "work"].value' } } }), problems);
  t.equal(problems.length, 3);
  t.match(problems.join('\n'), /policy\.audience\.include: /);
  t.match(problems.join('\n'), /policy\.audience\.exclude: the audience cannot filter on groups/);
  t.match(problems.join('\n'), /policy\.mapping\.fields\.a: .*shoeSize/);
});

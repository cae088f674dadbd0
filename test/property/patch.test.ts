/**
 * Properties of the PATCH engine (src/scim/patch.ts), pure, on generated
 * resources and operations (fixed seed; FC_SEED to try another):
 *   - applying any operations either returns or throws a ScimError (never
 *     another error), and never changes its input;
 *   - what it returns is valid per the schema: normalising it again
 *     (as a PUT would) gives it back unchanged;
 *   - `changed` is empty exactly when the resource is unchanged;
 *   - adding a new value and removing it again gives the resource back
 *     (users: emails; groups: members leave no member added);
 *   - a remove that succeeded succeeds again and changes nothing more.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { ScimError } from '../../src/scim/errors.js';
import { applyPatch } from '../../src/scim/patch.js';
import { normalizeResource } from '../../src/scim/resource.js';
import { ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, groupResourceType, PATCH_OP_SCHEMA, USER_SCHEMA, userResourceType, type ResourceTypeDef } from '../../src/scim/schema.js';

const SEED = Number(process.env.FC_SEED ?? 11);
const RUNS = Number(process.env.FC_RUNS ?? 1500);
type Json = Record<string, unknown>;

const word = fc.constantFrom('a', 'B', 'work', 'home', 'x@example.com', 'y@example.com', '', ' ', 'é', 'true', '1');
const scalar = fc.oneof(word, fc.boolean(), fc.integer({ min: -2, max: 2 }), fc.constant(null));
const email = fc.record({ value: word, type: fc.constantFrom('work', 'home', 'other'), primary: fc.boolean(), display: word }, { requiredKeys: [] });
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: word },
  { weight: 2, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(email, { maxLength: 3 }) },
  { weight: 2, arbitrary: fc.dictionary(fc.constantFrom('displayName', 'title', 'active', 'emails', 'name', 'nickName', 'userName', 'id', 'members', ENT, `${ENT}:department`, 'givenName', 'value', 'type', 'bogus'), fc.oneof(scalar, fc.array(email, { maxLength: 2 }), fc.dictionary(fc.constantFrom('givenName', 'familyName', 'department', 'value'), scalar, { maxKeys: 2 })), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: fc.array(fc.record({ value: fc.constantFrom('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', 'x', ''), type: fc.constantFrom('User', 'Group', 'x'), display: word }, { requiredKeys: [] }), { maxLength: 3 }) },
);

const USER_PATHS = [
  'displayName',
  'userName',
  'title',
  'active',
  'nickName',
  'name',
  'name.givenName',
  'name.familyName',
  'emails',
  'emails.value',
  'emails[type eq "work"]',
  'emails[type eq "work"].value',
  'emails[value eq "x@example.com"]',
  'emails[primary eq true].display',
  'phoneNumbers',
  'roles',
  'groups',
  'id',
  'meta.created',
  'externalId',
  `${ENT}:department`,
  `${ENT}:manager`,
  `${ENT}:manager.value`,
  `${ENT}:customField`,
  ENT,
  'urn:unknown:schema:attr',
  'emails[',
  'name.bogus',
];
const GROUP_PATHS = ['displayName', 'externalId', 'members', 'members[value eq "11111111-1111-4111-8111-111111111111"]', 'members[type eq "User"]', 'members.value', 'members[value eq "x"].display', 'id', 'bogus'];

const operation = (paths: string[]) =>
  fc.record(
    { op: fc.constantFrom('add', 'remove', 'replace', 'Add', 'Replace', 'Remove'), path: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...paths) }, { weight: 1, arbitrary: fc.constant(undefined) }), value: anyValue },
    { requiredKeys: ['op'] },
  );
const patchBody = (paths: string[]) => fc.array(operation(paths), { minLength: 1, maxLength: 3 }).map((Operations) => ({ schemas: [PATCH_OP_SCHEMA], Operations }));

/** A stored user: a generated body normalised as a POST would store it. */
const storedUser = fc
  .record(
    {
      userName: fc.constantFrom('jane', 'Jane@Example.com', 'bob'),
      displayName: word,
      title: word,
      active: fc.boolean(),
      name: fc.record({ givenName: word, familyName: word }, { requiredKeys: [] }),
      emails: fc.array(email, { maxLength: 3 }),
      [ENT]: fc.record({ department: word, customField: word, manager: fc.record({ value: word }) }, { requiredKeys: [] }),
    },
    { requiredKeys: ['userName'] },
  )
  .map((b) => tryNormalize(userResourceType, { schemas: [USER_SCHEMA, ENT], ...b }))
  .filter((r): r is Json => r !== undefined);
const storedGroup = fc.record({ displayName: fc.constantFrom('Admins', 'Team'), externalId: word }, { requiredKeys: ['displayName'] }).map((b) => tryNormalize(groupResourceType, { schemas: [GROUP_SCHEMA], ...b })!);

function tryNormalize(rt: ResourceTypeDef, body: Json): Json | undefined {
  try {
    return normalizeResource(rt, body, { mode: 'create' }).resource;
  } catch (err) {
    if (err instanceof ScimError) return undefined;
    throw err;
  }
}

/** applyPatch, or undefined when it refuses with a ScimError; any other error fails the property. */
function tryPatch(rt: ResourceTypeDef, current: Json, body: unknown, lenient: boolean) {
  try {
    return applyPatch(rt, current, body, { lenient });
  } catch (err) {
    if (err instanceof ScimError && err.status >= 400 && err.status < 500) return undefined;
    throw err;
  }
}

const cases: [string, ResourceTypeDef, fc.Arbitrary<Json>, string[]][] = [
  ['User', userResourceType, storedUser, USER_PATHS],
  ['Group', groupResourceType, storedGroup, GROUP_PATHS],
];

for (const [name, rt, stored, paths] of cases) {
  t.test(`${name}: any operations return a valid resource or throw a ScimError, and leave their input alone`, async (t) => {
    let applied = 0;
    fc.assert(
      fc.property(stored, patchBody(paths), fc.boolean(), (current, body, lenient) => {
        const copy = structuredClone(current);
        const r = tryPatch(rt, current, body, lenient);
        if (!isDeepStrictEqual(current, copy)) throw new Error('applyPatch changed its input');
        if (!r) return;
        applied++;
        // Valid per the schema: what a PUT of it would store is itself.
        const again = normalizeResource(rt, r.resource, { mode: 'replace', existing: current, lenient });
        if (!isDeepStrictEqual(again.resource, r.resource)) throw new Error(`the result is not in stored shape: ${JSON.stringify(r.resource)} → ${JSON.stringify(again.resource)}`);
        if ((r.changed.length === 0) !== isDeepStrictEqual(r.resource, current)) throw new Error(`changed ${JSON.stringify(r.changed)} for ${JSON.stringify(current)} → ${JSON.stringify(r.resource)}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    t.ok(applied > RUNS / 40, `${applied} of ${RUNS} generated PATCH requests applied`);
  });
}

t.test('User: adding a new email and removing it again gives the user back', async () => {
  fc.assert(
    fc.property(storedUser, fc.constantFrom('work', 'home', 'other'), fc.boolean(), (current, type, lenient) => {
      const value = 'fresh.value@example.org';
      const r = tryPatch(
        userResourceType,
        current,
        { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'add', path: 'emails', value: [{ value, type }] }, { op: 'remove', path: `emails[value eq "${value}"]` }] },
        lenient,
      );
      if (!r) throw new Error('add then remove was refused');
      if (!isDeepStrictEqual(r.resource, current)) throw new Error(`${JSON.stringify(current)} became ${JSON.stringify(r.resource)}`);
      if (r.changed.length) throw new Error(`changed ${JSON.stringify(r.changed)}`);
    }),
    { seed: SEED, numRuns: RUNS / 3 },
  );
});

t.test('Group: adding members and removing them again adds no member', async () => {
  const id = fc.constantFrom('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333');
  fc.assert(
    fc.property(storedGroup, fc.uniqueArray(id, { minLength: 1, maxLength: 3 }), (current, ids) => {
      const r = tryPatch(
        groupResourceType,
        current,
        { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }, ...ids.map((v) => ({ op: 'remove', path: `members[value eq "${v}"]` }))] },
        false,
      );
      if (!r) throw new Error('add then remove was refused');
      if (r.members?.add.length) throw new Error(`members still added: ${JSON.stringify(r.members)}`);
      if (!isDeepStrictEqual(r.resource, current)) throw new Error('the group JSON changed');
    }),
    { seed: SEED, numRuns: RUNS / 3 },
  );
});

t.test('a remove that succeeded succeeds again and changes nothing more', async () => {
  fc.assert(
    fc.property(storedUser, fc.constantFrom(...USER_PATHS), (current, path) => {
      const body = { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'remove', path }] };
      const once = tryPatch(userResourceType, current, body, false);
      if (!once) return;
      const twice = tryPatch(userResourceType, once.resource, body, false);
      if (!twice) throw new Error(`remove ${path} was refused the second time`);
      if (!isDeepStrictEqual(twice.resource, once.resource) || twice.changed.length) throw new Error(`remove ${path} changed ${JSON.stringify(twice.changed)} the second time`);
    }),
    { seed: SEED, numRuns: RUNS / 3 },
  );
});

/**
 * Properties of resource normalisation (src/scim/resource.ts), pure, on
 * generated bodies (fixed seed; FC_SEED to try another):
 *   - any JSON value, and bodies close to real Users and Groups, either
 *     normalise or are refused with a SCIM 4xx (never another error);
 *   - normalising is idempotent: the stored shape normalises to itself, as a
 *     create and as a replace of itself, in strict and lenient mode.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { ScimError } from '../../src/scim/errors.js';
import { normalizeResource, type Normalized } from '../../src/scim/resource.js';
import { ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, groupResourceType, USER_SCHEMA, userResourceType, type ResourceTypeDef } from '../../src/scim/schema.js';

const SEED = Number(process.env.FC_SEED ?? 13);
const RUNS = Number(process.env.FC_RUNS ?? 2000);

// Attribute names as clients spell them (any case), some unknown, some flat extension keys.
const name = fc.constantFrom(
  'schemas', 'userName', 'UserName', 'USERNAME', 'displayName', 'name', 'Name', 'emails', 'Emails', 'phoneNumbers', 'addresses', 'active', 'Active', 'title', 'password',
  'groups', 'members', 'Members', 'id', 'meta', 'externalId', 'roles', 'x509Certificates', 'nickName', 'locale', ENT, ENT.toLowerCase(), `${ENT}:department`, `${ENT}:manager`,
  `${ENT}:manager.value`, `${ENT}:Custom`, 'urn:unknown:ext', 'value', 'type', 'primary', 'givenName', 'familyName', 'formatted', 'department', 'manager', 'display', '$ref', 'bogus',
);
const word = fc.constantFrom('a', 'A', 'jane', 'Jane@Example.com', 'work', 'home', '', ' ', 'true', 'false', '1', 'User', 'Group', '11111111-1111-4111-8111-111111111111', USER_SCHEMA, GROUP_SCHEMA, ENT);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    word,
    fc.boolean(),
    fc.integer({ min: -1, max: 3 }),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(name, tie('value'), { maxKeys: 4 }),
  ),
}));
const schemas = fc.subarray([USER_SCHEMA, GROUP_SCHEMA, ENT, 'urn:unknown:ext']);
const nearUser = fc.tuple(schemas, fc.dictionary(name, value, { maxKeys: 8 }), word).map(([s, body, userName]) => ({ userName, ...body, schemas: s }));
const nearGroup = fc.tuple(schemas, fc.dictionary(name, value, { maxKeys: 6 }), word).map(([s, body, displayName]) => ({ displayName, ...body, schemas: s }));

function tryNormalize(rt: ResourceTypeDef, body: unknown, opts: Parameters<typeof normalizeResource>[2]): Normalized | undefined {
  try {
    return normalizeResource(rt, body, opts);
  } catch (err) {
    if (err instanceof ScimError && err.status >= 400 && err.status < 500) return undefined;
    throw err;
  }
}

for (const [label, rt, near] of [
  ['User', userResourceType, nearUser],
  ['Group', groupResourceType, nearGroup],
] as const) {
  t.test(`${label}: any body normalises or is refused with a SCIM error`, async (t) => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(near, fc.jsonValue(), fc.anything()), fc.boolean(), (body, lenient) => {
        if (tryNormalize(rt, body, { mode: 'create', lenient })) accepted++;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    t.ok(accepted > RUNS / 20, `${accepted} of ${RUNS} generated bodies accepted`);
  });

  t.test(`${label}: normalising is idempotent`, async (t) => {
    let checked = 0;
    fc.assert(
      fc.property(near, fc.boolean(), (body, lenient) => {
        const once = tryNormalize(rt, body, { mode: 'create', lenient });
        if (!once) return;
        checked++;
        for (const opts of [{ mode: 'create' as const, lenient }, { mode: 'replace' as const, existing: once.resource, lenient }, { mode: 'create' as const, lenient: !lenient }]) {
          const twice = normalizeResource(rt, once.resource, opts);
          if (!isDeepStrictEqual(twice.resource, once.resource)) throw new Error(`${JSON.stringify(once.resource)} normalised (${JSON.stringify(opts)}) to ${JSON.stringify(twice.resource)}`);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    t.ok(checked > RUNS / 20, `${checked} of ${RUNS} generated bodies checked`);
  });
}

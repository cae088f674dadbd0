/**
 * The benchmark data set, computed from a user's index alone, so the seeder
 * and the load generator agree on ids, userNames and emails without asking
 * the database.
 *
 * User i (1..N) is an Entra-ID-like employee: userName and a work email on
 * different domains, name parts, title, a phone number, an office address and
 * the enterprise extension (employeeNumber, department, costCenter, manager).
 * Every 20th user is inactive; every 5th has a home email too.
 *
 * Groups: "All Employees" holds the first `bigGroupSize(N)` users (100,000 at
 * 1,000,000 users), "Bench Team" the 10 users after them, and each user
 * belongs to one of DEPARTMENTS.length department groups. Users above
 * `freeUserStart(N)` are in no group but their department's; the member
 * add/remove scenarios take their members from there.
 */
import { createHash } from 'node:crypto';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from '../../src/scim/schema.js';

/** Bumped whenever the shape below changes, so a stale seeded database is re-seeded. */
export const DATASET_VERSION = 1;

export const TENANT = 'bench';
export const BIG_GROUP = 'All Employees';
export const SMALL_GROUP = 'Bench Team';
export const SMALL_GROUP_SIZE = 10;

const GIVEN = [
  'Ada', 'Alan', 'Barbara', 'Brian', 'Carmen', 'Chen', 'Dana', 'Diego', 'Elena', 'Emeka', 'Fatima', 'Felix', 'Grace', 'Hana', 'Hugo',
  'Ines', 'Ivan', 'Jamal', 'Jia', 'Karin', 'Kofi', 'Lars', 'Leila', 'Maria', 'Mateo', 'Nadia', 'Noah', 'Olga', 'Omar', 'Priya',
  'Paulo', 'Quinn', 'Rosa', 'Ravi', 'Sara', 'Sven', 'Tara', 'Tomas', 'Uma', 'Umar', 'Vera', 'Viktor', 'Wen', 'Will', 'Xia',
  'Yara', 'Yusuf', 'Zoe', 'Zane', 'Aiko',
];
const FAMILY = [
  'Abbott', 'Bauer', 'Castro', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Hansen', 'Ito', 'Jensen', 'Kowalski', 'Larsen', 'Moreau',
  'Nakamura', 'Okafor', 'Petrov', 'Quispe', 'Rossi', 'Schmidt', 'Tanaka', 'Usman', 'Varga', 'Weber', 'Xu', 'Yilmaz', 'Zhang',
  'Andersson', 'Bianchi', 'Costa', 'Dimitrov', 'Evans', 'Ferreira', 'Gupta', 'Horvat', 'Ivanova', 'Jovanovic', 'Kim', 'Lopez',
  'Muller', 'Novak', 'Olsen', 'Popescu', 'Reyes', 'Silva', 'Torres', 'Ueda', 'Vasquez', 'Wong', 'Young', 'Zielinski',
];
const TITLES = ['Engineer', 'Senior Engineer', 'Analyst', 'Manager', 'Designer', 'Accountant', 'Sales Representative', 'Support Specialist', 'Recruiter', 'Director'];
export const DEPARTMENTS = [
  'Engineering', 'Sales', 'Marketing', 'Finance', 'Legal', 'Support', 'Operations', 'Research', 'Design', 'People', 'Security', 'Facilities',
  'Procurement', 'Data', 'Platform', 'Mobile', 'Web', 'Infrastructure', 'Quality', 'Compliance', 'Partnerships', 'Customer Success',
  'Product', 'Training', 'Communications',
];
const CITIES = ['Seattle', 'Dublin', 'Berlin', 'Singapore', 'Sydney', 'Toronto', 'São Paulo', 'Nairobi', 'Tokyo', 'Warsaw'];

/**
 * A stable, random-looking UUID for a name: md5(name) in UUID layout, which is
 * also what Postgres's `md5(name)::uuid` gives (the pgbench scripts rely on
 * that). Ids spread over the primary key like real random ids.
 */
export function stableUuid(name: string): string {
  const h = createHash('md5').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export const userId = (i: number) => stableUuid(`bench-user-${i}`);
export const groupId = (name: string) => stableUuid(`bench-group-${name}`);

const given = (i: number) => GIVEN[i % GIVEN.length]!;
const family = (i: number) => FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length]!;
export const department = (i: number) => DEPARTMENTS[i % DEPARTMENTS.length]!;

export const userName = (i: number) => `${given(i).toLowerCase()}.${family(i).toLowerCase()}.${i}@contoso.example`;
export const workEmail = (i: number) => `${given(i).charAt(0).toLowerCase()}${family(i).toLowerCase()}${i}@mail.contoso.example`;

/** Members of the big group: users 1..bigGroupSize. */
export const bigGroupSize = (n: number) => Math.min(100_000, Math.floor(n / 2));
/** Members of the small group: the SMALL_GROUP_SIZE users after the big group's. */
export const smallGroupMembers = (n: number) => Array.from({ length: SMALL_GROUP_SIZE }, (_, k) => bigGroupSize(n) + 1 + k);
/** First user in neither group. */
export const freeUserStart = (n: number) => bigGroupSize(n) + SMALL_GROUP_SIZE + 1;

/** Seeded creation time: one second apart, so default ordering is stable. */
export const createdAt = (i: number) => new Date(Date.UTC(2025, 0, 1) + i * 1000);

/**
 * User i as Roster stores it (`users.resource`): canonical attribute names,
 * enterprise attributes under their URN, `schemas` included, no id/meta.
 * test/bench/smoke.test.ts checks that Roster's own normalisation of
 * `userBody(i)` yields exactly this.
 */
export function userResource(i: number): Record<string, unknown> {
  const g = given(i);
  const f = family(i);
  const emails: Record<string, unknown>[] = [{ value: workEmail(i), type: 'work', primary: true }];
  if (i % 5 === 0) emails.push({ value: `${g.toLowerCase()}${i}@home.example`, type: 'home' });
  const manager = i > 10 ? Math.floor(i / 10) : undefined;
  return {
    schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
    userName: userName(i),
    externalId: stableUuid(`bench-ext-${i}`),
    name: { formatted: `${g} ${f}`, familyName: f, givenName: g },
    displayName: `${g} ${f}`,
    title: TITLES[i % TITLES.length],
    active: i % 20 !== 0,
    emails,
    phoneNumbers: [{ value: `+1 555 ${String(i % 10_000_000).padStart(7, '0')}`, type: 'work' }],
    addresses: [{ type: 'work', locality: CITIES[i % CITIES.length], country: 'US', primary: true }],
    [ENTERPRISE_USER_SCHEMA]: {
      employeeNumber: String(i),
      department: department(i),
      costCenter: `CC-${1000 + (i % 200)}`,
      ...(manager ? { manager: { value: userId(manager) } } : {}),
    },
  };
}

/** The POST body an IdP would send for user i (Entra ID puts `schemas` first and sends no id). */
export function userBody(i: number): Record<string, unknown> {
  return userResource(i);
}

export function groupResource(displayName: string): Record<string, unknown> {
  return { schemas: [GROUP_SCHEMA], displayName, externalId: stableUuid(`bench-group-ext-${displayName}`) };
}

export const departmentGroup = (d: string) => `Dept ${d}`;

/** Every seeded group's display name. */
export function groupNames(): string[] {
  return [BIG_GROUP, SMALL_GROUP, ...DEPARTMENTS.map(departmentGroup)];
}

/** Deterministic PRNG (mulberry32) so runs pick the same users for the same seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sqlArray = (xs: string[]) => `(array[${xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(',')}]::text[])`;
const givenSql = (i: string) => `${sqlArray(GIVEN.map((g) => g.toLowerCase()))}[(${i}) % ${GIVEN.length} + 1]`;
const familySql = (i: string) => `${sqlArray(FAMILY.map((f) => f.toLowerCase()))}[((${i}) / ${GIVEN.length}) % ${FAMILY.length} + 1]`;

/** SQL expression equal to userName(i) for an integer SQL expression i (pgbench scripts use it). */
export const userNameSql = (i: string) => `(${givenSql(i)} || '.' || ${familySql(i)} || '.' || (${i})::text || '@contoso.example')`;
/** SQL expression equal to workEmail(i). */
export const workEmailSql = (i: string) => `(left(${givenSql(i)}, 1) || ${familySql(i)} || (${i})::text || '@mail.contoso.example')`;
/** SQL expression equal to userId(i). */
export const userIdSql = (i: string) => `md5('bench-user-' || (${i})::text)::uuid`;

/**
 * HTTP fuzz (issue 24): thousands of hostile requests per backend from a
 * fixed seed (FUZZ_SEED to try another; FUZZ_REQUESTS for more), through
 * Fastify's inject, plus what inject cannot send (broken request lines and
 * headers) on a real loopback socket. Asserted over all of them:
 *   - no answer is 5xx;
 *   - no request takes 5 s or more;
 *   - every error answer is an RFC 7644 §3.12 error body (schemas, status
 *     equal to the HTTP status, detail);
 *   - a refused request stores nothing (database snapshot of both tenants
 *     before and after: users, groups, members, versions, events);
 *   - in a /Bulk answer, no operation is 5xx and each failed one carries an
 *     error body.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { MAX_PATCH_OPERATIONS } from '../../src/scim/limits.js';
import { BULK_REQUEST_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, SEARCH_REQUEST_SCHEMA, USER_SCHEMA } from '../../src/scim/schema.js';
import { ADMIN_TOKEN, ERROR_SCHEMA, startApp, user } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { dbSnapshot } from '../helpers/snapshot.js';

const SEED = Number(process.env.FUZZ_SEED ?? 24);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2400);
const SLOW_MS = 5000;

/** mulberry32: small, fast, deterministic. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof rng>;

interface FuzzRequest {
  kind: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

interface Known {
  tenant: string;
  /** A tenant the admin API part may change or delete. */
  adminTarget: string;
  token: string;
  userId: string;
  groupId: string;
}

const ODD_STRINGS = [
  '',
  ' ',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\ud83d\ude00 emoji',
  '\u202eevil\u202c',
  'zero\u200bwidth',
  'ＦＵＬＬ',
  'İıß',
  '%00',
  '%',
  '\\',
  '"',
  "'; drop table users; --",
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '../../etc/passwd',
  'a'.repeat(600),
  'é'.repeat(3000),
  'b'.repeat(70_000),
  '\r\n',
  '\t',
  'null',
  'true',
  '1e999',
  '__proto__',
  'constructor',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:',
  'userName eq "x"',
];

const ODD_VALUES = (r: Rng): unknown[] => [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -0,
  Number.MAX_SAFE_INTEGER + 2,
  0.1,
  [],
  {},
  [null],
  [[]],
  { value: r.pick(ODD_STRINGS) },
  [{ value: r.pick(ODD_STRINGS), type: r.pick(ODD_STRINGS), primary: r.pick([true, 'true', 1, null]) }],
  { __proto__: { polluted: true } },
  r.pick(ODD_STRINGS),
];

const FILTER_PIECES = [
  'userName',
  'displayName',
  'emails',
  'emails.value',
  'emails[type eq "work"]',
  'emails[type eq "work"].value',
  'meta.created',
  'meta.lastModified',
  'meta.location',
  'id',
  'groups',
  'groups.value',
  'members',
  'members.value',
  'members[value eq "x"]',
  'active',
  'name.givenName',
  `${ENTERPRISE_USER_SCHEMA}:department`,
  `${ENTERPRISE_USER_SCHEMA}:manager.value`,
  `${ENTERPRISE_USER_SCHEMA}:x${'y'.repeat(200)}`,
  'urn:bogus:attr',
  'eq',
  'ne',
  'co',
  'sw',
  'ew',
  'gt',
  'ge',
  'lt',
  'le',
  'pr',
  'and',
  'or',
  'not',
  '(',
  ')',
  '[',
  ']',
  '"x"',
  '"%_\\\\"',
  '"\\"',
  '"',
  'true',
  'false',
  'null',
  '42',
  '1e999',
  '-0.5',
  '"2011-05-13T04:42:34Z"',
  '"not a date"',
  '2015-10-10T14:38:21.8617979-07:00',
  '"\\u0000"',
  '"\\ud800"',
  '.',
  '..',
  'emails[',
  'not (',
  '""',
];

function randomFilter(r: Rng): string {
  switch (r.int(6)) {
    case 0:
      return Array.from({ length: 1 + r.int(8) }, () => r.pick(FILTER_PIECES)).join(' ');
    case 1:
      return `${r.pick(FILTER_PIECES.slice(0, 20))} ${r.pick(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'])} ${r.pick(FILTER_PIECES.slice(38))}`;
    case 2:
      return `${'('.repeat(r.int(300))}userName eq "x"${')'.repeat(r.int(300))}`;
    case 3:
      return Array.from({ length: 1 + r.int(400) }, (_, i) => `userName eq "u${i}"`).join(r.pick([' or ', ' and ']));
    case 4:
      return `${'not ('.repeat(1 + r.int(100))}active pr${')'.repeat(1 + r.int(100))}`;
    default:
      return `emails[${'value co "a" and '.repeat(r.int(50))}type eq "work"]${r.pick(['', '.value pr', '.bogus eq 1', '[x]'])}`;
  }
}

function deepJson(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

const MALFORMED = [
  '{',
  '}',
  '{"schemas":',
  '{"userName":"x",}',
  "{'userName':'x'}",
  '{"userName":"x"} trailing',
  '\ufeff{"userName":"x"}',
  '[]',
  'null',
  '0',
  '"string"',
  '{"a":1e999999}',
  '{"a":-}',
  '{"a":"\\x41"}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '{"\\u0000":1}',
  '{"a":"unterminated}',
  '{"__proto__":{"admin":true},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"proto"}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"a":1,"a":2,"a":3}',
  '\u0000',
  '\xff\xfe',
  'NaN',
  'Infinity',
  '{"a":[' + '1,'.repeat(50_000) + '1]}',
];

function body(r: Rng, k: Known): unknown {
  const odd = ODD_VALUES(r);
  const pickValue = () => r.pick(odd);
  switch (r.int(9)) {
    case 0:
      return user(r.pick(ODD_STRINGS), { [r.pick(['displayName', 'title', 'externalId', 'nickName', 'locale', 'timezone'])]: pickValue() });
    case 1:
      return { schemas: r.pick([[USER_SCHEMA], [GROUP_SCHEMA], [], 'x', null, [1], [ENTERPRISE_USER_SCHEMA]]), userName: pickValue(), displayName: pickValue() };
    case 2:
      return user(`fuzz${r.int(1e9)}@example.com`, { emails: pickValue(), name: pickValue(), active: pickValue(), [ENTERPRISE_USER_SCHEMA]: pickValue() });
    case 3:
      return { schemas: [GROUP_SCHEMA], displayName: pickValue(), members: r.pick([pickValue(), [{ value: k.userId }, { value: pickValue() }], [{ value: k.groupId, type: 'Group' }], [{ $ref: pickValue() }]]) };
    case 4: {
      // Many custom fields, some over the limits.
      const n = r.pick([10, 201, 1000, 5000]);
      return user(`custom${r.int(1e9)}@example.com`, { [ENTERPRISE_USER_SCHEMA]: Object.fromEntries(Array.from({ length: n }, (_, i) => [`${r.pick(['f', 'F', 'ü', 'x'.repeat(130)])}${i}`, r.pick(['v', 1, true, null, {}, []])])) });
    }
    case 5:
      return user(`flat${r.int(1e9)}@example.com`, { [`${ENTERPRISE_USER_SCHEMA}:${r.pick(['department', 'manager', 'manager.value', 'x.y.z', ''])}`]: pickValue(), [`${r.pick(ODD_STRINGS)}`]: pickValue() });
    case 6:
      return user(`multi${r.int(1e9)}@example.com`, { [r.pick(['emails', 'phoneNumbers', 'roles', 'addresses', 'x509Certificates'])]: Array.from({ length: r.pick([2, 1001, 3000]) }, (_, i) => ({ value: `v${i}`, type: r.pick(['work', 'home', 1, null]) })) });
    case 7:
      return Object.fromEntries(Array.from({ length: 1 + r.int(30) }, () => [r.pick(ODD_STRINGS), pickValue()]));
    default:
      return r.pick(odd);
  }
}

function patchBody(r: Rng, k: Known): unknown {
  const paths = [
    'displayName',
    'userName',
    'active',
    'emails',
    'emails[type eq "work"].value',
    'emails[value co "@"]',
    'name.givenName',
    'members',
    `members[value eq "${k.userId}"]`,
    'members[type eq "User"]',
    'members[display eq "x"]',
    'groups',
    'id',
    'meta.created',
    'schemas',
    `${ENTERPRISE_USER_SCHEMA}:department`,
    `${ENTERPRISE_USER_SCHEMA}:manager.value`,
    'emails[',
    'emails]',
    'a.b.c.d',
    '',
    'urn:x:y',
    '[value eq "x"]',
    null,
    42,
    { path: 'x' },
  ];
  // Many operations get plain values: a whole body per operation would make generating them the slow part.
  const op = (plain = false) => {
    const o: Record<string, unknown> = { op: r.pick(['add', 'remove', 'replace', 'Add', 'REPLACE', 'move', '', null, 1]) };
    if (r.chance(0.8)) o.path = r.pick(paths);
    if (r.chance(0.8)) o.value = !plain && r.chance(0.5) ? body(r, k) : r.pick(ODD_STRINGS);
    return o;
  };
  switch (r.int(5)) {
    case 0:
      return { schemas: [PATCH_OP_SCHEMA], Operations: Array.from({ length: r.pick([MAX_PATCH_OPERATIONS, MAX_PATCH_OPERATIONS + 1, 5000]) }, () => op(true)) };
    case 1:
      return { schemas: r.pick([[], ['x'], null, PATCH_OP_SCHEMA]), Operations: r.pick([null, {}, [], 'x', [op()]]) };
    default:
      return { schemas: [PATCH_OP_SCHEMA], Operations: Array.from({ length: 1 + r.int(6) }, () => op()) };
  }
}

function bulkBody(r: Rng, k: Known): unknown {
  const ref = (id: string) => `bulkId:${id}`;
  const ops: () => unknown[] = () => {
    switch (r.int(8)) {
      case 0: // a cycle of groups
        return [
          { method: 'POST', path: '/Groups', bulkId: 'a', data: { schemas: [GROUP_SCHEMA], displayName: `cyc-a${r.int(1e9)}`, members: [{ value: ref('b'), type: 'Group' }] } },
          { method: 'POST', path: '/Groups', bulkId: 'b', data: { schemas: [GROUP_SCHEMA], displayName: `cyc-b${r.int(1e9)}`, members: [{ value: ref('a'), type: 'Group' }] } },
        ];
      case 1: // a group that references itself
        return [{ method: 'POST', path: '/Groups', bulkId: 's', data: { schemas: [GROUP_SCHEMA], displayName: `self${r.int(1e9)}`, members: [{ value: ref('s') }] } }];
      case 2: // unknown, duplicate and malformed bulkIds
        return [
          { method: 'POST', path: '/Users', bulkId: 'dup', data: user(`dup${r.int(1e9)}@example.com`) },
          { method: 'POST', path: '/Users', bulkId: 'dup', data: user(`dup${r.int(1e9)}@example.com`) },
          { method: 'PATCH', path: `/Groups/${ref(r.pick(['nope', '', 'dup', '%00', 'a b']))}`, data: { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'add', path: 'members', value: [{ value: ref('nope') }] }] } },
        ];
      case 3: // odd methods and paths
        return Array.from({ length: 1 + r.int(5) }, () => ({
          method: r.pick(['GET', 'HEAD', 'OPTIONS', 'post', 'DELETE', 'TRACE', '', null, 7]),
          path: r.pick(['/Users', '/Groups', '/Bulk', '/Users/../Groups', 'http://evil.example/Users', '', '/', `/Users/${k.userId}/x`, '/Users/bulkId:', '/.search', null, '/Users?x=1']),
          bulkId: r.pick(['x', '', null, 1, undefined]),
          data: r.chance(0.5) ? body(r, k) : undefined,
          version: r.pick([undefined, 'W/"1"', 'garbage', 1]),
        }));
      case 4: // too many operations
        return Array.from({ length: 1001 }, (_, i) => ({ method: 'DELETE', path: `/Users/${i}` }));
      case 5: // a chain of bulkId references
        return Array.from({ length: 20 }, (_, i) => ({ method: 'POST', path: '/Groups', bulkId: `c${i}`, data: { schemas: [GROUP_SCHEMA], displayName: `chain${r.int(1e9)}-${i}`, members: i ? [{ value: ref(`c${i - 1}`) }] : [] } }));
      case 6:
        return r.pick([null, 'x', {}, 1]) as unknown as unknown[];
      default:
        return Array.from({ length: 1 + r.int(4) }, () => ({ method: r.pick(['POST', 'PUT', 'PATCH', 'DELETE']), path: r.pick(['/Users', `/Users/${k.userId}`, `/Groups/${k.groupId}`, '/Groups']), bulkId: `r${r.int(100)}`, data: r.chance(0.5) ? body(r, k) : patchBody(r, k) }));
    }
  };
  return { schemas: r.pick([[BULK_REQUEST_SCHEMA], [BULK_REQUEST_SCHEMA], [], null]), failOnErrors: r.pick([undefined, 0, 1, -1, 'x', 1e12, null]), Operations: ops() };
}

const ID_SEGMENTS = (k: Known) => [
  k.userId,
  k.userId.toUpperCase(),
  `${k.userId}x`,
  k.groupId,
  '..',
  '%2e%2e',
  '%2F',
  '.search',
  'x'.repeat(5000),
  '%E2%80%AE',
  '%ED%A0%80',
  '%FF',
  '%',
  '%%',
  'null',
  '00000000-0000-0000-0000-000000000000',
  'bulkId:x',
  '*',
  '%20',
  'a;b',
];

const QUERIES = (r: Rng) => [
  `filter=${encodeURIComponent(randomFilter(r))}`,
  `startIndex=${r.pick(['0', '-1', '2147483648', '9'.repeat(40), '1.5', 'x', '1e308', ''])}`,
  `count=${r.pick(['0', '-1', '2147483648', '9'.repeat(40), 'NaN', '1e3', '1001', ''])}`,
  `sortBy=${encodeURIComponent(r.pick(FILTER_PIECES))}&sortOrder=${r.pick(['ascending', 'descending', 'sideways', ''])}`,
  `attributes=${encodeURIComponent(Array.from({ length: 1 + r.int(5) }, () => r.pick(FILTER_PIECES)).join(','))}`,
  `excludedAttributes=${encodeURIComponent(Array.from({ length: 1 + r.int(5) }, () => r.pick(FILTER_PIECES)).join(','))}`,
  `cursor=${r.pick(['', 'x', 'A'.repeat(3000), '%00', 'eyJ0IjoxfQ'])}`,
  'filter=a&filter=b',
  'count=1&count=2',
  `${'x'.repeat(2000)}=1`,
  'attributes=&excludedAttributes=',
];

function fuzzRequest(r: Rng, k: Known): FuzzRequest {
  const base = `/scim/v2/${k.tenant}`;
  const auth = { authorization: `Bearer ${k.token}` };
  const json = { 'content-type': 'application/scim+json' };
  const resource = r.pick(['Users', 'Groups']);
  const id = r.pick(ID_SEGMENTS(k));
  switch (r.int(12)) {
    case 0: // malformed and deeply nested JSON
      return {
        kind: 'malformed-json',
        method: r.pick(['POST', 'PUT', 'PATCH']),
        url: r.pick([`${base}/Users`, `${base}/Groups`, `${base}/Bulk`, `${base}/.search`, `${base}/Users/${k.userId}`, `${base}/Groups/${k.groupId}`, `${base}/Users/.search`]),
        headers: { ...auth, ...json },
        payload: r.chance(0.3) ? deepJson(r.pick([33, 100, 1000, 100_000]), r.pick(['[', '{"a":']), r.pick([']', '}'])) : r.pick(MALFORMED),
      };
    case 1:
    case 2: // odd resources
      return { kind: 'odd-resource', method: r.pick(['POST', 'POST', 'PUT']), url: r.chance(0.6) ? `${base}/${resource}` : `${base}/${resource}/${r.pick([k.userId, k.groupId])}`, headers: { ...auth, ...json }, payload: JSON.stringify(body(r, k)) };
    case 3: // PATCH
      return { kind: 'patch', method: 'PATCH', url: `${base}/${resource}/${r.pick([k.userId, k.groupId, id])}`, headers: { ...auth, ...json, ...(r.chance(0.2) ? { prefer: 'return=minimal' } : {}) }, payload: JSON.stringify(patchBody(r, k)) };
    case 4: // Bulk
      return { kind: 'bulk', method: 'POST', url: `${base}/Bulk`, headers: { ...auth, ...json }, payload: JSON.stringify(bulkBody(r, k)) };
    case 5: // weird paths and ids
      return { kind: 'path', method: r.pick(['GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'POST']), url: r.pick([`${base}/${resource}/${id}`, `${base}/${id}`, `${base}/${resource}/${id}/${id}`, `/scim/v2/${id}/Users`, `/scim/v2/${id}`, `/${id}`, `/admin/v1/tenants/${id}`, `${base}//${resource}`, `${base}/${resource}/`]), headers: { ...auth, ...(r.chance(0.5) ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) } };
    case 6:
    case 7: // query parameters: filters, paging, projection
      return { kind: 'query', method: r.pick(['GET', 'GET', 'HEAD']), url: `${base}/${r.pick([resource, `${resource}/${r.pick([k.userId, k.groupId])}`])}?${Array.from({ length: 1 + r.int(3) }, () => r.pick(QUERIES(r))).join('&')}`, headers: auth };
    case 8: // search bodies
      return {
        kind: 'search',
        method: 'POST',
        url: `${base}/${r.pick(['', 'Users/', 'Groups/'])}.search`,
        headers: { ...auth, ...json },
        payload: JSON.stringify({ schemas: r.pick([[SEARCH_REQUEST_SCHEMA], []]), filter: r.chance(0.7) ? randomFilter(r) : r.pick(ODD_VALUES(r)), startIndex: r.pick([1, 0, -5, 2 ** 31, 1e300, '1', null]), count: r.pick([1, 0, -1, 2 ** 31, 1e300, 'x']), attributes: r.pick([['userName'], 'userName', [1], null]), sortBy: r.pick([undefined, 'userName', 'x', 1]), cursor: r.pick([undefined, '', 'x']) }),
      };
    case 9: {
      // header abuse
      const headers: Record<string, string> = r.pick([
        { authorization: r.pick(['Bearer', 'Bearer ', `bearer ${k.token}`, `Bearer  ${k.token}`, `Bearer ${k.token} extra`, 'Basic YTpi', `Bearer ${'x'.repeat(8000)}`, `Bearer ${k.token}\t`, 'Negotiate', '']) },
        { ...auth, 'if-match': r.pick(['W/', '"', '*,*', `W/"${'9'.repeat(400)}"`, 'W/"1", garbage', '', 'W/"-1"']) },
        { ...auth, 'if-none-match': r.pick(['W/', '"', '*', 'W/"1"', 'x'.repeat(4000)]) },
        { ...auth, prefer: r.pick(['return=minimal', 'return=', 'x'.repeat(2000), 'return=representation; foo']) },
        { ...auth, accept: r.pick(['text/html', 'application/xml', '*/*;q=0', '']) },
        { ...auth, 'x-request-id': r.pick(['', 'x'.repeat(10_000), '../../etc', '\u00e9']) },
        { ...auth, 'x-forwarded-for': r.pick(['1.1.1.1, 2.2.2.2', 'garbage', '::1', '']) },
      ]);
      const write = r.chance(0.5);
      return { kind: 'headers', method: write ? 'PATCH' : 'GET', url: `${base}/Users/${k.userId}`, headers: write ? { ...json, ...headers } : headers, ...(write ? { payload: JSON.stringify(patchBody(r, k)) } : {}) };
    }
    case 10: // content types
      return {
        kind: 'content-type',
        method: 'POST',
        url: `${base}/${r.pick(['Users', 'Groups', 'Bulk', '.search'])}`,
        headers: { ...auth, 'content-type': r.pick(['text/plain', 'application/json; charset=latin1', 'application/scim+json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json;;;', 'application/merge-patch+json', '*/*', 'garbage', 'application/scim+json; charset="']) },
        payload: r.pick([JSON.stringify(user(`ct${r.int(1e9)}@example.com`)), 'a=1&b=2', '<x/>', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--', '']),
      };
    default: // the admin API
      return {
        kind: 'admin',
        method: r.pick(['GET', 'POST', 'PATCH', 'DELETE']),
        url: `/admin/v1/tenants${r.pick(['', `/${id}`, `/${k.adminTarget}`, `/${k.adminTarget}/tokens/${id}`, `/${k.adminTarget}/webhooks/${id}`, `/${k.adminTarget}/events?after=${id}`, `/${k.adminTarget}/requests?${r.pick(QUERIES(r))}`, `?after=${id}&limit=${r.pick(['-1', '1e9', 'x'])}`])}`,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...json },
        payload: r.chance(0.5) ? JSON.stringify(r.chance(0.5) ? { id: r.pick(ODD_STRINGS), name: r.pick(ODD_VALUES(r)), settings: r.pick(ODD_VALUES(r)) } : body(r, k)) : r.pick(MALFORMED),
      };
  }
}

interface Problem {
  kind: string;
  request: string;
  what: string;
}

const describeRequest = (q: FuzzRequest) => `${q.method} ${q.url.slice(0, 200)} ${JSON.stringify(q.headers).slice(0, 200)} ${(q.payload ?? '').slice(0, 300)}`;

/** The problems of one SCIM error body, if any. */
function errorShape(status: number, text: string): string | undefined {
  let b: { schemas?: unknown; status?: unknown; detail?: unknown };
  try {
    b = JSON.parse(text);
  } catch {
    return `error body is not JSON: ${text.slice(0, 200)}`;
  }
  if (!Array.isArray(b.schemas) || !b.schemas.includes(ERROR_SCHEMA)) return `error body without the error schema: ${text.slice(0, 200)}`;
  if (b.status !== String(status)) return `error body status ${String(b.status)} for HTTP ${status}`;
  if (typeof b.detail !== 'string' || !b.detail) return 'error body without detail';
  return undefined;
}

/** Raw requests inject cannot send: answered with a SCIM 4xx, never 5xx, and the server keeps serving. */
const RAW: [string, string | Buffer][] = [
  ['garbage request line', 'GARBAGE\r\n\r\n'],
  ['unknown method', 'FROB /livez HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['HTTP/9.9', 'GET /livez HTTP/9.9\r\nHost: x\r\n\r\n'],
  ['spaces in the target', 'GET /scim/v2/acme/Users a b HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a header without colon', 'GET /livez HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'],
  ['a NUL in a header', 'GET /livez HTTP/1.1\r\nHost: x\r\nX-A: b\u0000c\r\n\r\n'],
  ['a header name with spaces', 'GET /livez HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n'],
  ['two Content-Lengths', 'POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}'],
  ['Content-Length and chunked', 'POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['a bad chunk size', 'POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
  ['a negative Content-Length', 'POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
  ['a huge Content-Length', 'POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nContent-Type: application/scim+json\r\nContent-Length: 99999999999\r\n\r\n{}'],
  ['a 64 KiB header', `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(65_536)}\r\n\r\n`],
  ['bare LF line ends', 'GET /livez HTTP/1.1\nHost: x\n\n'],
  ['an obsolete folded header', 'GET /livez HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  c\r\n\r\n'],
  ['bytes that are not UTF-8 in the target', Buffer.concat([Buffer.from('GET /scim/v2/acme/Users/'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')])],
  ['a CR in the target', 'GET /livez\rX HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an absolute-form target', 'GET http://evil.example/scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a CONNECT', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n'],
];

/** One raw exchange: the server's first answer (or what came before it closed, or 1 s of silence). */
function rawExchange(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('data', (c) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (end >= 0 && text.length >= end + 4 + length) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.write(data);
  });
}

for (const backend of backends) {
  t.test(`${backend}: ${REQUESTS} hostile requests (seed ${SEED}): no 5xx, none slow, SCIM errors, no partial writes`, async (t) => {
    // The rate limits would answer most of a fuzz run with 429 (test/ops/rate-limit.test.ts covers them).
    const a = await startApp(t, backend, { RATE_LIMIT_SCIM_PER_MINUTE: '0', RATE_LIMIT_ADMIN_PER_MINUTE: '0' });
    const u = await a.scim('POST', '/Users', user('fuzz.kept@example.com', { emails: [{ value: 'fuzz.kept@example.com', type: 'work' }] }));
    const g = await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Fuzz kept', members: [{ value: u.body.id }] });
    const strict = await a.newTenant('strict');
    // inject resolves dot segments, %2e%2e included (WHATWG URL), so an admin path can end at the tenant itself:
    // the admin part of the fuzz works on a tenant of its own.
    await a.newTenant('admin-target');
    await a.admin('PATCH', '/tenants/strict', { settings: { compatibility: 'strict' } });
    const tenants: Known[] = [
      { tenant: a.tenant, adminTarget: 'admin-target', token: a.token, userId: u.body.id, groupId: g.body.id },
      { ...strict, adminTarget: 'admin-target', userId: (await a.app.inject({ method: 'POST', url: '/scim/v2/strict/Users', headers: { authorization: `Bearer ${strict.token}`, 'content-type': 'application/scim+json' }, payload: JSON.stringify(user('strict.kept@example.com')) })).json().id, groupId: g.body.id },
    ];
    const db = a.database.db;
    const names = tenants.map((k) => k.tenant);

    const r = rng(SEED);
    const loopStart = performance.now();
    const problems: Problem[] = [];
    const statuses = new Map<number, number>();
    let slowest = 0;
    let refused = 0;
    let snapMs = 0;
    let injectMs = 0;
    let before = await dbSnapshot(db, names);
    for (let i = 0; i < REQUESTS; i++) {
      const q = fuzzRequest(r, r.chance(0.75) ? tenants[0]! : tenants[1]!);
      const problem = (what: string) => problems.push({ kind: q.kind, request: describeRequest(q), what });
      const started = performance.now();
      let res;
      try {
        res = await a.app.inject({ method: q.method as 'GET', url: q.url, headers: q.headers, ...(q.payload !== undefined ? { payload: q.payload } : {}) });
      } catch (err) {
        problem(`inject threw ${String(err)}`);
        continue;
      }
      const ms = performance.now() - started;
      slowest = Math.max(slowest, ms);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (ms >= SLOW_MS) problem(`took ${Math.round(ms)} ms`);
      if (res.statusCode >= 500) problem(`answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
      if (res.statusCode >= 400 && q.method !== 'HEAD') {
        const bad = errorShape(res.statusCode, res.body);
        if (bad) problem(bad);
      }
      if (q.kind === 'bulk' && res.statusCode === 200) {
        for (const op of (res.json().Operations ?? []) as { status: string; response?: unknown }[]) {
          if (Number(op.status) >= 500) problem(`a Bulk operation answered ${op.status}: ${JSON.stringify(op.response).slice(0, 300)}`);
          if (Number(op.status) >= 400) {
            const bad = errorShape(Number(op.status), JSON.stringify(op.response));
            if (bad) problem(`a Bulk operation's ${bad}`);
          }
        }
      }
      // A refused request stores nothing; after a success the snapshot moves on.
      const snapStart = performance.now();
      const after = await dbSnapshot(db, names);
      snapMs += performance.now() - snapStart;
      injectMs += ms;
      if (res.statusCode >= 400) {
        refused++;
        if (after !== before) {
          const [was, is] = [before.split('\n'), after.split('\n')];
          problem(`refused with ${res.statusCode} but changed the database: ${JSON.stringify({ gone: was.filter((l) => !is.includes(l)), added: is.filter((l) => !was.includes(l)) }).slice(0, 1500)}`);
        }
      }
      before = after;
    }
    t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}; slowest ${Math.round(slowest)} ms; ${refused} refused; requests ${Math.round(injectMs)} ms, snapshots ${Math.round(snapMs)} ms, loop ${Math.round(performance.now() - loopStart)} ms`);
    t.ok(refused > REQUESTS / 2, `most requests were refused (${refused}): the fuzz reaches the checks`);
    t.ok(statuses.size >= 8, `varied answers (${statuses.size} statuses)`);
    t.same(problems.slice(0, 20), [], `${problems.length} problems in ${REQUESTS} requests`);

    // What inject cannot send, on a real loopback port.
    await a.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (a.app.server.address() as { port: number }).port;
    for (const [label, data] of RAW) {
      const answer = await rawExchange(port, data);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
      t.ok(status === 0 || (status >= 400 && status < 500) || status === 200 || status === 404, `${label}: a 4xx or no answer, never 5xx (${answer.split('\r\n')[0]})`);
      if (status >= 400) {
        // The first answer's body (a pipelined request may be answered after it).
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(answer)?.[1] ?? 0);
        const start = answer.indexOf('\r\n\r\n') + 4;
        const text = answer.slice(start, start + length);
        t.notOk(errorShape(status, text), `${label}: a SCIM error body (${text.slice(0, 120)})`);
      }
    }
    t.comment(`raw part done at ${Math.round(performance.now() - loopStart)} ms`);
    const live = await rawExchange(port, 'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    t.match(live, /^HTTP\/1\.1 200/, 'still serving after the raw requests');
  });
}

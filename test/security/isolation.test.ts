/**
 * Tenant isolation on every SCIM route, generated from the route table
 * (issue 24, item 9). The routes are read from Fastify's route tree; every
 * one must have probes below, or this test fails, so a new route cannot
 * skip them. A probe is a request of another tenant ("evil") aimed at the
 * victim's resources ("acme") by id, by filter, through members and $ref,
 * /Bulk and the attributes/excludedAttributes variants. Each must answer
 * 404 (or 400 for members that are not the caller's, or a result without
 * the victim's resources), must not reveal anything of the victim, must
 * change nothing of either tenant (database snapshot before and after) and
 * must record no event. Every route also refuses the other tenant's token
 * on the victim's URL (401).
 */
import t from 'tap';
import { BULK_REQUEST_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, SEARCH_REQUEST_SCHEMA } from '../../src/scim/schema.js';
import { ERROR_SCHEMA, startApp, toRes, user, type Res, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { registeredRoutes } from '../helpers/routes.js';
import { dbSnapshot } from '../helpers/snapshot.js';

const PREFIX = '/scim/v2/:tenant';
const patchOp = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });
const search = (body: Record<string, unknown>) => ({ schemas: [SEARCH_REQUEST_SCHEMA], ...body });
const bulk = (ops: Record<string, unknown>[], failOnErrors?: number) => ({ schemas: [BULK_REQUEST_SCHEMA], ...(failOnErrors ? { failOnErrors } : {}), Operations: ops.map((o, i) => ({ bulkId: `b${i}`, ...o })) });

interface Caller {
  tenant: string;
  token: string;
}
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Victim {
  users: { id: string; userName: string }[];
  groups: { id: string; displayName: string }[];
  /** Strings only the victim's data contains: no answer to the attacker may carry them. */
  markers: string[];
  /** A cursor the victim obtained (RFC 9865), replayed by the attacker. */
  cursor: string;
}

interface Attacker extends Caller {
  userId: string;
  groupId: string;
}

/**
 * notFound        404.
 * noVictimData    answered (2xx or 400) without any of the victim's resources.
 * refusedMembers  the victim's ids as members: a strict tenant gets 400 invalidValue and nothing changes; a
 *                 lenient one may have the write done without them (README "Lenient tenants").
 * bulkAllFailed   every operation of the Bulk request refused (404, or 400/409/412).
 * anyClientAnswer anything but a 5xx (discovery; the base URL).
 */
type Expect = 'notFound' | 'noVictimData' | 'refusedMembers' | 'bulkAllFailed' | 'anyClientAnswer';

interface Probe {
  label: string;
  method: Method;
  /** Path after the tenant's base URL. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  expect: Expect;
  /** A read whose control request (the victim's own token) must answer 200 with the victim's data. */
  control?: boolean;
  /** The probe may change the attacker's own tenant (a legitimate create there). */
  ownChange?: boolean;
}

/** The probes per route (method and lower-cased path after /scim/v2/:tenant). */
function probes(v: Victim, e: Attacker): Record<string, Probe[]> {
  const [u1, u2] = v.users as [Victim['users'][0], Victim['users'][0]];
  const [g1, g2] = v.groups as [Victim['groups'][0], Victim['groups'][0]];
  const ref = (type: 'Users' | 'Groups', id: string) => `https://roster.test/scim/v2/acme/${type}/${id}`;
  const userFilters = [`id eq "${u1.id}"`, `userName eq "${u1.userName}"`, `groups.value eq "${g1.id}"`, `groups[value eq "${g2.id}"]`, 'userName pr', `id sw "${u1.id.slice(0, 8)}"`];
  const groupFilters = [`id eq "${g1.id}"`, `displayName eq "${g1.displayName}"`, `members.value eq "${u1.id}"`, `members[value eq "${g2.id}"]`, 'displayName pr'];
  const q = encodeURIComponent;
  const byIdReads = (type: 'Users' | 'Groups', id: string, derived: string, method: 'GET' | 'HEAD'): Probe[] => [
    { label: `${method} another tenant's ${type} id`, method, path: `/${type}/${id}`, expect: 'notFound', control: method === 'GET' },
    ...[`attributes=${derived}`, `excludedAttributes=${derived}`, 'attributes=id', `excludedAttributes=${derived},displayName`, `attributes=${derived}.value`].map(
      (p): Probe => ({ label: `${method} by id ?${p}`, method, path: `/${type}/${id}?${p}`, expect: 'notFound', control: method === 'GET' }),
    ),
    { label: `${method} by id with If-None-Match: * (never 304)`, method, path: `/${type}/${id}`, headers: { 'if-none-match': '*' }, expect: 'notFound' },
    { label: `${method} by id with If-None-Match: W/"1"`, method, path: `/${type}/${id}`, headers: { 'if-none-match': 'W/"1"' }, expect: 'notFound' },
    { label: `${method} by upper-case id`, method, path: `/${type}/${id.toUpperCase()}`, expect: 'notFound' },
  ];
  const writes = (type: 'Users' | 'Groups', id: string, replacement: Record<string, unknown>, patch: unknown): Record<string, Probe[]> => {
    const variants: [string, Record<string, string>, string][] = [
      ['', {}, ''],
      [' with If-Match: W/"1" (404, not 412)', { 'if-match': 'W/"1"' }, ''],
      [' with If-Match: *', { 'if-match': '*' }, ''],
      [' ?excludedAttributes', {}, `?excludedAttributes=${type === 'Users' ? 'groups' : 'members'}`],
      [' ?attributes', {}, `?attributes=${type === 'Users' ? 'groups' : 'members'}`],
      [' with Prefer: return=minimal', { prefer: 'return=minimal' }, ''],
    ];
    const key = type.toLowerCase();
    return {
      [`PUT /${key}/:id`]: variants.map(([label, headers, query]) => ({ label: `PUT another tenant's ${type} id${label}`, method: 'PUT', path: `/${type}/${id}${query}`, body: replacement, headers, expect: 'notFound' })),
      [`PATCH /${key}/:id`]: variants.map(([label, headers, query]) => ({ label: `PATCH another tenant's ${type} id${label}`, method: 'PATCH', path: `/${type}/${id}${query}`, body: patch, headers, expect: 'notFound' })),
      [`DELETE /${key}/:id`]: variants.slice(0, 3).map(([label, headers]) => ({ label: `DELETE another tenant's ${type} id${label}`, method: 'DELETE', path: `/${type}/${id}`, headers, expect: 'notFound' })),
    };
  };
  const lists = (type: 'Users' | 'Groups', filters: string[], method: 'GET' | 'HEAD'): Probe[] => [
    { label: `${method} /${type}`, method, path: `/${type}?count=1000`, expect: 'noVictimData' },
    ...filters.map((f): Probe => ({ label: `${method} /${type}?filter=${f}`, method, path: `/${type}?filter=${q(f)}`, expect: 'noVictimData' })),
    { label: `${method} /${type} with the victim's cursor`, method, path: `/${type}?cursor=${q(v.cursor)}&count=1`, expect: 'noVictimData' },
    { label: `${method} /${type}?startIndex=2&count=1`, method, path: `/${type}?startIndex=2&count=1`, expect: 'noVictimData' },
    { label: `${method} /${type}?sortBy=meta.created&excludedAttributes=groups,members`, method, path: `/${type}?sortBy=meta.created&excludedAttributes=${type === 'Users' ? 'groups' : 'members'}`, expect: 'noVictimData' },
  ];
  const searches = (type: string, filters: string[]): Probe[] => [
    { label: `POST ${type}/.search`, method: 'POST', path: `${type}/.search`, body: search({ count: 1000 }), expect: 'noVictimData' },
    ...filters.map((filter): Probe => ({ label: `POST ${type}/.search filter=${filter}`, method: 'POST', path: `${type}/.search`, body: search({ filter, attributes: ['id', 'groups', 'members'] }), expect: 'noVictimData' })),
    { label: `POST ${type}/.search with the victim's cursor`, method: 'POST', path: `${type}/.search`, body: search({ cursor: v.cursor, count: 1 }), expect: 'noVictimData' },
  ];
  const memberLists: [string, unknown[]][] = [
    ["another tenant's user", [{ value: u1.id }]],
    ["another tenant's group", [{ value: g1.id, type: 'Group' }]],
    ["another tenant's user by $ref", [{ value: u2.id, $ref: ref('Users', u2.id) }]],
    ["its own user with another tenant's user", [{ value: e.userId }, { value: u1.id, type: 'User' }]],
  ];
  const discovery = (path: string): Record<string, Probe[]> =>
    Object.fromEntries(
      (['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).map((method) => [
        `${method} ${path.toLowerCase().replace(/\/(urn|user)[^/]*$/i, '/:name')}`,
        [{ label: `${method} ${path}`, method, path, ...(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? {} : { body: { schemas: [GROUP_SCHEMA] } }), expect: 'anyClientAnswer' as const }],
      ]),
    );
  const byIdBulkOps = [
    { method: 'PUT', path: `/Users/${u1.id}`, data: user(u1.userName, { displayName: 'Owned' }) },
    { method: 'PATCH', path: `/Users/${u2.id}`, data: patchOp({ op: 'replace', path: 'active', value: false }) },
    { method: 'DELETE', path: `/Users/${u1.id}` },
    { method: 'PUT', path: `/Groups/${g1.id}`, data: { schemas: [GROUP_SCHEMA], displayName: 'Owned', members: [] } },
    { method: 'PATCH', path: `/Groups/${g1.id}`, data: patchOp({ op: 'remove', path: 'members' }) },
    { method: 'DELETE', path: `/Groups/${g2.id}` },
    { method: 'PATCH', path: `/Groups/${g2.id}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: e.userId }] }) },
  ];
  const memberBulkOps = [
    { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP_SCHEMA], displayName: 'Stolen', members: [{ value: u1.id }] } },
    { method: 'PATCH', path: '/Groups/bulkId:g', data: patchOp({ op: 'add', path: 'members', value: [{ value: u2.id }] }) },
    { method: 'PATCH', path: `/Groups/${e.groupId}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: u1.id, $ref: ref('Users', u1.id) }] }) },
    { method: 'PUT', path: `/Groups/${e.groupId}`, data: { schemas: [GROUP_SCHEMA], displayName: 'Evil group', members: [{ value: g2.id, type: 'Group' }] } },
  ];

  return {
    'GET /': [{ label: 'GET the base URL', method: 'GET', path: '', expect: 'anyClientAnswer' }],
    'HEAD /': [{ label: 'HEAD the base URL', method: 'HEAD', path: '', expect: 'anyClientAnswer' }],
    ...discovery('/ServiceProviderConfig'),
    ...discovery('/Schemas'),
    ...discovery('/Schemas/urn:ietf:params:scim:schemas:core:2.0:User'),
    ...discovery('/ResourceTypes'),
    ...discovery('/ResourceTypes/User'),
    'GET /serviceconfiguration': [{ label: 'GET /serviceConfiguration', method: 'GET', path: '/serviceConfiguration', expect: 'anyClientAnswer' }],
    'HEAD /serviceconfiguration': [{ label: 'HEAD /serviceConfiguration', method: 'HEAD', path: '/serviceConfiguration', expect: 'anyClientAnswer' }],

    'GET /users': lists('Users', userFilters, 'GET'),
    'HEAD /users': lists('Users', userFilters, 'HEAD'),
    'POST /users/.search': searches('/Users', userFilters),
    'POST /users': [
      {
        label: "POST /Users with another tenant's id, groups and userName: a new user of its own",
        method: 'POST',
        path: '/Users?attributes=groups,id',
        body: user(u1.userName.toUpperCase(), { id: u1.id, groups: [{ value: g1.id }], meta: { location: ref('Users', u1.id) } }),
        expect: 'noVictimData',
        ownChange: true,
      },
    ],
    'GET /users/:id': [...byIdReads('Users', u1.id, 'groups', 'GET'), ...byIdReads('Users', u2.id, 'groups', 'GET').slice(0, 3)],
    'HEAD /users/:id': byIdReads('Users', u1.id, 'groups', 'HEAD'),
    ...writes('Users', u1.id, user(u1.userName, { displayName: 'Owned', active: false }), patchOp({ op: 'replace', path: 'displayName', value: 'Owned' }, { op: 'replace', path: 'active', value: false })),

    'GET /groups': lists('Groups', groupFilters, 'GET'),
    'HEAD /groups': lists('Groups', groupFilters, 'HEAD'),
    'POST /groups/.search': searches('/Groups', groupFilters),
    'POST /groups': memberLists.map(([what, members]) => ({ label: `POST /Groups with ${what} as member`, method: 'POST', path: '/Groups', body: { schemas: [GROUP_SCHEMA], displayName: `Evil ${what}`, members }, expect: 'refusedMembers' })),
    'GET /groups/:id': [...byIdReads('Groups', g1.id, 'members', 'GET'), ...byIdReads('Groups', g2.id, 'members', 'GET').slice(0, 3)],
    'HEAD /groups/:id': byIdReads('Groups', g1.id, 'members', 'HEAD'),
    ...(() => {
      const w = writes('Groups', g1.id, { schemas: [GROUP_SCHEMA], displayName: 'Owned', members: [] }, patchOp({ op: 'replace', path: 'displayName', value: 'Owned' }, { op: 'remove', path: 'members' }));
      // Its own group, given another tenant's members.
      w['PUT /groups/:id']!.push(
        ...memberLists.map(([what, members]): Probe => ({ label: `PUT its own group with ${what} as member`, method: 'PUT', path: `/Groups/${e.groupId}`, body: { schemas: [GROUP_SCHEMA], displayName: 'Evil group', members }, expect: 'refusedMembers' })),
      );
      w['PATCH /groups/:id']!.push(
        ...memberLists.flatMap(([what, members]): Probe[] => [
          { label: `PATCH add ${what} to its own group`, method: 'PATCH', path: `/Groups/${e.groupId}`, body: patchOp({ op: 'add', path: 'members', value: members }), expect: 'refusedMembers' },
          { label: `PATCH replace members of its own group with ${what}`, method: 'PATCH', path: `/Groups/${e.groupId}`, body: patchOp({ op: 'replace', path: 'members', value: members }), expect: 'refusedMembers' },
        ]),
        // Removing another tenant's member from its own group: nothing to remove, nothing changes.
        { label: "PATCH remove another tenant's user from its own group", method: 'PATCH', path: `/Groups/${e.groupId}`, body: patchOp({ op: 'remove', path: `members[value eq "${u1.id}"]` }), expect: 'anyClientAnswer' },
        { label: "PATCH another tenant's group: add its own user", method: 'PATCH', path: `/Groups/${g1.id}`, body: patchOp({ op: 'add', path: 'members', value: [{ value: e.userId }] }), expect: 'notFound' },
      );
      return w;
    })(),

    'POST /.search': searches('', [...userFilters.slice(0, 2), `displayName eq "${g1.displayName}"`]),
    'POST /bulk': [
      { label: "POST /Bulk of operations on another tenant's ids", method: 'POST', path: '/Bulk', body: bulk(byIdBulkOps), expect: 'bulkAllFailed' },
      ...byIdBulkOps.map((o): Probe => ({ label: `POST /Bulk: ${o.method} ${o.path} alone`, method: 'POST', path: '/Bulk', body: bulk([o], 1), expect: 'bulkAllFailed' })),
      { label: "POST /Bulk of operations giving another tenant's ids as members", method: 'POST', path: '/Bulk', body: bulk(memberBulkOps), expect: 'refusedMembers' },
      ...memberBulkOps.map((o): Probe => ({ label: `POST /Bulk: ${o.method} ${o.path} with another tenant's members`, method: 'POST', path: '/Bulk', body: bulk([o], 1), expect: 'refusedMembers' })),
    ],
  };
}

/** Member ids of a tenant's groups. */
async function memberIds(a: TestApp, tenant: string): Promise<string[]> {
  const rows = await a.database.db.selectFrom('group_members').select('member_id').where('tenant_id', '=', tenant).execute();
  return rows.map((r) => r.member_id);
}

for (const backend of backends) {
  t.test(`${backend}: another tenant's credential reaches nothing of a tenant, on every SCIM route`, async (t) => {
    const a = await startApp(t, backend);
    const victim: Caller = { tenant: a.tenant, token: a.token };
    const send = async (as: Caller, p: { method: Method; path: string; body?: unknown; headers?: Record<string, string> }): Promise<Res> =>
      toRes(
        await a.app.inject({
          method: p.method,
          url: `/scim/v2/${as.tenant}${p.path}`,
          headers: { authorization: `Bearer ${as.token}`, ...(p.body === undefined ? {} : { 'content-type': 'application/scim+json' }), ...p.headers },
          ...(p.body === undefined ? {} : { payload: JSON.stringify(p.body) }),
        }),
      );
    const create = async (as: Caller, path: string, body: unknown) => {
      const r = await send(as, { method: 'POST', path, body });
      t.equal(r.status, 201, `seed ${path}`);
      return r.body as { id: string };
    };

    // The victim: two users, a group holding one of them and a nested group holding the other.
    const u1 = await create(victim, '/Users', user('victim.one@acme.test', { displayName: 'Victim Secret One', externalId: 'victim-ext-1', emails: [{ value: 'victim.one@acme.test', type: 'work' }] }));
    const u2 = await create(victim, '/Users', user('victim.two@acme.test', { displayName: 'Victim Secret Two', externalId: 'victim-ext-2' }));
    const g2 = await create(victim, '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Victim Nested Group', externalId: 'victim-gext-2', members: [{ value: u2.id }] });
    const g1 = await create(victim, '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Victim Group', externalId: 'victim-gext-1', members: [{ value: u1.id }, { value: g2.id, type: 'Group' }] });
    const page = await send(victim, { method: 'GET', path: '/Users?cursor&count=1' });
    t.ok(page.body.nextCursor, 'the victim has a cursor to replay');
    const v: Victim = {
      users: [
        { id: u1.id, userName: 'victim.one@acme.test' },
        { id: u2.id, userName: 'victim.two@acme.test' },
      ],
      groups: [
        { id: g1.id, displayName: 'Victim Group' },
        { id: g2.id, displayName: 'Victim Nested Group' },
      ],
      markers: [u1.id, u2.id, g1.id, g2.id, 'victim.one@acme.test', 'victim.two@acme.test', 'Victim Secret', 'Victim Group', 'Victim Nested Group', 'victim-ext-', 'victim-gext-'],
      cursor: page.body.nextCursor,
    };
    const victimIds = new Set([u1.id, u2.id, g1.id, g2.id]);
    const routes = registeredRoutes(a.app)
      .filter((r) => r.path === PREFIX || r.path.startsWith(`${PREFIX}/`))
      .map((r) => `${r.method} ${r.path.slice(PREFIX.length) || '/'}`);
    t.ok(routes.length >= 50, `the route table was read (${routes.length} SCIM routes)`);
    const db = a.database.db;

    // The attacker in each compatibility mode: lenient (the default) skips unknown members, strict refuses them.
    for (const compatibility of ['lenient', 'strict'] as const) {
      const evil = await a.newTenant(`evil-${compatibility}`);
      await a.admin('PATCH', `/tenants/${evil.tenant}`, { settings: { compatibility } });
      const e1 = await create(evil, '/Users', user('evil.one@evil.test', { displayName: 'Evil One' }));
      const eg = await create(evil, '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Evil group', members: [{ value: e1.id }] });
      const table = probes(v, { ...evil, userId: e1.id, groupId: eg.id });

      // Generated from the route table: every SCIM route has probes, and every probe names a route.
      for (const route of routes) t.ok(table[route]?.length, `route ${route} has isolation probes`);
      for (const route of Object.keys(table)) t.ok(routes.includes(route), `probe key ${route} is a registered route`);

      let victimBefore = await dbSnapshot(db, [victim.tenant]);
      let evilBefore = await dbSnapshot(db, [evil.tenant]);
      let probesRun = 0;
      for (const route of routes) {
        for (const p of table[route] ?? []) {
          const label = `${compatibility} ${route}: ${p.label}`;
          const sent = `${p.path} ${JSON.stringify(p.body ?? '')}`;
          // The other tenant's token on the victim's URL: 401 whatever the route.
          const cross = await send({ tenant: victim.tenant, token: evil.token }, p);
          t.equal(cross.status, 401, `${label}: the other tenant's token on the victim's URL is 401`);
          const r = await send(evil, p);
          probesRun++;
          t.ok(r.status < 500, `${label}: no 5xx (${r.status})`);
          const text = r.raw.body;
          for (const m of v.markers) if (text.includes(m) && !sent.includes(m)) t.fail(`${label}: the answer reveals ${m}: ${text.slice(0, 300)}`);
          if (r.status >= 400 && p.method !== 'HEAD') t.ok(r.body?.schemas?.includes(ERROR_SCHEMA), `${label}: a SCIM error body`);
          const strict = compatibility === 'strict';
          switch (p.expect) {
            case 'notFound':
              t.equal(r.status, 404, `${label}: 404 (${text.slice(0, 200)})`);
              break;
            case 'refusedMembers':
              if (strict && p.path === '/Bulk') {
                const statuses = ((r.body?.Operations ?? []) as { status: string }[]).map((o) => Number(o.status));
                t.ok(statuses.length > 0 && statuses.every((s) => s >= 400), `${label}: each operation refused (${statuses.join(', ')})`);
              } else if (strict) {
                t.equal(r.status, 400, `${label}: 400 (${text.slice(0, 200)})`);
                t.equal(r.body?.scimType, 'invalidValue', `${label}: invalidValue`);
              } else t.ok(r.status < 300 || r.status === 400, `${label}: answered (${r.status})`);
              break;
            case 'noVictimData':
              t.ok(r.status < 300 || r.status === 400, `${label}: answered (${r.status})`);
              if (p.method !== 'HEAD' && r.status === 200 && Array.isArray(r.body?.Resources)) {
                const ids = (r.body.Resources as { id?: string }[]).map((x) => x.id);
                t.notOk(ids.some((id) => id && victimIds.has(id)), `${label}: no resource of the victim listed`);
              }
              break;
            case 'bulkAllFailed': {
              t.equal(r.status, 200, `${label}: the Bulk request is answered`);
              const statuses = ((r.body?.Operations ?? []) as { status: string }[]).map((o) => Number(o.status));
              t.ok(statuses.length > 0, `${label}: operations answered`);
              t.ok(statuses.every((s) => s === 404 || s === 400 || s === 409 || s === 412), `${label}: each operation refused (${statuses.join(', ')})`);
              break;
            }
            case 'anyClientAnswer':
              break;
          }
          // Nothing of the victim changed and no event was recorded for it; the attacker's own tenant
          // changed only by what it may legitimately do there, and never holds the victim's ids as members.
          const victimAfter = await dbSnapshot(db, [victim.tenant]);
          t.equal(victimAfter, victimBefore, `${label}: the victim's users, groups, members, versions and events are unchanged`);
          const evilAfter = await dbSnapshot(db, [evil.tenant]);
          if (!p.ownChange && (strict || p.expect !== 'refusedMembers')) t.equal(evilAfter, evilBefore, `${label}: nothing changed in the attacker's tenant, no event recorded`);
          t.notOk((await memberIds(a, evil.tenant)).some((id) => victimIds.has(id)), `${label}: no group of the attacker holds the victim's resources`);
          victimBefore = victimAfter;
          evilBefore = evilAfter;
          // Control: the same read with the victim's own token finds the victim's resource (the id is real).
          if (p.control) t.equal((await send(victim, p)).status, 200, `${label}: control, the owner reads it`);
        }
      }
      t.ok(probesRun >= 150, `${compatibility}: ${probesRun} probes run`);
    }
  });
}

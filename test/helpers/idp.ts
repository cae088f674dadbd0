/**
 * Replaying identity providers' documented requests (test/fixtures/entra,
 * test/fixtures/okta) and other clients' real requests (test/fixtures/clients)
 * against a Roster app.
 *
 * A fixture is one request as the IdP's documentation prints it, with the
 * state it needs and what must come back:
 *
 *   source    where the request is documented (title, section, url, document)
 *   settings  tenant settings for the run (default: the defaults). A PATCH
 *             fixture sets patchResponse only where the documented answer
 *             differs from what a default tenant gives (200 with a User, 204
 *             for a Group): "resource" where Okta prints 200 with the Group
 *   seed      users and groups created first, keyed by a label: the id the
 *             documentation uses ("5171a35d82074e068ce2") or "@name"
 *   request   method, path (relative to the tenant base URL), headers,
 *             body (JSON) or rawBody (text sent as is)
 *   status    the expected status
 *   expect    body (partial match), absent / present keys, and state after
 *             the request: users / groups by label (groups' members compared
 *             exactly, as labels), deletedUsers / deletedGroups
 *   strict    status (and body) on a tenant with compatibility "strict",
 *             when the request is worth checking there too
 *
 * Every label in request, expect and strict is replaced by the real id of the
 * seeded resource; "$created" in expect.state names what the request created.
 * Headers are sent exactly as the fixture lists them (plus Authorization): a
 * fixture without Content-Type sends its body without one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import type { Test } from 'tap';
import { startApp, toRes, type Res, type TestApp } from './app.js';
import type { Backend } from './db.js';
import type { TenantSettings } from '../../src/services/tenants.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

type Json = Record<string, any>;

export interface Fixture {
  source: Json;
  settings?: Partial<TenantSettings>;
  seed?: {
    users?: Record<string, Json>;
    groups?: Record<string, { displayName: string; externalId?: string; members?: string[] }>;
  };
  request: { method: string; path: string; headers?: Record<string, string>; body?: unknown; rawBody?: string };
  status: number;
  expect?: {
    body?: unknown;
    /** Keys that must not be in the response body: a top-level name, or a path as an array. */
    absent?: (string | (string | number)[])[];
    /** Top-level keys that must be in the response body with a non-empty value. */
    present?: string[];
    state?: {
      users?: Record<string, Json>;
      groups?: Record<string, Json & { members?: string[] }>;
      deletedUsers?: string[];
      deletedGroups?: string[];
    };
  };
  strict?: { status: number; body?: unknown };
}

export interface LoadedFixture {
  name: string;
  fixture: Fixture;
}

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

/**
 * Where fixtures come from: an IdP's documented requests, or (clients) what
 * test suites, scripts and HTTP libraries send, each with its source.
 */
export type FixtureSource = 'entra' | 'okta' | 'clients';

/** The documented-request fixtures of one source (every JSON file but the session-*.json replays). */
export function loadFixtures(idp: FixtureSource): LoadedFixture[] {
  const dir = join(FIXTURES, idp);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('session-'))
    .sort()
    .map((f) => ({ name: `${idp}/${f}`, fixture: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture }));
}

export function readFixture<T>(relative: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, relative), 'utf8')) as T;
}

/** A tenant of its own on the app, with the given settings and a token. */
export interface Tenant {
  id: string;
  token: string;
  request(method: string, path: string, opts?: { headers?: Record<string, string>; body?: unknown; rawBody?: string }): Promise<Res>;
}

let tenantSeq = 0;

export async function newTenant(a: TestApp, settings: Partial<TenantSettings> = {}, prefix = 'idp'): Promise<Tenant> {
  const id = `${prefix}-${++tenantSeq}`;
  await a.services.tenants.create({ id, settings });
  const { secret } = await a.services.tenants.issueToken(id, { name: 'idp' });
  return {
    id,
    token: secret,
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${secret}`, ...(opts.headers ?? {}) };
      const inject: InjectOptions = { method: method as InjectOptions['method'], url: `/scim/v2/${id}${path}`, headers };
      const text = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
      // A Buffer, so that no Content-Type is added when the fixture has none.
      if (text !== undefined) inject.payload = Buffer.from(text, 'utf8');
      return toRes(await a.app.inject(inject));
    },
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Replace every label by its real id, where the label stands alone (not inside a longer word or address). */
export function substitute<T>(value: T, ids: Map<string, string>): T {
  if (value === undefined || ids.size === 0) return value;
  const labels = [...ids.keys()].sort((a, b) => b.length - a.length);
  const re = new RegExp(`(?<![A-Za-z0-9@._-])(${labels.map(escape).join('|')})(?![A-Za-z0-9@_-])`, 'g');
  const replace = (s: string) => s.replace(re, (m) => ids.get(m)!);
  return typeof value === 'string' ? (replace(value) as T) : (JSON.parse(replace(JSON.stringify(value))) as T);
}

/** Create the fixture's seed resources; returns label → id. */
export async function seed(tenant: Tenant, s: Fixture['seed'] = {}): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const json = { 'content-type': 'application/scim+json' };
  for (const [label, body] of Object.entries(s.users ?? {})) {
    const r = await tenant.request('POST', '/Users', { headers: json, body: { schemas: [USER_SCHEMA], ...body } });
    if (r.status !== 201) throw new Error(`seeding user ${label}: ${r.status} ${JSON.stringify(r.body)}`);
    ids.set(label, r.body.id);
  }
  for (const [label, g] of Object.entries(s.groups ?? {})) {
    const members = (g.members ?? []).map((m) => {
      const id = ids.get(m);
      if (!id) throw new Error(`seed group ${label}: unknown member label ${m}`);
      return { value: id };
    });
    const body: Json = { schemas: [GROUP_SCHEMA], displayName: g.displayName, members };
    if (g.externalId) body.externalId = g.externalId;
    const r = await tenant.request('POST', '/Groups', { headers: json, body });
    if (r.status !== 201) throw new Error(`seeding group ${label}: ${r.status} ${JSON.stringify(r.body)}`);
    ids.set(label, r.body.id);
  }
  return ids;
}

function at(body: unknown, path: (string | number)[]): { found: boolean; value: unknown } {
  let cur: any = body;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !(key in cur)) return { found: false, value: undefined };
    cur = cur[key];
  }
  return { found: true, value: cur };
}

/** Member ids of a group, sorted. */
export async function memberIds(tenant: Tenant, groupId: string): Promise<string[]> {
  const r = await tenant.request('GET', `/Groups/${groupId}`);
  return ((r.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}

/**
 * Run one fixture on a fresh tenant: seed, send, check status, body and the
 * state afterwards. Returns the response.
 */
export async function runFixture(
  t: Test,
  a: TestApp,
  fx: Fixture,
  opts: { settings?: Partial<TenantSettings>; status?: number; body?: unknown; checkState?: boolean; pathSuffix?: string } = {},
): Promise<Res> {
  const tenant = await newTenant(a, { ...(fx.settings ?? {}), ...(opts.settings ?? {}) });
  const ids = await seed(tenant, fx.seed);
  let path = substitute(fx.request.path, ids);
  if (opts.pathSuffix) path += (path.includes('?') ? '&' : '?') + opts.pathSuffix;
  const res = await tenant.request(fx.request.method, path, {
    headers: fx.request.headers ?? {},
    body: substitute(fx.request.body, ids),
    rawBody: fx.request.rawBody,
  });
  const label = `${fx.request.method} ${path}`;
  const status = opts.status ?? fx.status;
  t.equal(res.status, status, `${label}: status ${status} (got ${res.status}: ${res.raw.body.slice(0, 300)})`);
  if (res.status !== 204 && res.status !== 304) {
    t.match(res.headers['content-type'], /^application\/scim\+json/, `${label}: application/scim+json`);
  } else {
    t.equal(res.raw.body, '', `${label}: no body`);
  }
  if (res.status >= 400) {
    t.match(res.body, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(res.status) }, `${label}: SCIM error body`);
  }
  const wantedBody = opts.body ?? (opts.status === undefined || opts.status === fx.status ? fx.expect?.body : undefined);
  if (wantedBody !== undefined) t.match(res.body, substitute(wantedBody, ids), `${label}: body`);
  if (res.status === status && status !== 204 && opts.body === undefined) {
    for (const p of fx.expect?.absent ?? []) t.notOk(at(res.body, Array.isArray(p) ? p : [p]).found, `${label}: no ${JSON.stringify(p)} in the body`);
    for (const p of fx.expect?.present ?? []) t.ok(at(res.body, [p]).value, `${label}: ${p} in the body`);
  }
  if ((opts.checkState ?? status === fx.status) && res.status === status) await checkState(t, tenant, fx, ids, res);
  return res;
}

async function checkState(t: Test, tenant: Tenant, fx: Fixture, ids: Map<string, string>, res: Res): Promise<void> {
  const state = fx.expect?.state;
  if (!state) return;
  if (res.body?.id) ids.set('$created', res.body.id);
  const idOf = (label: string) => ids.get(label) ?? label;
  for (const [label, want] of Object.entries(state.users ?? {})) {
    const r = await tenant.request('GET', `/Users/${idOf(label)}`);
    t.equal(r.status, 200, `user ${label} exists`);
    t.match(r.body, substitute(want, ids), `user ${label} afterwards`);
  }
  for (const [label, want] of Object.entries(state.groups ?? {})) {
    const r = await tenant.request('GET', `/Groups/${idOf(label)}`);
    t.equal(r.status, 200, `group ${label} exists`);
    const { members, ...rest } = want;
    t.match(r.body, substitute(rest, ids), `group ${label} afterwards`);
    if (members) {
      const got = ((r.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
      t.strictSame(got, members.map(idOf).sort(), `group ${label}: members`);
    }
  }
  for (const label of state.deletedUsers ?? []) t.equal((await tenant.request('GET', `/Users/${idOf(label)}`)).status, 404, `user ${label} is gone`);
  for (const label of state.deletedGroups ?? []) t.equal((await tenant.request('GET', `/Groups/${idOf(label)}`)).status, 404, `group ${label} is gone`);
}

// ---------------------------------------------------------------------------
// Session replays (test/fixtures/{entra,okta}/session-*.json, made by test/fixtures/generate.ts)

export interface SessionStep {
  note?: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  status: number;
  capture?: string;
  expect?: { totalResults?: number; ids?: string[]; absent?: string[] };
}

export interface Session {
  description: string;
  sources: string[];
  steps: SessionStep[];
  final: {
    users: Record<string, Json | null>;
    groups: Record<string, { resource: Json; members: string[] }>;
  };
}

const fill = <T>(value: T, ids: Map<string, string>): T => {
  if (value === undefined) return value;
  const text = JSON.stringify(value).replace(/\{\{([^}]+)\}\}/g, (m, label: string) => {
    const id = ids.get(label);
    if (!id) throw new Error(`no id captured for ${m}`);
    return id;
  });
  return JSON.parse(text) as T;
};

const omit = (o: Json, ...keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

/**
 * The status of a successful PATCH on a tenant with this patchResponse, given
 * what a tenant with default settings answers (`status`, 200 or 204):
 * "resource" is always 200, "noContent" always 204.
 */
export function patchStatus(status: number, patchResponse: TenantSettings['patchResponse'] | undefined): number {
  if (status !== 200 && status !== 204) return status;
  return patchResponse === 'resource' ? 200 : patchResponse === 'noContent' ? 204 : status;
}

/**
 * Replay a session on a fresh tenant with the given settings, request by
 * request, then check the final state exactly: every user's representation
 * (without id, meta and the derived groups), every group's attributes and
 * members, the users' groups, deleted users gone, and the totals. A PATCH
 * step's status is what a default tenant answers; patchStatus gives it for
 * the tenant's patchResponse.
 */
/**
 * Replay a recorded session per backend, each replay on a tenant of its own: the default tenant, then
 * patchResponse "resource" (200 for every PATCH) and "noContent" (204 for every PATCH).
 */
export function replayOnEachPatchResponse(tap: Test, backends: Backend[], fixture: string): void {
  const session = readFixture<Session>(fixture);
  for (const backend of backends) {
    tap.test(backend, async (t) => {
      const a = await startApp(t, backend);
      await t.test('default tenant', (t) => runSession(t, a, session));
      await t.test('patchResponse resource', (t) => runSession(t, a, session, { patchResponse: 'resource' }));
      await t.test('patchResponse noContent', (t) => runSession(t, a, session, { patchResponse: 'noContent' }));
    });
  }
}

export async function runSession(t: Test, a: TestApp, session: Session, settings: Partial<TenantSettings> = {}): Promise<void> {
  const tenant = await newTenant(a, settings, 'session');
  const ids = new Map<string, string>();
  for (const [i, step] of session.steps.entries()) {
    const path = fill(step.path, ids);
    const res = await tenant.request(step.method, path, { headers: step.headers ?? {}, body: fill(step.body, ids), rawBody: step.rawBody });
    const status = step.method === 'PATCH' ? patchStatus(step.status, settings.patchResponse) : step.status;
    const label = `#${i + 1} ${step.note ?? ''}: ${step.method} ${path}`;
    if (res.status !== status) {
      t.fail(`${label}: status ${res.status}, expected ${status}: ${res.raw.body.slice(0, 500)}`);
      return;
    }
    if (status !== 204) t.match(res.headers['content-type'], /^application\/scim\+json/, `${label}: application/scim+json`);
    if (step.capture) ids.set(step.capture, res.body.id);
    const e = step.expect;
    if (e?.totalResults !== undefined) t.equal(res.body.totalResults, e.totalResults, `${label}: totalResults`);
    if (e?.ids) t.strictSame(res.body.Resources.map((r: Json) => r.id), e.ids.map((l) => ids.get(l)), `${label}: the resources found`);
    for (const key of e?.absent ?? []) {
      for (const r of (res.body.Resources ?? [res.body]) as Json[]) t.notOk(key in r, `${label}: no ${key}`);
    }
  }
  t.pass(`${session.steps.length} requests answered as expected`);

  const groupsOfUser = new Map<string, string[]>();
  for (const [label, g] of Object.entries(session.final.groups)) {
    const res = await tenant.request('GET', `/Groups/${ids.get(label)}`);
    t.equal(res.status, 200, `group ${label} exists`);
    t.strictSame(omit(res.body, 'id', 'meta', 'members'), fill(g.resource, ids), `group ${label}: attributes`);
    const members = ((res.body.members ?? []) as Json[]).map((m) => m.value as string).sort();
    t.strictSame(members, g.members.map((m) => ids.get(m)!).sort(), `group ${label}: members`);
    for (const m of g.members) groupsOfUser.set(m, [...(groupsOfUser.get(m) ?? []), ids.get(label)!]);
  }
  let live = 0;
  for (const [label, want] of Object.entries(session.final.users)) {
    const res = await tenant.request('GET', `/Users/${ids.get(label)}`);
    if (want === null) {
      t.equal(res.status, 404, `user ${label} was deleted`);
      continue;
    }
    live++;
    t.equal(res.status, 200, `user ${label} exists`);
    t.strictSame(omit(res.body, 'id', 'meta', 'groups'), fill(want, ids), `user ${label}: attributes`);
    const groups = ((res.body.groups ?? []) as Json[]).map((g) => g.value as string).sort();
    t.strictSame(groups, (groupsOfUser.get(label) ?? []).sort(), `user ${label}: groups`);
  }
  t.equal((await tenant.request('GET', '/Users?count=0')).body.totalResults, live, 'no other users');
  t.equal((await tenant.request('GET', '/Groups?count=0')).body.totalResults, Object.keys(session.final.groups).length, 'no other groups');
}

/**
 * Every documented request of one IdP, each on a fresh tenant, plus its
 * variants:
 * - Entra ID: with `aadOptscim062020` appended to the query string, as Entra
 *   sends it on every request when the flag is in the Tenant URL;
 * - a successful PATCH: on a tenant with default settings (`auto`: 200 with
 *   a User, 204 for a Group) and with each explicit `patchResponse`
 *   (`resource`: 200, `noContent`: 204), besides the fixture's own, same
 *   resulting state;
 * - where the fixture gives `strict`: on a strict tenant, which answers the
 *   non-RFC forms with RFC 7644 errors.
 */
export function documentedRequests(tap: Test, idp: FixtureSource, backends: Backend[]): void {
  for (const backend of backends) {
    tap.test(`${backend}: ${idp} documented requests`, async (t) => {
      const a = await startApp(t, backend);
      for (const { name, fixture: fx } of loadFixtures(idp)) {
        await t.test(name, async (t) => {
          await runFixture(t, a, fx);
          if (idp === 'entra' && !fx.request.path.includes('aadOptscim062020')) {
            await runFixture(t, a, fx, { pathSuffix: 'aadOptscim062020' });
          }
          if (fx.request.method === 'PATCH' && (fx.status === 200 || fx.status === 204)) {
            const { patchResponse: own, ...others } = fx.settings ?? {};
            const byDefault = /^\/Groups\//i.test(fx.request.path) ? 204 : 200;
            if (own !== undefined) {
              t.not(patchStatus(byDefault, own), byDefault, `${name}: sets patchResponse only where the documented answer differs from the default`);
              await runFixture(t, a, { ...fx, settings: others }, { status: byDefault, checkState: true });
            }
            for (const patchResponse of ['resource', 'noContent'] as const) {
              if (patchResponse !== own) await runFixture(t, a, fx, { settings: { patchResponse }, status: patchStatus(byDefault, patchResponse), checkState: true });
            }
          }
          if (fx.strict) {
            await runFixture(t, a, fx, { settings: { compatibility: 'strict' }, status: fx.strict.status, body: fx.strict.body, checkState: fx.strict.status === fx.status });
          }
        });
      }
    });
  }
}

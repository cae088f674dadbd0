/**
 * The HTTP scenarios: what each sends and checks (bench/lib/drive.ts runs
 * them). Every request goes to 127.0.0.1.
 */
import { PATCH_OP_SCHEMA } from '../../src/scim/schema.js';
import {
  BIG_GROUP,
  SMALL_GROUP,
  freeUserStart,
  groupId,
  rng,
  userBody,
  userId,
  userName,
  workEmail,
} from './dataset.js';
import { Skip, type LoadTarget, type Scenario } from './drive.js';

const json = (v: unknown) => JSON.stringify(v);
const findsOne = (body: string) => (JSON.parse(body) as { totalResults?: number; Resources?: unknown[] }).Resources?.length === 1;
const q = (s: string) => encodeURIComponent(s);

/** The filter of the sorted-list scenarios: ~95% of users match it. */
export const LIST_FILTER = 'active eq true';
export const PAGE_SIZE = 100;

/** The deep page the list scenarios read: page 1,000, or less when the data set is too small for it. */
export function deepPage(users: number): number {
  return Math.max(2, Math.min(1000, Math.floor((users * 0.95 * 0.9) / PAGE_SIZE)));
}

export function scenarios(t: LoadTarget): Scenario[] {
  const P = t.prefix;
  const next = rng(1234);
  const randomUser = () => 1 + Math.floor(next() * t.users);
  let created = 0;
  const newUser = () => {
    const k = ++created;
    const body = userBody(1 + (k % t.users));
    const extra = body['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'] as Record<string, unknown>;
    return {
      ...body,
      userName: `new-${t.runTag}-${k}@contoso.example`,
      externalId: `new-${t.runTag}-${k}`,
      emails: [{ value: `new-${t.runTag}-${k}@mail.contoso.example`, type: 'work', primary: true }],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { ...extra, employeeNumber: `N${k}` },
    };
  };
  // Users in no group: the member add/remove scenarios take turns through them.
  const free0 = freeUserStart(t.users);
  const freeCount = t.users - free0 + 1;
  let freeNext = 0;
  const freeUser = () => free0 + (freeNext++ % freeCount);
  let title = 0;

  // Okta's import (test/fixtures/okta/scim20-retrieve-users.json): no filter, no sortBy, one page after the other.
  let walkStart = 1;
  let walkPages = 0;
  let walkDeepest = 0;
  let walkRounds = 0;

  const listPath = (extra: string) => `${P}/Users?filter=${q(LIST_FILTER)}&sortBy=userName&count=${PAGE_SIZE}${extra}`;
  const page = deepPage(t.users);
  let deepCursor: string | undefined;

  // A Group PATCH answers 204 by default (tenant setting patchResponse "auto"). `representation`: with
  // `Prefer: return=representation` (RFC 7240 §4.2), which Roster answers with 200 and the group, its
  // members rendered (up to 10,000): what a client that asks for the body pays.
  const memberScenario = (name: string, group: string, representation = false): Scenario => ({
    name,
    description: `PATCH /Groups/{id} adding, then removing, one member of "${group}" (Entra ID's shape)${representation ? ', with Prefer: return=representation' : ''}`,
    requests: () => [
      {
        method: 'PATCH',
        ...(representation ? { headers: { prefer: 'return=representation' } } : {}),
        setupRequest: (req, ctx) => {
          const member = userId(freeUser());
          ctx.member = member;
          return {
            ...req,
            path: `${P}/Groups/${groupId(group)}`,
            body: json({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Add', path: 'members', value: [{ value: member }] }] }),
          };
        },
      },
      {
        method: 'PATCH',
        ...(representation ? { headers: { prefer: 'return=representation' } } : {}),
        setupRequest: (req, ctx) => ({
          ...req,
          path: `${P}/Groups/${groupId(group)}`,
          body: json({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Remove', path: `members[value eq "${String(ctx.member)}"]` }] }),
        }),
      },
    ],
  });

  return [
    {
      name: 'create',
      description: 'POST /Users, a new userName every request',
      requests: () => [{ method: 'POST', setupRequest: (req) => ({ ...req, path: `${P}/Users`, body: json(newUser()) }) }],
    },
    {
      name: 'lookup-userName',
      description: 'GET /Users?filter=userName eq "…" (random existing user)',
      requests: () => [{ setupRequest: (req) => ({ ...req, path: `${P}/Users?filter=${q(`userName eq "${userName(randomUser())}"`)}` }) }],
      expect: findsOne,
    },
    {
      name: 'lookup-email',
      description: 'GET /Users?filter=emails[type eq "work"].value eq "…" (random existing user)',
      requests: () => [
        { setupRequest: (req) => ({ ...req, path: `${P}/Users?filter=${q(`emails[type eq "work"].value eq "${workEmail(randomUser())}"`)}` }) },
      ],
      expect: findsOne,
    },
    {
      name: 'page-1-index',
      description: `GET /Users?filter=${LIST_FILTER}&sortBy=userName&count=${PAGE_SIZE}&startIndex=1`,
      requests: () => [{ path: listPath('&startIndex=1') }],
    },
    {
      name: 'page-deep-index',
      description: `the same, page ${page} (startIndex=${(page - 1) * PAGE_SIZE + 1})`,
      requests: () => [{ path: listPath(`&startIndex=${(page - 1) * PAGE_SIZE + 1}`) }],
    },
    {
      name: 'page-1-cursor',
      description: `GET /Users?filter=${LIST_FILTER}&sortBy=userName&count=${PAGE_SIZE}&cursor= (RFC 9865)`,
      prepare: async () => {
        const r = await get(t, listPath('&cursor='));
        if (r.status !== 200 || typeof r.body.nextCursor !== 'string') throw new Skip(`cursor paging not available (HTTP ${r.status})`);
      },
      requests: () => [{ path: listPath('&cursor=') }],
    },
    {
      name: 'page-deep-cursor',
      description: `the same, page ${page} by its cursor (found by walking the pages)`,
      prepare: async () => {
        let r = await get(t, listPath('&cursor='));
        if (r.status !== 200 || typeof r.body.nextCursor !== 'string') throw new Skip(`cursor paging not available (HTTP ${r.status})`);
        const started = performance.now();
        for (let p = 2; p <= page; p++) {
          deepCursor = r.body.nextCursor as string;
          r = await get(t, listPath(`&cursor=${q(deepCursor)}`));
          if (r.status !== 200) throw new Error(`walking cursors: page ${p} answered ${r.status}`);
        }
        return [`walked ${page - 1} pages to find the cursor in ${((performance.now() - started) / 1000).toFixed(1)} s`];
      },
      requests: () => [{ setupRequest: (req) => ({ ...req, path: listPath(`&cursor=${q(deepCursor!)}`) }) }],
    },
    {
      name: 'okta-import',
      description: `Okta-like import: one client walks GET /Users?startIndex=…&count=${PAGE_SIZE} page after page (each startIndex follows the page before)`,
      connections: 1,
      requests: () => [
        {
          setupRequest: (req) => ({ ...req, path: `${P}/Users?startIndex=${walkStart}&count=${PAGE_SIZE}` }),
          // One connection, so one request at a time: the next page's startIndex is known when the next request is built.
          onResponse: (status, body) => {
            if (status !== 200) return;
            const n = (JSON.parse(body) as { Resources?: unknown[] }).Resources?.length ?? 0;
            walkPages++;
            walkDeepest = Math.max(walkDeepest, walkStart + n - 1);
            if (n < PAGE_SIZE) walkRounds++;
            walkStart = n < PAGE_SIZE ? 1 : walkStart + n;
          },
        },
      ],
      expect: (body) => ((JSON.parse(body) as { totalResults?: number }).totalResults ?? 0) >= t.users,
      after: () => [`${walkPages} pages read in order, down to user ${walkDeepest.toLocaleString('en-US')} of ${t.users.toLocaleString('en-US')}${walkRounds ? ` (${walkRounds} complete walks)` : ''}`],
    },
    {
      name: 'okta-groups',
      description: `Okta-like group import: GET /Groups?startIndex=1&count=${PAGE_SIZE} (every group, with members: 20,000 in all on the page)`,
      requests: () => [{ path: `${P}/Groups?startIndex=1&count=${PAGE_SIZE}` }],
      expect: (body) => ((JSON.parse(body) as { Resources?: unknown[] }).Resources?.length ?? 0) > 0,
    },
    {
      name: 'patch-user',
      description: 'PATCH /Users/{id} replacing title (random existing user)',
      requests: () => [
        {
          method: 'PATCH',
          setupRequest: (req) => ({
            ...req,
            path: `${P}/Users/${userId(randomUser())}`,
            body: json({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Replace', path: 'title', value: `Title ${t.runTag}-${++title}` }] }),
          }),
        },
      ],
    },
    memberScenario('member-big', BIG_GROUP),
    memberScenario('member-small', SMALL_GROUP),
    memberScenario('member-big-representation', BIG_GROUP, true),
    memberScenario('member-small-representation', SMALL_GROUP, true),
    {
      name: 'entra-cycle',
      description: 'Entra-like cycle: GET by userName filter, then PATCH the user if found (half are), else POST it',
      requests: () => [
        {
          setupRequest: (req, ctx) => {
            const existing = next() < 0.5;
            const body = existing ? undefined : newUser();
            const name = existing ? userName(randomUser()) : String(body!.userName);
            ctx.body = body;
            return { ...req, method: 'GET', path: `${P}/Users?filter=${q(`userName eq "${name}"`)}` };
          },
          onResponse: (status, body, ctx) => {
            if (status !== 200) return;
            const r = JSON.parse(body) as { Resources?: { id: string }[] };
            ctx.found = r.Resources?.[0]?.id;
          },
        },
        {
          setupRequest: (req, ctx) =>
            ctx.found
              ? {
                  ...req,
                  method: 'PATCH',
                  path: `${P}/Users/${String(ctx.found)}`,
                  body: json({
                    schemas: [PATCH_OP_SCHEMA],
                    Operations: [
                      { op: 'Replace', path: 'title', value: `Title ${t.runTag}-${++title}` },
                      { op: 'Replace', path: 'active', value: 'True' },
                    ],
                  }),
                }
              : { ...req, method: 'POST', path: `${P}/Users`, body: json(ctx.body ?? newUser()) },
        },
      ],
    },
  ];
}

async function get(t: LoadTarget, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  // A 503 right after a heavy scenario (page-deep-index) is the server still working off that load: wait it out.
  let r = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${t.token}` } });
  for (let i = 0; r.status === 503 && i < 30; i++) {
    await r.text();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    r = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${t.token}` } });
  }
  const text = await r.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: r.status, body };
}

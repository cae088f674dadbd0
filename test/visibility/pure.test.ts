import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { REDACTED, redactSecrets } from '../../src/scim/redact.js';
import { summarizeBulk, summarizePatch } from '../../src/scim/summary.js';
import { recogniseIdp } from '../../src/services/clients.js';
import { statusRange } from '../../src/services/request-log.js';
import { parseIdCursor, parseTimelineCursor, timelineCursor } from '../../src/services/timeline.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

t.test('summaries of PATCH and Bulk bodies name operations and paths, never values', async (t) => {
  t.equal(
    summarizePatch({
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'add', path: 'members', value: [{ value: 'a' }] },
        { op: 'add', path: 'members', value: [{ value: 'b' }] },
      ],
    }),
    'PATCH 3 ops: replace active, add members ×2',
  );
  t.equal(
    summarizePatch({ Operations: [{ op: 'remove', path: 'members[value eq "2819c223"]' }, { op: 'replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager', value: 'x' }] }),
    'PATCH 2 ops: remove members[…], replace urn:…:User:manager',
    'filters and ids in paths are not kept',
  );
  t.equal(summarizePatch({ Operations: [{ op: 'replace', value: { active: false, 'name.givenName': 'Ada' } }] }), 'PATCH 1 op: replace {active, name.givenName}');
  t.equal(summarizePatch({ Operations: 'nope' }), null);
  t.equal(summarizePatch(null), null);
  t.equal(summarizePatch({ Operations: [42] }), 'PATCH 1 op: invalid operation', 'an invalid body is summarised, not thrown on');
  t.equal(
    summarizeBulk({ Operations: [{ method: 'POST', path: '/Users' }, { method: 'post', path: '/Users' }, { method: 'DELETE', path: '/Groups/5d1a' }] }),
    'Bulk 3 ops: POST /Users ×2, DELETE /Groups',
  );
  const long = summarizePatch({ Operations: Array.from({ length: 100 }, (_, i) => ({ op: 'add', path: `attr${i}` })) })!;
  t.ok(long.length <= 300 && long.endsWith('…'), 'long summaries are cut');
});

t.test('secrets are removed from kept bodies', async (t) => {
  const body = {
    userName: 'ada',
    password: 'hunter2',
    'urn:x:custom': { apiKey: 'k', clientSecret: 's', keep: 'yes' },
    Operations: [
      { op: 'replace', path: 'password', value: 'p1' },
      { op: 'replace', path: 'urn:ietf:params:scim:schemas:core:2.0:User:password', value: 'p2' },
      { op: 'replace', path: 'title', value: 'CEO' },
      { op: 'replace', value: { password: 'p3', active: true } },
    ],
  };
  const out = JSON.stringify(redactSecrets(body));
  for (const secret of ['hunter2', '"k"', '"s"', 'p1', 'p2', 'p3']) t.notOk(out.includes(secret), `${secret} is gone`);
  for (const kept of ['ada', 'yes', 'CEO', REDACTED]) t.ok(out.includes(kept), `${kept} is there`);
  t.same(body.password, 'hunter2', 'the original is not changed');
});

t.test('identity providers are recognised from what they send', async (t) => {
  // Every User-Agent in the recorded and documented client requests.
  const agents = new Set<string>();
  for (const dir of ['okta', 'entra', 'clients']) {
    for (const f of readdirSync(new URL(`../fixtures/${dir}/`, import.meta.url))) {
      const text = readFileSync(new URL(`../fixtures/${dir}/${f}`, import.meta.url), 'utf8');
      for (const m of text.matchAll(/"User-Agent":\s*"([^"]+)"/gi)) agents.add(m[1]!);
    }
  }
  t.ok(agents.has('Okta SCIM Client 1.0.0') && agents.has('OKTA SCIM Integration'), 'the fixtures carry the Okta agents');
  for (const ua of agents) t.equal(recogniseIdp(ua), /okta/i.test(ua) ? 'Okta' : null, ua);
  t.equal(recogniseIdp(undefined, '/scim/v2/acme/Users?aadOptscim062020'), 'Entra ID', 'the flag only Entra ID appends');
  t.equal(recogniseIdp('Azure AD SCIM client'), 'Entra ID');
  t.equal(recogniseIdp('OneLogin SCIM'), 'OneLogin');
  t.equal(recogniseIdp('JumpCloud-SCIM/2.0'), 'JumpCloud');
  t.equal(recogniseIdp('curl/8.5.0'), null);
});

t.test('request log filters and cursors', async (t) => {
  t.same(statusRange('4xx', undefined), { min: 400, max: 499 });
  t.same(statusRange('409', undefined), { min: 409, max: 409 });
  t.same(statusRange(undefined, 'true'), { min: 400, max: 599 });
  t.same(statusRange('2xx', 'true'), { min: 400, max: 299 }, 'both: nothing matches');
  t.equal(statusRange(undefined, 'false'), undefined);
  for (const bad of ['dead', '4XXX', '600', '']) t.throws(() => statusRange(bad, undefined), /status must be a class/, bad);
  t.throws(() => statusRange(undefined, 'yes'), /errors must be true or false/);
  const at = new Date('2026-11-22T09:14:03.512Z');
  t.same(parseTimelineCursor(timelineCursor({ at, id: '42' })), { at, id: '42' });
  t.throws(() => parseTimelineCursor('nope'), /cursor must be the `next`/);
  t.throws(() => parseIdCursor(timelineCursor({ at, id: '42' })), /cursor/, 'a cursor of another listing is refused');
});

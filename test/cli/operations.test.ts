/**
 * The CLI's day-to-day commands (src/cli/commands-operations.ts) as a
 * process against a running app on a real port: the policy from a file, the
 * deletion safeguard's holds, status, the provisioning log, the audit trail,
 * the dry run and go-live. Runs on the first configured backend.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { EXIT } from '../../src/cli/exit-codes.js';
import { PATCH_OP_SCHEMA } from '../../src/scim/schema.js';
import { ADMIN_TOKEN, startApp, user } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { cli } from '../helpers/server.js';

const backend = backends[0]!;

t.test(`${backend}: policy, holds, status, requests, audit, dry run and go-live from the CLI`, async (t) => {
  const s = await startApp(t, backend, {}, { policyCacheMs: 0 });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  const run = (...args: string[]) => cli(args, { ROSTER_URL: url, ADMIN_TOKEN });
  const ok = async (args: string[]) => {
    const r = await run(...args);
    t.equal(r.code, 0, `roster ${args.join(' ')} exits 0${r.code ? `: ${r.stderr}` : ''}`);
    return r;
  };
  const dir = mkdtempSync(join(tmpdir(), 'roster-cli-'));
  t.teardown(() => {});

  // The policy from a file; a file that is not JSON is a usage error, a policy that is not valid the server's 400.
  writeFileSync(join(dir, 'policy.json'), JSON.stringify({ safeguard: { maxCount: 1, maxPercent: null } }));
  writeFileSync(join(dir, 'broken.json'), '{"safeguard": ');
  writeFileSync(join(dir, 'invalid.json'), JSON.stringify({ safeguard: { maxCount: 'many' } }));
  const [set, broken, invalid] = await Promise.all([
    ok(['policy', 'set', 'acme', join(dir, 'policy.json')]),
    run('policy', 'set', 'acme', join(dir, 'broken.json')),
    run('policy', 'set', 'acme', join(dir, 'invalid.json')),
  ]);
  t.match(set.stdout, /^policy version 1 in force$/m);
  t.equal(broken.code, EXIT.usage.code, 'not JSON: nothing sent');
  t.match(broken.stderr, /broken\.json is not JSON/);
  t.equal(invalid.code, EXIT.rejected.code);
  t.match(invalid.stderr, /400 Bad Request: Invalid policy: .*maxCount/);
  t.equal(JSON.parse((await ok(['policy', 'get', 'acme', '--json'])).stdout).safeguard.maxCount, 1);

  // Two deactivations: the second is held.
  const ids: string[] = [];
  for (const n of [1, 2, 3]) ids.push((await s.scim('POST', '/Users', user(`op-${n}@example.com`))).body.id);
  for (const id of ids.slice(0, 2)) {
    t.equal((await s.scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: false }] })).status, 200);
  }
  const listed = await ok(['holds', 'list', 'acme', '--state', 'open']);
  t.match(listed.stdout, /^ID +STATE +ITEMS +HELD EVENTS +CREATED +DECIDED +REASON$/m);
  const holdId = /^(\d+) +open +1 +1 /m.exec(listed.stdout)?.[1];
  t.ok(holdId, 'the open hold, one item');
  const got = await ok(['holds', 'get', 'acme', holdId!]);
  t.match(got.stdout, /op-2@example\.com +- +user\.deactivated +active/, 'who, what, and what the host had');
  const released = await ok(['holds', 'release', 'acme', holdId!]);
  t.match(released.stdout, /^state: +released$/m);
  const twice = await run('holds', 'release', 'acme', holdId!);
  t.equal(twice.code, EXIT.conflict.code, 'a decided hold: 409');
  t.match(twice.stderr, /already released/);

  const [status, requests, audit, dryRun, goLive] = await Promise.all([
    ok(['tenants', 'status', 'acme']),
    ok(['requests', 'list', 'acme', '--json']),
    ok(['audit', 'list', '--tenant', 'acme', '--action', 'hold.released']),
    ok(['tenants', 'dry-run', 'acme']),
    ok(['tenants', 'go-live', 'acme']),
  ]);
  t.match(status.stdout, /^users: +total 3, active 1, inactive 2$/m);
  t.ok(Array.isArray(JSON.parse(requests.stdout).requests), 'the provisioning log as the API gives it');
  t.match(audit.stdout, new RegExp(`acme +ADMIN_TOKEN \\(admin\\) +hold\\.released +${holdId}`));
  t.match(dryRun.stdout, /^mode: +live$/m);
  t.match(goLive.stdout, /^already live$/m);

  // Webhook deliveries (no worker runs here: they stay pending) and the dead letters' redelivery.
  const hook = await s.admin('POST', '/tenants/acme/webhooks', { url: 'http://127.0.0.1:59999/hook' });
  t.equal(hook.status, 201);
  await s.scim('POST', '/Users', user('op-4@example.com'));
  const [deliveries, redeliver] = await Promise.all([ok(['webhooks', 'deliveries', 'acme', hook.body.id, '--status', 'pending']), ok(['webhooks', 'redeliver', 'acme', hook.body.id])]);
  t.match(deliveries.stdout, /^\d+ +user\.created +pending +0 /m);
  t.match(redeliver.stdout, /^queued 0 deliveries$/m, 'no dead letters yet');

  // requests tail: what is there, then each new request, until Ctrl-C.
  const tail = cli(['requests', 'tail', 'acme', '--interval', '1', '--json'], { ROSTER_URL: url, ADMIN_TOKEN });
  let out = '';
  tail.proc.stdout!.on('data', (c: string) => (out += c));
  const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 300 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
  };
  await until(() => lines().length > 0);
  t.ok(lines().some((r) => r.method === 'POST' && r.path === '/Users'), 'the latest requests first');
  t.equal((await s.scim('GET', '/Users/00000000-0000-4000-8000-000000000000')).status, 404);
  await until(() => lines().some((r) => r.status === 404));
  const tailed = lines();
  t.match(tailed.at(-1), { method: 'GET', status: 404 }, 'then the new one');
  t.equal(new Set(tailed.map((r) => r.id)).size, tailed.length, 'each once');
  tail.proc.kill('SIGINT');
  t.equal((await tail).code, 0, 'Ctrl-C ends it with exit 0');
});

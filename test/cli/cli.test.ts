/**
 * The CLI (src/cli.ts) as a process against a running app on a real port:
 * every command over the admin API, human and --json output, and the exit
 * codes scripts rely on. The app's backend does not matter to the CLI, so
 * this runs on the first configured one.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { commands } from '../../src/cli/commands.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { ADMIN_TOKEN, startApp, user } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { cli, ROOT } from '../helpers/server.js';

const backend = backends[0]!;

async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

t.test(`${backend}: the CLI manages tenants, tokens, webhooks and events of a running server`, async (t) => {
  const s = await startApp(t, backend);
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  const run = (...args: string[]) => cli(args, { ROSTER_URL: url, ADMIN_TOKEN });
  const ok = async (args: string[]) => {
    const r = await run(...args);
    t.equal(r.code, 0, `roster ${args.join(' ')} exits 0${r.code ? `: ${r.stderr}` : ''}`);
    return r;
  };
  const scimAs = (tenant: string, token: string) =>
    s.app.inject({ method: 'GET', url: `/scim/v2/${tenant}/Users`, headers: { authorization: `Bearer ${token}` } }).then((r) => r.statusCode);

  // Tenants.
  const created = await ok(['tenants', 'create', 'globex', '--name', 'Globex Corp', '--compatibility', 'strict']);
  t.match(created.stdout, /^id: +globex$/m, 'a person sees the tenant');
  t.match(created.stdout, /^scim base url: +https:\/\/roster\.test\/scim\/v2\/globex$/m);
  const firstToken = /SCIM bearer token: (rst_\S+)/.exec(created.stdout)?.[1];
  t.ok(firstToken, 'and its first token, once');
  t.equal(await scimAs('globex', firstToken!), 200, 'the printed token opens the tenant');

  const [list, got, set] = await Promise.all([
    ok(['tenants', 'list']),
    ok(['tenants', 'get', 'globex', '--json']),
    ok(['tenants', 'set', 'globex', '--name', 'Globex', '--patch-response', 'noContent']),
  ]);
  t.match(list.stdout, /^ID +NAME +SCIM BASE URL$/m, 'lists are tables with a header');
  t.match(list.stdout, /^acme +acme +https:\/\/roster\.test\/scim\/v2\/acme$/m);
  t.equal(JSON.parse(got.stdout).settings.compatibility, 'strict', '--json prints the answer as the API gives it');
  t.match(set.stdout, /^patch response: +noContent$/m);
  t.same((await s.services.tenants.get('globex')).name, 'Globex');

  // Tokens.
  const issued = JSON.parse((await ok(['tokens', 'issue', 'globex', '--name', 'okta', '--json'])).stdout);
  t.equal(issued.name, 'okta');
  t.equal(await scimAs('globex', issued.token), 200);
  const tokens = await ok(['tokens', 'list', 'globex']);
  t.match(tokens.stdout, new RegExp(`^${issued.id} +okta +${issued.prefix} `, 'm'));
  t.notMatch(tokens.stdout, issued.token, 'never the secret');
  t.match((await ok(['tokens', 'revoke', 'globex', issued.id])).stdout, `revoked token ${issued.id}`);
  t.equal(await scimAs('globex', issued.token), 401, 'a revoked token stops working');

  // Webhooks.
  const hook = JSON.parse((await ok(['webhooks', 'create', 'acme', 'http://127.0.0.1:59999/hook', '--events', 'user.created,user.deleted', '--json'])).stdout);
  t.same(hook.events, ['user.created', 'user.deleted'], 'comma-separated lists');
  t.match(hook.secret, /^whsec_/);
  const from = new Date(Date.now() - 60_000).toISOString();
  const [hooks, one, health, rotated, replay] = await Promise.all([
    ok(['webhooks', 'list', 'acme']),
    ok(['webhooks', 'get', 'acme', hook.id]),
    ok(['webhooks', 'health', 'acme', hook.id, '--json']),
    ok(['webhooks', 'rotate-secret', 'acme', hook.id, '--grace-seconds', '60']),
    ok(['webhooks', 'replay', 'acme', hook.id, '--from', from]),
  ]);
  t.match(hooks.stdout, new RegExp(`^${hook.id} +http://127\\.0\\.0\\.1:59999/hook +standard-webhooks +user\\.created,user\\.deleted +yes`, 'm'));
  t.match(one.stdout, /^url: +http:\/\/127\.0\.0\.1:59999\/hook$/m);
  t.equal(JSON.parse(health.stdout).endpoint.id, hook.id);
  t.match(rotated.stdout, /New signing secret: whsec_/);
  t.match(replay.stdout, /^queued 0 deliveries$/m);

  // Events: the poll feed, one event, redelivery, and --follow.
  t.equal((await s.scim('POST', '/Users', user('cli-1@example.com'))).status, 201);
  // The first SCIM request also tells the host the directory connected (tenant.connected); these steps follow users.
  const feed = JSON.parse((await ok(['events', 'list', 'acme', '--json', '--types', 'user.created'])).stdout);
  t.same(feed.events.map((e: any) => e.type), ['user.created']);
  const event = feed.events[0];
  const [human, detail, redelivered] = await Promise.all([
    ok(['events', 'list', 'acme', '--types', 'user.created']),
    ok(['events', 'get', 'acme', event.id]),
    ok(['events', 'redeliver', 'acme', event.id, '--endpoint', hook.id]),
  ]);
  t.match(human.stdout, new RegExp(`^\\S+ +user\\.created +cli-1@example\\.com +${event.id} +${event.cursor}$`, 'm'));
  t.match(detail.stdout, /^deliveries:$/m);
  t.match(detail.stdout, new RegExp(`^\\S+ +${hook.id} +live `, 'm'), 'with the live delivery to the endpoint');
  t.match(redelivered.stdout, `queued 1 deliveries (${hook.id})`);

  const follow = cli(['events', 'list', 'acme', '--follow', '--interval', '1', '--json', '--types', 'user.created'], { ROSTER_URL: url, ADMIN_TOKEN });
  let out = '';
  follow.proc.stdout!.on('data', (c: string) => (out += c));
  const until = async (n: number) => {
    for (let i = 0; i < 200 && out.split('\n').filter(Boolean).length < n; i++) await new Promise((r) => setTimeout(r, 50));
  };
  await until(1);
  t.equal(out.split('\n').filter(Boolean).length, 1, '--follow prints what is there');
  t.equal((await s.scim('POST', '/Users', user('cli-2@example.com'))).status, 201);
  await until(2);
  const followed = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.same(followed.map((e) => e.data.userName), ['cli-1@example.com', 'cli-2@example.com'], 'then what comes, one JSON object per line');
  follow.proc.kill('SIGINT');
  t.equal((await follow).code, 0, 'Ctrl-C ends --follow with exit 0');

  // Credentials: admin keys, OAuth clients, trusted issuers.
  const adminKey = JSON.parse((await ok(['admin-keys', 'create', 'ci', '--scopes', 'tokens,tenants:read', '--tenant', 'acme', '--json'])).stdout);
  t.match(adminKey.key, /^rsak_/);
  const who = await cli(['auth', 'whoami'], { ROSTER_URL: url, ADMIN_TOKEN: adminKey.key });
  t.equal(who.code, 0);
  t.match(who.stdout, /^name: +ci$/m, 'whoami names the key');
  t.match(who.stdout, /^tenant: +acme$/m);
  t.match((await ok(['admin-keys', 'list'])).stdout, /^ID +NAME +PREFIX +SCOPES +TENANT/m);
  const ro = JSON.parse((await ok(['tokens', 'issue', 'acme', '--name', 'audit', '--scopes', 'scim:read', '--json'])).stdout);
  t.same(ro.scopes, ['scim:read']);
  t.match((await ok(['tokens', 'list', 'acme'])).stdout, /audit .* scim:read\n/);
  const oc = await ok(['oauth-clients', 'create', 'acme', '--name', 'Entra ID']);
  t.match(oc.stdout, /Client secret: rscs_\S+/);
  t.match(oc.stdout, /^token endpoint: +https:\/\/roster\.test\/oauth\/token$/m);
  const clients = JSON.parse((await ok(['oauth-clients', 'list', 'acme', '--json'])).stdout).clients;
  await ok(['oauth-clients', 'revoke', 'acme', clients[0].id]);
  t.match((await ok(['oauth', 'rotate-signing-key'])).stdout, /^signing with key oauth-/);
  const ti = JSON.parse((await ok(['trusted-issuers', 'add', 'acme', 'https://idp.example', '--audience', 'roster', '--jwks-url', 'https://idp.example/jwks', '--json'])).stdout);
  t.match((await ok(['trusted-issuers', 'list', 'acme'])).stdout, /https:\/\/idp\.example\/jwks/);
  await ok(['trusted-issuers', 'remove', 'acme', ti.id]);
  await ok(['admin-keys', 'revoke', adminKey.id]);

  // Cleanup commands.
  await ok(['webhooks', 'delete', 'acme', hook.id]);
  await ok(['tenants', 'delete', 'globex']);
  t.equal(await s.services.tenants.find('globex'), undefined);
});

t.test(`${backend}: exit codes and error messages`, async (t) => {
  const s = await startApp(t, backend);
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  const env = { ROSTER_URL: url, ADMIN_TOKEN };
  const cases: Array<[string, string[], Record<string, string>, number, RegExp]> = [
    ['not found', ['tenants', 'get', 'nope'], env, EXIT.notFound.code, /^roster: 404 Not Found: .*nope/],
    ['conflict', ['tenants', 'create', 'acme'], env, EXIT.conflict.code, /^roster: 409 Conflict: .*acme.*\(scimType uniqueness\)/],
    ['invalid', ['tenants', 'create', 'Not_A_Valid_Id'], env, EXIT.rejected.code, /^roster: 400 Bad Request: /],
    ['wrong token', ['tenants', 'list'], { ...env, ADMIN_TOKEN: 'wrong-admin-token-0123456789' }, EXIT.unauthorized.code, /^roster: 401 Unauthorized: Invalid admin token/],
    ['no token', ['tenants', 'list'], { ROSTER_URL: url }, EXIT.unauthorized.code, /^roster: no admin token: set ADMIN_TOKEN/],
    ['unreachable', ['tenants', 'list'], { ...env, ROSTER_URL: `http://127.0.0.1:${await closedPort()}` }, EXIT.unreachable.code, /^roster: cannot reach Roster at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\. Is the server running\?/],
    ['unknown command', ['tenants', 'frobnicate'], env, EXIT.usage.code, /^roster: unknown command: tenants frobnicate/],
    ['missing argument', ['tokens', 'revoke', 'acme'], env, EXIT.usage.code, /^roster: usage: roster tokens revoke <tenant> <tokenId>/],
    ['unknown option', ['tenants', 'list', '--colour'], env, EXIT.usage.code, /Unknown option '--colour'/],
    ['required option', ['webhooks', 'replay', 'acme', 'x'], env, EXIT.usage.code, /^roster: --from is required/],
  ];
  const results = await Promise.all(cases.map(([, args, e]) => cli(args, e)));
  cases.forEach(([what, , , code, message], i) => {
    t.equal(results[i]!.code, code, `${what}: exit ${code}`);
    t.match(results[i]!.stderr, message, `${what}: one readable line on stderr`);
    t.equal(results[i]!.stdout, '', `${what}: nothing on stdout`);
  });
  t.same(await s.services.tenants.find('not_a_valid_id'), undefined);

  const help = await cli(['--help'], {});
  t.equal(help.code, 0);
  for (const c of commands) t.match(help.stdout, `roster ${c.name}`, `--help lists ${c.name}`);
  t.match(help.stdout, 'roster migrate');
  for (const e of Object.values(EXIT)) t.match(help.stdout, `${e.code}   ${e.meaning}`);
});

t.test('the README documents every exit code as the CLI defines it', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const e of Object.values(EXIT)) t.match(readme, `| ${e.code} | ${e.meaning} |`);
});

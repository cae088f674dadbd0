/**
 * The first hour, through real server processes (src/main.ts): what the
 * first and the second start print, the generated admin token, the CLI
 * against the running embedded database, `/`, the data directory's lock
 * (src/db/data-dir-lock.ts) and a restart after kill -9, what a
 * Postgres-backed pod writes to its log, and readable logs on a terminal.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import type { FastifyRequest } from 'fastify';
import { authenticateAdmin } from '../../src/http/auth.js';
import type { ScimError } from '../../src/scim/errors.js';
import { configuredAdminKeys, generateAdminToken, loadAdminKeys, type AdminKeys } from '../../src/services/admin-keys.js';
import { user } from '../helpers/app.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { cli, databaseEnv, get, ROOT, ServerProcess } from '../helpers/server.js';

const isBanner = (l: Record<string, unknown>) => l.msg === 'Roster is running';

t.test('embedded database: the first start prints both tokens once, the CLI works while it runs, a second Roster is refused, and after kill -9 the restart keeps every acknowledged user and points at default', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-first-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATA_DIR: dir, METRICS_ENABLED: 'false' };

  // The old guard's pid file, naming a process that is alive but is not Roster (this test runner).
  writeFileSync(join(dir, 'roster.pid'), String(process.pid));
  const first = await ServerProcess.start(t, env);
  const banner = await first.waitFor(isBanner);
  t.pass('started despite a pid file naming a live process');
  t.match(banner.scimBaseUrl, /\/scim\/v2\/default$/);
  t.match(banner.scimBearerToken, /^rst_/, 'the SCIM token is printed with the embedded database');
  t.match(banner.adminBearerToken, /^rsta_/, 'and an admin token was generated, since ADMIN_TOKEN is not set');
  t.equal(banner.adminApiEnabled, true);
  t.same(first.output.filter((l) => !l.startsWith('{')), [], 'stdout is not a terminal: JSON lines only, the banner among them');
  const admin = { authorization: `Bearer ${banner.adminBearerToken}` };
  const scim = { authorization: `Bearer ${banner.scimBearerToken}` };
  t.equal((await get(first.port, '/admin/v1/tenants', admin)).status, 200, 'the generated token opens the admin API');
  t.equal((await get(first.port, '/scim/v2/default/Users', scim)).status, 200);

  const home = await get(first.port, '/');
  t.equal(home.status, 200, '/ answers');
  const links = JSON.parse(home.body);
  t.match(links.scimBaseUrl, /\/scim\/v2\/\{tenant\}$/);
  t.same(links.links.map((l: { rel: string }) => l.rel), ['docs', 'openapi', 'console', 'admin', 'jwks']);
  const page = await get(first.port, '/', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /<a href="[^"]*\/docs">/, 'a browser gets a page linking the docs');

  // The CLI talks to the running server: the embedded database stays with it.
  const cliEnv = { ROSTER_URL: first.url, ADMIN_TOKEN: banner.adminBearerToken };
  const [issued, created] = await Promise.all([cli(['tokens', 'issue', 'default', '--json'], cliEnv), cli(['tenants', 'create', 'aaa'], cliEnv)]);
  t.equal(issued.code, 0, issued.stderr);
  t.equal((await get(first.port, '/scim/v2/default/Users', { authorization: `Bearer ${JSON.parse(issued.stdout).token}` })).status, 200);
  t.equal(created.code, 0, 'a tenant that sorts before default');

  const second = await ServerProcess.start(t, env, { wait: false });
  t.equal((await second.exited).code, 1, 'a second Roster on the same directory is refused');
  t.match(second.output.join(''), new RegExp(`in use by process ${first.proc.pid}\\b`), 'naming the process that has it');
  t.equal((await get(first.port, '/readyz')).status, 200, 'and the first one keeps serving');

  // Writes in flight when the process is killed: count what was acknowledged.
  const acknowledged: string[] = [];
  let stop = false;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const res = await fetch(`${first.url}/scim/v2/default/Users`, {
        method: 'POST',
        headers: { ...scim, 'content-type': 'application/scim+json' },
        body: JSON.stringify(user(`w${w}-${i}@example.com`)),
      }).catch(() => undefined);
      if (!res) return;
      if (res.status === 201) acknowledged.push(((await res.json()) as { id: string }).id);
    }
  };
  const writers = Array.from({ length: 6 }, (_, w) => writer(w));
  while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 20));
  first.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(writers);
  t.equal((await first.exited).signal, 'SIGKILL');

  const restarted = await ServerProcess.start(t, env);
  t.pass('the restart takes over the directory the killed process held');
  const listed = JSON.parse((await get(restarted.port, '/scim/v2/default/Users?count=1000&attributes=id', scim)).body);
  const found = new Set((listed.Resources as { id: string }[]).map((r) => r.id));
  t.same(acknowledged.filter((id) => !found.has(id)), [], `all ${acknowledged.length} acknowledged users survived kill -9 (${listed.totalResults} stored)`);

  const again = await restarted.waitFor(isBanner);
  t.match(again.scimBaseUrl, /\/scim\/v2\/default$/, 'the second start points at default, not the alphabetically first tenant');
  t.notOk(again.scimBearerToken, 'no token on the second start');
  t.notOk(again.adminBearerToken);
  t.match(again.next.join('\n'), /tokens issue default/, 'it says how to issue one');
  t.notMatch(restarted.output.join('\n'), /rst_|rsta_/, 'no secret anywhere in its output');
  t.equal((await get(restarted.port, '/admin/v1/tenants', admin)).status, 200, 'the generated admin token keeps working (its hash is stored)');
  t.equal((await restarted.stop()).code, 0);
});

t.test('ADMIN_TOKEN replaces the generated admin token', async (t) => {
  const database = await openTestDatabase(t, 'pglite');
  const generated = await generateAdminToken(database.db);
  t.ok(generated);
  t.equal(await generateAdminToken(database.db), undefined, 'generated once');
  // The one check every admin request goes through.
  const admin = (keys: AdminKeys, token: string) => {
    try {
      authenticateAdmin({ headers: { authorization: `Bearer ${token}` } } as FastifyRequest, keys);
      return 200;
    } catch (err) {
      return (err as ScimError).status;
    }
  };
  const own = 'my-own-admin-token-0123456789';
  t.equal(admin(await loadAdminKeys({ adminToken: undefined }, database.db), generated!), 200);
  t.equal(admin(await loadAdminKeys({ adminToken: own }, database.db), generated!), 401, 'not once ADMIN_TOKEN is set');
  t.equal(admin(await loadAdminKeys({ adminToken: own }, database.db), own), 200);
  t.equal(admin(configuredAdminKeys({ adminToken: undefined }), generated!), 401, 'no keys: the admin API is off');
});

t.test('Postgres, no BOOTSTRAP_TENANT, output to a log: no live token is printed', { skip: !backends.includes('postgres') && 'needs postgres' }, async (t) => {
  const env = await databaseEnv(t, 'postgres');
  const server = await ServerProcess.start(t, { ...env, METRICS_ENABLED: 'false' });
  const banner = await server.waitFor(isBanner);
  t.notOk(banner.scimBearerToken, 'no SCIM token in a pod log');
  t.equal(banner.adminApiEnabled, false, 'no generated admin token outside the embedded database');
  t.match(banner.next.join('\n'), /set ADMIN_TOKEN, restart, then: .* tokens issue default/, 'it says how to issue one instead');
  t.notMatch(server.output.join('\n'), /rst_/);
  const c = new pg.Client({ connectionString: env.DATABASE_URL });
  await c.connect();
  const { rows } = await c.query('select count(*)::int as n from tokens');
  await c.end();
  t.equal(rows[0].n, 0, 'and none was issued that nobody saw');
  t.equal((await server.stop()).code, 0);
});

t.test('on a terminal: readable log lines and the banner as text, tokens included', async (t) => {
  const backend = backends[0]!;
  const env = await databaseEnv(t, backend);
  // script(1) gives the server a pseudo-terminal as stdout.
  const proc = spawn('script', ['-qfec', `${process.execPath} --import tsx src/main.ts`, '/dev/null'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', METRICS_ENABLED: 'false', TERM: 'dumb', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise((r) => proc.on('exit', r));
  t.teardown(async () => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  for (let i = 0; i < 600 && !/API docs:[^\n]*\n/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const text = out.replace(/\x1b\[[0-9;]*m/g, '');
  t.match(text, /INFO.*Server listening at http:\/\/127\.0\.0\.1:\d+/, 'log lines are rendered for people');
  t.notMatch(text, /^\{"level"/m, 'no raw JSON');
  t.ok(text.indexOf('Server listening') < text.indexOf('Roster is running'), 'the banner comes after the log lines so far');
  t.match(text, /Roster is running \(/);
  t.match(text, /SCIM base URL: http:\/\/localhost:0\/scim\/v2\/default/);
  t.match(text, /Bearer token: +rst_\S+/, `on a terminal the first token is shown (${backend})`);
});

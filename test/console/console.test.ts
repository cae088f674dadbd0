/**
 * The console and the setup link in a real browser (Debian's chromium driven
 * by playwright-core): an operator signs in, creates a tenant, issues and
 * revokes a token, creates a setup link; the customer's IT admin opens it,
 * picks Entra ID, generates a token, and the connection panel turns green
 * when a SCIM request with it arrives. Used, expired and revoked links, and
 * changes without the CSRF token, are refused. No page breaks the
 * Content-Security-Policy (the browser would report it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sql } from 'kysely';
import t from 'tap';
import { ADMIN_TOKEN, startApp, user } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { ROOT } from '../helpers/server.js';
import { startReceiver } from '../events/helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const backend = backends[0]!;
/** ROSTER_SCREENSHOTS=1 writes the README's screenshots to docs/. */
const SHOTS = process.env.ROSTER_SCREENSHOTS === '1' ? join(ROOT, 'docs') : undefined;

t.test(`${backend}: console and setup link in a real browser`, { skip: existsSync(CHROMIUM) || process.env.CI ? false : `no browser at ${CHROMIUM} (.ci/run installs Debian's chromium)` }, async (t) => {
  const a = await startApp(t, backend);
  await a.app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}`;
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  const problems: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    p.on('pageerror', (e) => problems.push(e.message));
    return p;
  };
  const shot = async (p: Page, name: string) => SHOTS && (await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }));

  // The operator.
  const operator = await browser.newContext({ baseURL: origin });
  const op = watch(await operator.newPage());
  const first = await op.goto('/console');
  t.equal(new URL(op.url()).pathname, '/console/login', 'signed out: the sign-in page');
  t.match(first!.headers()['content-security-policy'], /default-src 'none'; script-src 'self'/);
  await op.getByLabel('Admin credential').fill('not-the-token');
  await op.getByRole('button', { name: 'Sign in' }).click();
  await op.getByText('That admin credential is not accepted.').waitFor();
  await op.getByLabel('Admin credential').fill(ADMIN_TOKEN);
  await op.getByRole('button', { name: 'Sign in' }).click();
  await op.getByRole('heading', { name: 'Tenants' }).waitFor();
  const cookies = await operator.cookies();
  t.match(cookies.find((c) => c.name === 'roster_console'), { httpOnly: true, sameSite: 'Strict' }, 'the session cookie');
  await shot(op, 'console-tenants');

  await op.getByLabel(/^Id/).fill('initech');
  await op.getByLabel('Name').fill('Initech');
  await op.getByRole('button', { name: 'Create tenant' }).click();
  await op.getByRole('heading', { name: 'Tenant initech created' }).waitFor();
  const firstToken = await op.getByLabel('SCIM bearer token').inputValue();
  t.match(firstToken, /^rst_/, 'the token, shown once');

  await op.getByRole('link', { name: 'Go to the tenant' }).click();
  await op.getByText('SCIM base URL').first().waitFor();
  t.equal(await op.getByLabel('SCIM base URL').inputValue(), 'https://roster.test/scim/v2/initech');
  await op.getByLabel('New token’s name').fill('okta');
  await op.getByRole('button', { name: 'Issue token' }).click();
  const okta = await op.getByLabel('SCIM bearer token').inputValue();
  await op.getByRole('link', { name: 'Back to initech' }).click();
  op.once('dialog', (d) => void d.accept());
  await op.getByRole('row', { name: /okta/ }).getByRole('button', { name: 'Revoke' }).click();
  await op.getByRole('row', { name: /okta/ }).getByText(/revoked/).waitFor();
  t.equal((await a.app.inject({ method: 'GET', url: '/scim/v2/initech/Users', headers: { authorization: `Bearer ${okta}` } })).statusCode, 401, 'a revoked token stops working');

  await op.getByRole('button', { name: 'Create setup link' }).click();
  const link = await op.getByLabel('Setup link').inputValue();
  t.match(link, /^https:\/\/roster\.test\/setup\/rsl_/);
  const linkPath = new URL(link).pathname;
  await shot(op, 'console-setup-link');

  // The customer's IT admin, in another browser.
  const customer = await browser.newContext({ baseURL: origin });
  const it = watch(await customer.newPage());
  await it.goto(linkPath);
  t.equal(new URL(it.url()).pathname, linkPath, 'opening takes a click: a mail scanner fetching the link does not use it up');
  await it.getByRole('button', { name: 'Continue' }).click();
  await it.waitForURL('**/setup');
  t.equal(new URL(it.url()).pathname, '/setup', 'the link leaves the address bar');
  await it.getByRole('heading', { name: 'Connect your identity provider to Initech' }).waitFor();
  await it.getByRole('link', { name: 'Microsoft Entra ID' }).click();
  await it.getByRole('heading', { name: 'Microsoft Entra ID' }).waitFor();
  t.equal(await it.getByLabel('Tenant URL').inputValue(), 'https://roster.test/scim/v2/initech', 'the value to paste, named as Entra names it');
  await it.getByRole('button', { name: 'Generate the token' }).click();
  const generated = await it.getByLabel('Secret Token').inputValue();
  t.match(generated, /^rst_/);
  t.notOk(await it.locator('#connection.connected').count(), 'not connected yet');
  await shot(it, 'setup-entra');
  t.equal((await a.app.inject({ method: 'POST', url: '/scim/v2/initech/Users', headers: { authorization: `Bearer ${generated}`, 'content-type': 'application/scim+json' }, payload: JSON.stringify(user('first@initech.example')) })).statusCode, 201);
  await it.locator('#connection.connected').waitFor({ timeout: 15_000 });
  t.match(await it.locator('#connection [data-state]').textContent(), /Connected/, 'the panel turns green');
  await it.goto('/setup?idp=entra');
  t.match(await it.getByText(/was generated and shown once/).textContent(), /shown once/, 'the token is not shown again');
  t.equal((await a.app.inject({ method: 'GET', url: '/scim/v2/initech/Users', headers: { authorization: `Bearer ${firstToken}` } })).statusCode, 200, "the operator's first token works too");

  // The link works once: another browser is refused.
  const other = watch(await (await browser.newContext({ baseURL: origin })).newPage());
  const again = await other.goto(linkPath);
  t.equal(again!.status(), 410);
  await other.getByText(/already opened/).waitFor();

  // Expired and revoked links.
  const expiring = await a.admin('POST', '/tenants/initech/setup-links', { expiresInDays: 1 });
  await sql`update setup_links set expires_at = now() - interval '1 minute' where id = ${expiring.body.id}`.execute(a.database.db);
  const expired = await other.goto(new URL(expiring.body.url).pathname);
  t.equal(expired!.status(), 410);
  await other.getByText(/expired/).waitFor();
  const revoking = await a.admin('POST', '/tenants/initech/setup-links', {});
  t.equal((await a.admin('DELETE', `/tenants/initech/setup-links/${revoking.body.id}`)).status, 200);
  t.equal((await other.goto(new URL(revoking.body.url).pathname))!.status(), 410);

  // A change without the CSRF token, with the operator's own session cookie, is refused.
  const forged = await op.request.post('/console/tenants', { form: { id: 'forged' } });
  t.equal(forged.status(), 403, 'CSRF');
  t.equal(await a.services.tenants.find('forged'), undefined, 'nothing created');

  // The tenant's other pages render (and would fail on a CSP or script error).
  for (const [path, heading] of [
    ['/console/tenants/initech/requests', 'Provisioning log'],
    ['/console/tenants/initech/users', 'Users'],
    ['/console/tenants/initech/groups', 'Groups'],
    ['/console/tenants/initech/holds', 'Held changes'],
    ['/console/tenants/initech/policy', /Provisioning policy/],
    ['/console/tenants/initech/dry-run', /Dry run and go-live/],
  ] as const) {
    await op.goto(path);
    await op.getByRole('heading', { name: heading }).first().waitFor();
  }
  await op.goto('/console/tenants/initech/users?filter=userName%20sw%20%22first%22');
  await op.getByRole('link', { name: 'first@initech.example' }).click();
  await op.getByRole('heading', { name: 'What the host was told' }).waitFor();
  await op.getByRole('cell', { name: 'user.created' }).waitFor();

  // A webhook endpoint: its deliveries and the test ping, answered by a real receiver on loopback.
  const rx = await startReceiver(t);
  t.equal((await a.admin('POST', '/tenants/initech/webhooks', { url: rx.url })).status, 201);
  await op.goto('/console/tenants/initech');
  await op.getByRole('link', { name: rx.url }).click();
  await op.getByRole('heading', { name: 'Webhook deliveries' }).waitFor();
  await op.getByRole('button', { name: 'Send a test ping' }).click();
  await op.getByText(/Test ping delivered: 204/).waitFor();
  t.equal(rx.all.at(-1)!.json.type, 'webhook.test', 'the receiver got the ping');
  await op.goto('/console/tenants/initech/policy');
  await op.getByLabel(/^Lifecycle, audience/).fill('{"licenseCap": -1}');
  await op.getByRole('button', { name: 'Save policy' }).click();
  await op.getByRole('alert').getByText(/licenseCap/).waitFor();
  await op.getByLabel(/^Lifecycle, audience/).fill('{"licenseCap": 10}');
  await op.getByRole('button', { name: 'Save policy' }).click();
  await op.getByRole('heading', { name: /version 1/ }).waitFor();
  await shot(op, 'console-policy');
  const audit = await a.admin('GET', '/tenants/initech/audit');
  t.same(
    audit.body.entries.map((e: any) => e.action).reverse(),
    ['tenant.created', 'token.issued', 'token.issued', 'token.revoked', 'setup_link.created', 'token.issued', 'setup_link.created', 'setup_link.created', 'setup_link.revoked', 'webhook.created', 'webhook.tested', 'tenant.policy_updated'],
    'every change is audited, console and setup page included',
  );

  await op.getByRole('button', { name: 'Sign out' }).click();
  await op.goto('/console');
  t.equal(new URL(op.url()).pathname, '/console/login', 'signed out');
  t.same(problems.filter((p) => !/status of 4\d\d/.test(p)), [], 'no script or Content-Security-Policy errors');
});

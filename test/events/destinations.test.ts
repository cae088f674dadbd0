/**
 * Webhook destinations (issue 24): cloud metadata, link-local, loopback and
 * unspecified addresses are refused by default when an endpoint is
 * registered, in every form a URL can spell them, and again when a delivery
 * connects, after DNS resolution.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { BLOCKED_PORTS, DestinationPolicy } from '../../src/events/destinations.js';
import { createSender } from '../../src/events/sender.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { addEndpoint, adminApp, api, createTenant, LOOPBACK, record, sleep, startReceiver, until, userChange, worker } from './helpers.js';

const DEFAULTS = { allowed: [], denied: [] };

t.test('registration refuses metadata, link-local, loopback and unspecified addresses in every spelling', async (t) => {
  const h = await openTestDatabase(t, backends[0]!);
  const tenant = await createTenant(h.db);
  const app = await adminApp(t, h.db, DEFAULTS);
  const base = `/admin/v1/tenants/${tenant}/webhooks`;
  for (const [url, why] of [
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is cloud metadata/],
    ['http://metadata.google.internal/computeMetadata/v1/', /metadata\.google\.internal is cloud metadata \(169\.254\.169\.254/],
    ['http://[fd00::]/hook', /fd00:: is IPv6 unique-local/],
    ['http://[fd00:ec2::254]/latest/meta-data/', /fd00:ec2::254 is cloud metadata/],
    ['http://[::1]:8080/hook', /::1 is loopback/],
    ['http://0.0.0.0:8080/hook', /0\.0\.0\.0 is unspecified/],
    ['http://2130706433/hook', /127\.0\.0\.1 is loopback/], // decimal
    ['http://0x7f.1/hook', /127\.0\.0\.1 is loopback/], // hex, short form
    ['http://[::ffff:127.0.0.1]/hook', /\(127\.0\.0\.1\) is loopback/], // IPv4-mapped
    ['http://169.254.10.1/hook', /link-local/],
    ['http://[fe80::1]/hook', /link-local/],
    ['https://LocalHost./hook', /LocalHost\.|localhost/i],
  ] as const) {
    const r = await api(app, 'POST', base, { url });
    t.equal(r.status, 400, url);
    t.equal(r.body.scimType, 'invalidValue');
    t.match(r.body.detail, why, url);
    t.match(r.body.detail, /WEBHOOK_ALLOWED_CIDRS/);
  }
  // Private networks and public names are allowed by default (the host platform usually lives next door).
  for (const url of ['http://10.0.0.5/hook', 'https://192.168.1.20/hook', 'https://platform.example.com/hook']) t.equal((await api(app, 'POST', base, { url })).status, 201, url);
  // Changing the URL is checked too.
  const ep = await addEndpoint(app, tenant, { url: 'https://platform.example.com/other' });
  const patched = await api(app, 'PATCH', `${base}/${ep.id}`, { url: 'http://169.254.169.254/' });
  t.equal(patched.status, 400);
  t.match(patched.body.detail, /cloud metadata/);
  t.equal(Number((await sql<{ n: unknown }>`select count(*) as n from webhook_endpoints where url like '%169.254%'`.execute(h.db)).rows[0]!.n), 0, 'nothing refused was stored');
});

t.test('WEBHOOK_ALLOWED_CIDRS and WEBHOOK_DENIED_CIDRS: the most specific range decides', async (t) => {
  const config = loadConfig({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32, fd00:10::/32, 169.254.0.0/16', WEBHOOK_DENIED_CIDRS: '10.0.0.0/8' });
  const p = new DestinationPolicy({ allowed: config.webhookAllowedCidrs, denied: config.webhookDeniedCidrs });
  t.ok(p.checkAddress('127.0.0.1').allowed, 'allowed loopback address');
  t.notOk(p.checkAddress('127.0.0.2').allowed, 'the rest of 127/8 stays refused');
  t.ok(p.checkAddress('fd00:10::5').allowed, 'an allowed unique-local prefix');
  t.notOk(p.checkAddress('fd00:ec2::254').allowed, 'metadata inside a broader allowed range stays refused');
  t.notOk(p.checkAddress('169.254.169.254').allowed, 'so does 169.254.169.254 when link-local is allowed');
  t.ok(p.checkAddress('169.254.10.1').allowed);
  t.match(p.checkAddress('10.1.2.3'), { allowed: false, reason: /10\.1\.2\.3 is refused by WEBHOOK_DENIED_CIDRS \(in 10\.0\.0\.0\/8\)/ });
  t.ok(p.checkAddress('192.168.0.1').allowed);
  t.notOk(new DestinationPolicy({ allowed: ['10.0.0.0/8'], denied: ['10.0.0.0/8'] }).checkAddress('10.0.0.1').allowed, 'on a tie, denied wins');
  t.throws(() => loadConfig({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/33,localhost' }), /WEBHOOK_ALLOWED_CIDRS.*127\.0\.0\.1\/33, localhost/);
  t.throws(() => loadConfig({ WEBHOOK_DENIED_CIDRS: '010.0.0.1' }), /WEBHOOK_DENIED_CIDRS/);
});

for (const backend of backends) {
  t.test(`${backend}: a delivery is not connected to a refused address, whatever the name resolves to`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db); // registration allows loopback here; the worker below does not
    const rx = await startReceiver(t);
    await addEndpoint(app, tenant, { url: `http://localhost:${rx.port}/hook` });
    await addEndpoint(app, tenant, { url: rx.url }); // 127.0.0.1 literal
    const w = worker(t, h.db, { config: { databaseUrl: h.url, webhookAllowedCidrs: [], webhookRetrySchedule: Array(10).fill(100_000) } });
    await record(h.db, userChange(tenant, randomUUID()));
    const errors = async () => (await sql<{ error: string }>`select error from webhook_attempts order by error`.execute(h.db)).rows.map((r) => r.error);
    await until(async () => (await errors()).length >= 2, 15_000, () => 'both attempts recorded');
    const [literal, named] = await errors();
    t.match(literal, /^destination refused: 127\.0\.0\.1 is loopback \(in 127\.0\.0\.0\/8\)$/);
    t.match(named, /^destination refused: localhost → (127\.0\.0\.1|::1) is loopback/, 'the name was resolved, and its address refused');
    await sleep(100);
    t.equal(rx.all.length, 0, 'the receiver was never connected to');
    await w.stop(0);

    // Allowed by configuration, the same name is resolved and delivered to (the checked lookup still resolves).
    const ok = await startReceiver(t);
    await sql`delete from webhook_endpoints`.execute(h.db);
    await addEndpoint(app, tenant, { url: `http://localhost:${ok.port}/hook` });
    worker(t, h.db, { config: { databaseUrl: h.url, webhookAllowedCidrs: LOOPBACK } });
    await record(h.db, userChange(tenant, randomUUID()));
    await ok.waitFor(1);
    t.pass('delivered to localhost once loopback is allowed');
  });
}

t.test("another protocol's port is refused at registration and at delivery (the Fetch standard's bad ports)", async (t) => {
  const h = await openTestDatabase(t, backends[0]!);
  const tenant = await createTenant(h.db);
  const app = await adminApp(t, h.db, { allowed: ['127.0.0.1/32'], denied: [] });
  for (const url of ['http://platform.example.com:25/hook', 'https://10.0.0.5:6667/hook', 'http://127.0.0.1:22/']) {
    const r = await api(app, 'POST', `/admin/v1/tenants/${tenant}/webhooks`, { url });
    t.equal(r.status, 400, url);
    t.match(r.body.detail, /port (25|6667|22) is one no webhook is sent to/);
  }
  t.equal((await api(app, 'POST', `/admin/v1/tenants/${tenant}/webhooks`, { url: 'http://10.0.0.5:8443/hook' })).status, 201, 'other ports are fine');

  // An endpoint stored before the check (or written around it) is refused when a delivery would go out.
  const sender = createSender(h.db, { publicUrl: 'https://roster.test', webhookTimeoutMs: 2000, webhookAllowedCidrs: ['127.0.0.1/32'] });
  t.teardown(() => sender.close());
  const a = await sender.post('http://127.0.0.1:25/hook', '{}', { 'content-type': 'application/json' });
  t.equal(a.statusCode, null);
  t.match(a.error, /destination refused: port 25/);
  t.equal(BLOCKED_PORTS.has(443), false);
});

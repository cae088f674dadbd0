import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/index.js';
import { GENERATED_KEY_FILE, prepareSecretsAtRest } from '../../src/services/encryption.js';
import { backends } from '../helpers/db.js';
import { ADMIN_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { startReceiver } from '../events/helpers.js';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

async function stored(a: TestApp) {
  const w = await sql<{ secret: string; ed25519_secret: string | null }>`select secret, ed25519_secret from webhook_endpoints`.execute(a.database.db);
  const s = await sql<{ private_jwk: unknown }>`select private_jwk from event_signing_keys`.execute(a.database.db);
  const o = await sql<{ private_jwk: string }>`select private_jwk from oauth_signing_keys`.execute(a.database.db);
  return [...w.rows.flatMap((r) => [r.secret, r.ed25519_secret]).filter((x) => x !== null), ...s.rows.map((r) => r.private_jwk), ...o.rows.map((r) => r.private_jwk)];
}

/** Another start on the same database with other configuration (as src/startup.ts then src/app.ts). */
async function restart(t: { teardown(fn: () => unknown): void }, a: TestApp, env: Record<string, string>) {
  const config = loadConfig({ LOG_LEVEL: 'silent', ADMIN_TOKEN, PUBLIC_URL: 'https://roster.test', RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '0', WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1', ...env });
  await prepareSecretsAtRest(config, a.database);
  const { app } = await buildApp({ config, database: a.database });
  t.teardown(() => app.close());
  await app.ready();
  return app;
}

for (const backend of backends) {
  t.test(`${backend}: secrets at rest are sealed, resealed under a new key, and a wrong key fails the start`, async (t) => {
    const k1 = key('k1');
    const a = await startApp(t, backend, { ENCRYPTION_KEYS: k1 });
    const rx = await startReceiver(t);
    const hook = await a.admin('POST', `/tenants/${a.tenant}/webhooks`, { url: rx.url, format: 'set' });
    t.equal(hook.status, 201);
    const clear = hook.body.secret as string;
    // Creates the SET and OAuth signing keys.
    t.equal((await a.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode, 200);

    const rows = await stored(a);
    t.ok(rows.length >= 3, 'webhook secret, SET key, OAuth key');
    for (const v of rows) {
      t.type(v, 'string');
      t.match(v as string, /^sealed:v1:k1:/, 'sealed under k1');
    }
    t.notOk(JSON.stringify(rows).includes(clear), 'the clear webhook secret is not in the database');
    t.notOk(JSON.stringify(rows).includes('"d":'), 'no private key parameter in clear');

    // It still works: a test delivery is signed with the secret.
    const test = await a.admin('POST', `/tenants/${a.tenant}/webhooks/${hook.body.id}/test`);
    t.equal(test.status, 200, JSON.stringify(test.body));

    // A row from before encryption (clear) and a key rotation: both resealed at the next start.
    await sql`update webhook_endpoints set previous_secret = ${'whsec_old_clear'}`.execute(a.database.db);
    const k2 = key('k2');
    const app2 = await restart(t, a, { ENCRYPTION_KEYS: `${k2},${k1}` });
    const after = await sql<{ secret: string; previous_secret: string }>`select secret, previous_secret from webhook_endpoints`.execute(a.database.db);
    t.match(after.rows[0]!.secret, /^sealed:v1:k2:/, 'resealed under the new key');
    t.match(after.rows[0]!.previous_secret, /^sealed:v1:k2:/, 'the clear row sealed');
    for (const v of await stored(a)) t.match(v as string, /^sealed:v1:k2:/);
    const jwks = await app2.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    t.equal(jwks.statusCode, 200);
    const got = await app2.inject({ method: 'POST', url: `/admin/v1/tenants/${a.tenant}/webhooks/${hook.body.id}/test`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    t.equal(got.statusCode, 200, 'the endpoint works under the new key');

    // k1 is no longer needed; a wrong k2, or no key at all, fails the start clearly.
    await t.resolves(restart(t, a, { ENCRYPTION_KEYS: k2 }));
    await t.rejects(restart(t, a, { ENCRYPTION_KEYS: key('k2') }), /does not open with encryption key "k2"/);
    await t.rejects(restart(t, a, { ENCRYPTION_KEYS: key('k3') }), /sealed with encryption key "k2", which ENCRYPTION_KEYS does not hold/);
    await t.rejects(restart(t, a, { ENCRYPTION_KEYS: 'k4:short' }), /must be 32 bytes/);

    // The key from a mounted file.
    const dir = mkdtempSync(join(tmpdir(), 'roster-keys-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'keys'), `${k2}\n`);
    await t.resolves(restart(t, a, { ENCRYPTION_KEYS_FILE: join(dir, 'keys') }));
  });
}

t.test('the embedded database generates its key in the data directory and keeps it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ LOG_LEVEL: 'silent', ADMIN_TOKEN, PUBLIC_URL: 'https://roster.test', DATA_DIR: dir });
  const run = async () => {
    const database = await openDatabase({ dataDir: dir });
    const { migrateToLatest } = await import('../../src/db/index.js');
    await migrateToLatest(database.db);
    await prepareSecretsAtRest(config, database);
    const { app } = await buildApp({ config, database });
    await app.ready();
    const r = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    const rows = await sql<{ private_jwk: string }>`select private_jwk from oauth_signing_keys`.execute(database.db);
    await app.close();
    await database.close();
    return { status: r.statusCode, sealed: rows.rows.map((x) => x.private_jwk) };
  };
  const first = await run();
  t.equal(first.status, 200);
  t.match(first.sealed[0], /^sealed:v1:local:/);
  const file = join(dir, GENERATED_KEY_FILE);
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only');
  const keyText = readFileSync(file, 'utf8');
  const second = await run();
  t.equal(second.status, 200, 'the same key opens them after a restart');
  t.same(second.sealed, first.sealed);
  t.equal(readFileSync(file, 'utf8'), keyText, 'the key is kept');
});

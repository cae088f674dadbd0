import { createServer, type Socket } from 'node:net';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/index.js';
import { backends, createPostgresDatabase, openTestDatabase } from '../helpers/db.js';
import { startApp } from '../helpers/app.js';

interface T {
  teardown(fn: () => unknown): void;
}

/** An app on a database that has not been migrated. */
async function unmigrated(t: T, backend: string): Promise<DatabaseHandle> {
  const url = backend === 'postgres' ? await createPostgresDatabase(t) : undefined;
  const database = await openDatabase(url ? { databaseUrl: url, poolMax: 2 } : { dataDir: 'memory://' });
  t.teardown(() => database.close());
  return database;
}

async function appOn(t: T, database: DatabaseHandle) {
  const { app, ops } = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), database });
  t.teardown(() => app.close());
  await app.ready();
  return { app, ops };
}

for (const backend of backends) {
  t.test(`${backend}: /livez and /readyz on a migrated database`, async (t) => {
    const a = await startApp(t, backend);
    const live = await a.app.inject({ method: 'GET', url: '/livez' });
    t.equal(live.statusCode, 200);
    t.same(live.json(), { status: 'ok' });
    const ready = await a.app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 200);
    t.same(ready.json(), { status: 'ok', checks: { database: 'ok' } });
    t.match(ready.headers['content-type'], /^application\/json/);
    t.notOk(ready.headers.connection === 'close', 'connections are kept while running');
  });

  t.test(`${backend}: /readyz is 503 while migrations are pending; /livez stays 200`, async (t) => {
    const { app } = await appOn(t, await unmigrated(t, backend));
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 503);
    t.equal(ready.json().status, 'unavailable');
    t.match(ready.json().checks.database, /^\d+ migration\(s\) not applied$/);
    t.equal((await app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
  });

  t.test(`${backend}: once shutdown begins /readyz is 503 and responses close their connection`, async (t) => {
    const { app, ops } = await appOn(t, await openTestDatabase(t, backend));
    t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    ops.lifecycle.beginShutdown();
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 503);
    t.same(ready.json(), { status: 'shutting down' });
    t.equal(ready.headers.connection, 'close');
    const live = await app.inject({ method: 'GET', url: '/livez' });
    t.equal(live.statusCode, 200, 'still alive: Kubernetes must not restart a draining pod');
    t.equal(live.headers.connection, 'close');
  });
}

t.test('postgres: /readyz is 503 when the database cannot be reached or does not answer in time', { skip: !backends.includes('postgres') && 'postgres backend not selected' }, async (t) => {
  // Nothing listens on this port: connections are refused at once.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = await openDatabase({ databaseUrl: `postgres://roster@127.0.0.1:${closedPort}/roster`, poolMax: 1 });
  t.teardown(() => refused.close());
  const a = await appOn(t, refused);
  const r1 = await a.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(r1.statusCode, 503);
  t.same(r1.json(), { status: 'unavailable', checks: { database: 'unreachable' } }, 'no connection details leak');

  // A server that accepts connections and never answers: the check gives up after its timeout.
  const sockets = new Set<Socket>();
  const silent = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });
  const hanging = await openDatabase({ databaseUrl: `postgres://roster@127.0.0.1:${(silent.address() as { port: number }).port}/roster`, poolMax: 1 });
  const b = await appOn(t, hanging);
  // Teardowns run in reverse: cut the hanging connection so the pool can close, then stop the server.
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await hanging.close().catch(() => {});
  });
  const [r2, r3] = await Promise.all([b.app.inject({ method: 'GET', url: '/readyz' }), b.app.inject({ method: 'GET', url: '/readyz' })]);
  t.equal(r2.statusCode, 503);
  t.same(r2.json(), { status: 'unavailable', checks: { database: 'no answer within 2000 ms' } });
  t.same(r3.json(), r2.json(), 'concurrent probes share one check');
  t.equal(sockets.size, 1, 'one connection attempt for both probes');
});

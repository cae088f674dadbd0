/**
 * A database too slow to answer (issue 23): the statement timeout and the
 * pool's acquire timeout turn a stuck database into quick 503s with
 * Retry-After instead of a pile-up of waiting requests. The users table is
 * held under an exclusive lock by another session, so every read of it
 * waits; the pool has one connection, so a second request waits for that.
 * Also the recogniser of unavailable-database errors, case by case.
 */
import pg from 'pg';
import t from 'tap';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { startApp, USER_SCHEMA } from '../helpers/app.js';

t.test('statement and acquire timeouts answer 503 with Retry-After, and the next request works', async (t) => {
  const a = await startApp(t, 'postgres', { DATABASE_POOL_MAX: '1', DATABASE_STATEMENT_TIMEOUT_MS: '1000', DATABASE_ACQUIRE_TIMEOUT_MS: '200' });
  t.equal((await a.scim('GET', '/Users')).status, 200, 'warm: the one connection is open');
  const blocker = new pg.Client({ connectionString: a.database.url });
  await blocker.connect();
  t.teardown(() => blocker.end());
  await blocker.query('begin');
  await blocker.query('lock table users in access exclusive mode');

  const started = Date.now();
  const timed = async (p: Promise<{ status: number; headers: Record<string, unknown>; body: any }>) => ({ ...(await p), ms: Date.now() - started });
  const [stuck, waiting] = await Promise.all([timed(a.scim('GET', '/Users')), timed(new Promise((r) => setTimeout(r, 50)).then(() => a.scim('GET', '/Users')))]);
  t.match(stuck, { status: 503, headers: { 'retry-after': '5' }, body: { status: '503', detail: /database is unavailable/ } }, 'the statement timeout cancels the stuck query');
  t.ok(stuck.ms >= 900, `after the statement timeout (${stuck.ms} ms)`);
  t.match(waiting, { status: 503, headers: { 'retry-after': '5' } }, 'a request that cannot get a connection in time');
  t.ok(waiting.ms < 900, `gives up after the acquire timeout, before the stuck one (${waiting.ms} ms)`);

  // In a Bulk request the operation that met the timeout fails with 503; the response itself is 200.
  const bulk = await a.scim('POST', '/Bulk', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
    Operations: [{ method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER_SCHEMA], userName: 'blocked' } }],
  });
  t.equal(bulk.status, 200);
  t.match(bulk.body.Operations[0], { status: '503', response: { detail: /Operations\[0\]: The database is unavailable/ } });

  await blocker.query('rollback');
  t.equal((await a.scim('GET', '/Users')).status, 200, 'the pool recovers once the database answers');
});

t.test('which errors mean the database is unavailable', async (t) => {
  const e = (code: string | undefined, message = 'x') => Object.assign(new Error(message), code ? { code } : {});
  for (const err of [
    e('57P01', 'terminating connection due to administrator command'),
    e('57P03', 'the database system is starting up'),
    e('57014', 'canceling statement due to statement timeout'),
    e('08006'),
    e('53300'),
    e('ECONNREFUSED'),
    e(undefined, 'Connection terminated unexpectedly'),
    e(undefined, 'timeout exceeded when trying to connect'),
    e(undefined, 'Client has encountered a connection error and is not queryable'),
    new AggregateError([e('ECONNREFUSED'), e('ECONNREFUSED')], ''),
  ]) {
    t.ok(isDatabaseUnavailable(err), `${(err as { code?: string }).code ?? ''} ${err.message}`);
  }
  for (const err of [e('23505'), e('40001'), e('42P01'), e(undefined, 'Connection terminated by the user'), new TypeError('x'), null, 'ECONNREFUSED']) {
    t.notOk(isDatabaseUnavailable(err), String(err));
  }
});

import t from 'tap';
import { TokenBuckets } from '../../src/http/rate-limit.js';
import { backends } from '../helpers/db.js';
import { ADMIN_TOKEN, ERROR_SCHEMA, startApp } from '../helpers/app.js';

t.test('token bucket: burst, continuous refill, Retry-After, cost cap, forgetting idle keys', async (t) => {
  let now = 0;
  const b = new TokenBuckets({ perMinute: 60, burst: 3, now: () => now, maxKeys: 2 });
  t.same([b.take('a'), b.take('a'), b.take('a')], [{ ok: true }, { ok: true }, { ok: true }], 'the burst passes');
  t.same(b.take('a'), { ok: false, retryAfterSeconds: 1 }, 'one token a second at 60/min');
  t.same(b.take('b'), { ok: true }, 'keys are independent');
  now = 500;
  t.same(b.take('a'), { ok: false, retryAfterSeconds: 1 }, 'half a token is not enough; Retry-After rounds up');
  now = 1000;
  t.same(b.take('a'), { ok: true }, 'refilled after a second');
  t.same(b.take('a', 2), { ok: false, retryAfterSeconds: 2 });
  now = 60_000;
  t.same(b.take('a', 2), { ok: true }, 'never more than the burst');
  t.same(b.take('a', 2), { ok: false, retryAfterSeconds: 1 }, 'one token left, one missing');
  now = 120_000;
  t.same(b.take('a', 50), { ok: true }, 'a cost above the bucket size needs a full bucket, not the impossible');
  t.same(b.take('a'), { ok: false, retryAfterSeconds: 1 });

  // Two keys already; a third sweeps the full bucket of `b` (forgetting it changes nothing) but keeps `a`.
  t.equal(b.size, 2);
  b.take('c');
  t.equal(b.size, 2);
  t.same(b.take('a'), { ok: false, retryAfterSeconds: 1 }, 'the partly spent bucket was kept');
});

for (const backend of backends) {
  t.test(`${backend}: SCIM requests are limited per authenticated tenant with 429, Retry-After and a SCIM error`, async (t) => {
    const a = await startApp(t, backend, { RATE_LIMIT_SCIM_PER_MINUTE: '60', RATE_LIMIT_SCIM_BURST: '3' });
    // Wrong tokens do not spend the tenant's budget: knowing its URL is not enough to throttle its IdP.
    for (let i = 0; i < 5; i++) {
      const r = await a.app.inject({ method: 'GET', url: `/scim/v2/${a.tenant}/ServiceProviderConfig`, headers: { authorization: 'Bearer wrong' } });
      t.equal(r.statusCode, 401);
    }
    for (let i = 0; i < 3; i++) t.equal((await a.scim('GET', '/ServiceProviderConfig')).status, 200, `request ${i + 1} of the burst`);
    const limited = await a.scim('GET', '/Users');
    t.equal(limited.status, 429);
    t.match(limited.headers['content-type'], /^application\/scim\+json/);
    t.match(limited.headers['retry-after'], /^[1-9]\d*$/);
    t.same(limited.body.schemas, [ERROR_SCHEMA]);
    t.equal(limited.body.status, '429', 'RFC 7644 §3.12: status is a string');
    t.match(limited.body.detail, new RegExp(`SCIM tenant ${a.tenant} is limited to 60 requests per minute`));

    // Another tenant has its own bucket; the admin API has its own limit.
    const other = await a.newTenant('globex');
    const r = await a.app.inject({ method: 'GET', url: `/scim/v2/globex/ServiceProviderConfig`, headers: { authorization: `Bearer ${other.token}` } });
    t.equal(r.statusCode, 200);
    t.equal((await a.admin('GET', '/tenants')).status, 200);
    // Probes are never limited.
    t.equal((await a.app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
  });

  t.test(`${backend}: the admin API is limited per client address, before authentication`, async (t) => {
    const a = await startApp(t, backend, { RATE_LIMIT_ADMIN_PER_MINUTE: '60', RATE_LIMIT_ADMIN_BURST: '2' });
    const from = (ip: string, token = ADMIN_TOKEN) =>
      a.app.inject({ method: 'GET', url: '/admin/v1/tenants', remoteAddress: ip, headers: { authorization: `Bearer ${token}` } });
    t.equal((await from('10.0.0.1', 'guess-0000000000000')).statusCode, 401);
    t.equal((await from('10.0.0.1')).statusCode, 200);
    const limited = await from('10.0.0.1');
    t.equal(limited.statusCode, 429, 'wrong guesses count: guessing ADMIN_TOKEN is slowed down');
    t.match(limited.headers['retry-after'], /^[1-9]\d*$/);
    t.equal(limited.json().status, '429');
    t.equal((await from('10.0.0.2')).statusCode, 200, 'another address has its own bucket');
    t.equal((await a.scim('GET', '/ServiceProviderConfig')).status, 200, 'SCIM is not affected');
  });

  t.test(`${backend}: a /Bulk request spends one token per operation (RFC 7644 §3.7)`, async (t) => {
    const a = await startApp(t, backend, { RATE_LIMIT_SCIM_PER_MINUTE: '60', RATE_LIMIT_SCIM_BURST: '3' });
    const bulk = (n: number, prefix: string) => ({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: Array.from({ length: n }, (_, i) => ({
        method: 'POST',
        path: '/Users',
        bulkId: `${prefix}${i}`,
        data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `${prefix}${i}@example.com` },
      })),
    });
    const three = await a.scim('POST', '/Bulk', bulk(3, 'a'));
    t.equal(three.status, 200, 'three operations fit the burst of three');
    t.equal(three.body.Operations.length, 3);
    const next = await a.scim('GET', '/ServiceProviderConfig');
    t.equal(next.status, 429, 'and spent it');

    // A fresh tenant: five operations are more than the bucket holds; a full bucket admits them (RFC 7644 §3.7:
    // a Bulk request within maxOperations must be able to succeed), and spends it.
    const other = await a.newTenant('globex');
    const as = (token: string) => (method: 'GET' | 'POST', url: string, body?: unknown) =>
      a.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
        ...(body ? { payload: JSON.stringify(body) } : {}),
      });
    const globex = as(other.token);
    const five = await globex('POST', '/scim/v2/globex/Bulk', bulk(5, 'b'));
    t.equal(five.statusCode, 200, 'more operations than the burst: admitted with a full bucket');
    t.equal(five.json().Operations.length, 5);
    t.equal((await globex('GET', '/scim/v2/globex/Users')).statusCode, 429, 'and the bucket is spent');
  });

  t.test(`${backend}: /Bulk and the rate limit agree: never refused for its size, Retry-After truthful, over maxOperations 413`, async (t) => {
    // 60 a minute = one token a second: slow enough that a loaded machine's slow first Bulk does not refill the
    // bucket before the second arrives, fast enough that the wait can be taken.
    const a = await startApp(t, backend, { RATE_LIMIT_SCIM_PER_MINUTE: '60', RATE_LIMIT_SCIM_BURST: '6', BULK_MAX_OPERATIONS: '10' });
    const bulk = (n: number, prefix: string) => ({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: Array.from({ length: n }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `${prefix}${i}`, data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `${prefix}${i}@example.com` } })),
    });
    t.equal((await a.scim('POST', '/Bulk', bulk(4, 'a'))).status, 200, 'four of six tokens');
    const refused = await a.scim('POST', '/Bulk', bulk(10, 'b'));
    t.equal(refused.status, 429, 'ten operations (at most a full bucket of six) with two tokens left');
    const wait = Number(refused.headers['retry-after']);
    t.ok(wait >= 1 && wait <= 4, `Retry-After ${wait} s: the time until the bucket can take it (four tokens at most)`);
    await new Promise((r) => setTimeout(r, wait * 1000));
    const retried = await a.scim('POST', '/Bulk', bulk(10, 'b'));
    t.equal(retried.status, 200, 'the same request succeeds after Retry-After');
    t.equal(retried.body.Operations.filter((o: { status: string }) => o.status === '201').length, 10);
    const tooMany = await a.scim('POST', '/Bulk', bulk(11, 'c'));
    t.equal(tooMany.status, 413, 'over maxOperations is 413, not 429 (RFC 7644 §3.7.4)');
    t.equal(tooMany.body.scimType, 'tooMany');
  });

  t.test(`${backend}: failed authentication is limited per client address, without looking credentials up`, async (t) => {
    const a = await startApp(t, backend, { RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '60', RATE_LIMIT_AUTH_FAILURES_BURST: '3' });
    const scim = (ip: string, token: string) => a.app.inject({ method: 'GET', url: `/scim/v2/${a.tenant}/Users`, remoteAddress: ip, headers: { authorization: `Bearer ${token}` } });
    // The good token is used (and cached) before the guessing starts.
    t.equal((await scim('10.0.0.1', a.token)).statusCode, 200);
    for (let i = 0; i < 3; i++) t.equal((await scim('10.0.0.1', `rst_guess${i}`)).statusCode, 401, `guess ${i + 1}: 401`);
    const limited = await scim('10.0.0.1', 'rst_guess3');
    t.equal(limited.statusCode, 429, 'the fourth failure in a row: 429');
    t.match(limited.headers['retry-after'], /^[1-9]\d*$/);
    t.equal(limited.json().status, '429');
    t.equal((await scim('10.0.0.1', a.token)).statusCode, 200, 'a token this process knows to be good is still served');
    const fresh = await a.services.tenants.issueToken(a.tenant, { name: 'not cached yet' });
    t.equal((await scim('10.0.0.1', fresh.secret)).statusCode, 429, 'an unknown token from that address is not even looked up');
    t.equal((await scim('10.0.0.2', 'rst_guess4')).statusCode, 401, 'another address has its own count');
    t.equal((await scim('10.0.0.2', fresh.secret)).statusCode, 200);
    // The admin API counts its failures the same way.
    const admin = (ip: string, token: string) => a.app.inject({ method: 'GET', url: '/admin/v1/tenants', remoteAddress: ip, headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i++) t.equal((await admin('10.0.0.3', `guess-admin-token-${i}`)).statusCode, 401);
    t.equal((await admin('10.0.0.3', 'guess-admin-token-x')).statusCode, 429);
    t.equal((await admin('10.0.0.3', ADMIN_TOKEN)).statusCode, 200, 'the right admin token is never refused for others\' guesses');
  });

  t.test(`${backend}: 0 turns a limit off`, async (t) => {
    const a = await startApp(t, backend, { RATE_LIMIT_SCIM_PER_MINUTE: '0', RATE_LIMIT_SCIM_BURST: '1', RATE_LIMIT_ADMIN_PER_MINUTE: '0', RATE_LIMIT_ADMIN_BURST: '1' });
    for (let i = 0; i < 5; i++) {
      t.equal((await a.scim('GET', '/ServiceProviderConfig')).status, 200);
      t.equal((await a.admin('GET', '/tenants')).status, 200);
    }
  });
}

import { Writable } from 'node:stream';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loggerOptions } from '../../src/http/log.js';
import { loadConfig } from '../../src/config.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { user } from '../helpers/app.js';

const ADMIN_TOKEN = 'admin-token-for-the-log-test-42';

for (const backend of backends) {
  t.test(`${backend}: logs are JSON with the request id and never contain a bearer token`, async (t) => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const database = await openTestDatabase(t, backend);
    // The app's own logger options (redaction included), at the most talkative level.
    const config = loadConfig({ LOG_LEVEL: 'trace', ADMIN_TOKEN, PUBLIC_URL: 'https://roster.test' });
    const { app, services } = await buildApp({ config, database, logger: { ...(loggerOptions(config) as object), stream } });
    t.teardown(() => app.close());
    await app.ready();
    await services.tenants.create({ id: 'acme' });
    const token = (await services.tenants.issueToken('acme', { name: 'log test' })).secret;
    const wrong = 'rst_this-is-a-wrong-token-that-must-not-be-logged';

    const send = (method: 'GET' | 'POST', url: string, auth: string, body?: unknown) =>
      app.inject({
        method,
        url,
        headers: { authorization: auth, 'x-request-id': `req-${lines.length}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
        ...(body ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
    t.equal((await send('GET', '/scim/v2/acme/Users', `Bearer ${token}`)).statusCode, 200);
    t.equal((await send('POST', '/scim/v2/acme/Users', `Bearer ${token}`, user('log@example.com'))).statusCode, 201);
    // Personal data in a query (a filter on an email address, a cursor) never reaches the logs.
    const filtered = `/scim/v2/acme/Users?filter=${encodeURIComponent('userName eq "jane.doe@corp.example"')}&count=5&cursor=`;
    t.equal((await send('GET', filtered, `Bearer ${token}`)).statusCode, 200);
    t.equal((await send('GET', `/scim/v2/acme/Users?filter=${encodeURIComponent('emails.value eq "jane.doe@corp.example"')}&startIndex=1`, `Bearer ${token}`)).statusCode, 200);
    t.equal((await send('POST', '/scim/v2/acme/Users', `Bearer ${token}`, '{not json')).statusCode, 400);
    t.equal((await send('GET', '/scim/v2/acme/Users', `Bearer ${wrong}`)).statusCode, 401);
    t.equal((await send('GET', '/scim/v2/acme/Users', `bearer   ${token}  `)).statusCode, 200);
    t.equal((await send('GET', '/admin/v1/tenants', `Bearer ${ADMIN_TOKEN}`)).statusCode, 200);
    t.equal((await send('GET', '/admin/v1/tenants', `Bearer ${wrong}`)).statusCode, 401);
    const issued = await send('POST', '/admin/v1/tenants/acme/tokens', `Bearer ${ADMIN_TOKEN}`, { name: 'second' });
    t.equal(issued.statusCode, 201);
    const issuedToken = issued.json().token as string;

    t.ok(lines.length >= 16, `${lines.length} log lines captured`);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    t.ok(parsed.some((l) => l.requestId === 'req-0' && l.msg === 'incoming request'), 'the request id (x-request-id) labels the lines');
    t.ok(parsed.every((l) => typeof l.level === 'number' && typeof l.time === 'number'), 'every line is pino JSON');
    const urls = parsed.map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean);
    t.ok(urls.includes('/scim/v2/acme/Users?filter=…&count=5&cursor=…'), 'a request line keeps the path, the parameter names and the paging values');
    t.same(lines.filter((l) => l.includes('jane.doe')), [], 'the filter values are in no log line');
    t.same(lines.filter((l) => l.includes('log@example.com')), [], 'no body is logged');
    for (const [name, secret] of Object.entries({ token, wrong, ADMIN_TOKEN, issuedToken })) {
      const leaking = lines.filter((l) => l.includes(secret));
      t.same(leaking, [], `${name} appears in no log line`);
    }
  });
}

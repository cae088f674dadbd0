/**
 * Graceful shutdown of the real server process (src/main.ts under tsx) on an
 * ephemeral port: SIGTERM while a request body is still being uploaded.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { backends } from '../helpers/db.js';
import { PROCESS_ADMIN_TOKEN as ADMIN_TOKEN, ServerProcess } from '../helpers/process.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection. */
function readAll(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    s.setEncoding('utf8').on('data', (c) => (data += c));
    s.on('error', () => {});
    s.on('close', () => resolve(data));
  });
}

/** Starts a POST /admin/v1/tenants whose body is only partly sent; returns the rest to send later. */
async function startSlowUpload(server: ServerProcess, id: string): Promise<{ socket: Socket; response: Promise<string>; finish: () => void }> {
  const body = JSON.stringify({ id, name: 'Uploaded slowly' });
  const socket = await open(server.port);
  const response = readAll(socket);
  socket.write(
    `POST /admin/v1/tenants HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body.slice(0, 8),
  );
  // The server has the request in hand (headers read, body incomplete).
  await server.waitFor((l) => l.msg === 'incoming request' && l.req?.url === '/admin/v1/tenants');
  return { socket, response, finish: () => socket.write(body.slice(8)) };
}

for (const backend of backends) {
  t.test(`${backend}: SIGTERM drains: in-flight request completes, new connections are refused, exit 0`, async (t) => {
    const server = await ServerProcess.start(t, backend, { SHUTDOWN_TIMEOUT_MS: '20000' });
    t.equal((await get(server.port, '/readyz')).status, 200, 'ready before the signal');
    const metrics = await get(server.metricsPort, '/metrics');
    t.equal(metrics.status, 200, 'metrics on their own listener');
    t.match(metrics.body, /roster_http_requests_total\{method="GET",route="\/readyz",status_code="200"\} 1/);
    t.equal((await get(server.port, '/metrics')).status, 404, 'and not on the public one');

    // An idle keep-alive connection must not hold the process open.
    const idle = await open(server.port);
    const idleData = readAll(idle);
    const answered = new Promise((r) => idle.once('data', r));
    idle.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    await answered;

    const upload = await startSlowUpload(server, 'drained');
    server.proc.kill('SIGTERM');
    const draining = await server.waitFor((l) => l.msg === 'stopped accepting connections; draining');
    t.ok(draining.openConnections >= 1, `in-flight connection still open (${draining.openConnections})`);

    const refused = await open(server.port).then(
      (s) => (s.destroy(), 'connected'),
      (err: NodeJS.ErrnoException) => err.code,
    );
    t.equal(refused, 'ECONNREFUSED', 'new connections are refused');

    upload.finish();
    const response = await upload.response;
    t.match(response, /^HTTP\/1\.1 201 Created\r\n/, 'the in-flight request completes');
    t.match(response, /\r\nconnection: close\r\n/i, 'and its connection is closed after the response');
    t.match(response, /"id":"drained"/);
    t.match(await idleData, /^HTTP\/1\.1 200 OK/, 'the keep-alive connection was answered, then closed by the server');

    const { code, signal } = await server.exited;
    t.equal(signal, null);
    t.equal(code, 0, 'exit 0: everything finished within SHUTDOWN_TIMEOUT_MS');
    const done = server.lines.find((l) => l.msg === 'shut down');
    t.equal(done?.clean, true);
    t.notOk(server.lines.some((l) => l.level >= 50), 'no error logged');
  });
}

t.test(`${backends[0]}: a request still running at the deadline is cut, and the exit code says so`, async (t) => {
  const server = await ServerProcess.start(t, backends[0]!, { SHUTDOWN_TIMEOUT_MS: '1000' });
  const upload = await startSlowUpload(server, 'never-finished');
  server.proc.kill('SIGTERM');
  const { code } = await server.exited;
  t.equal(code, 1, 'exit 1: the drain did not finish');
  const warn = server.lines.find((l) => l.msg === 'shutdown deadline reached; closing remaining connections');
  t.same(warn?.unfinished, ['http']);
  t.equal(await upload.response, '', 'the connection was closed without a response');
  t.equal(server.lines.find((l) => l.msg === 'shut down')?.clean, false);
});

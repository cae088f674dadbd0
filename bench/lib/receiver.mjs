// The webhook receiver of the event-latency scenario, in a worker thread of the bench process: its own event loop,
// so the arrival times it takes are not delayed by the load generator's. It answers 204 once a request is read and
// keeps, per request, the event's resource id, type, `timestamp` (ms) and the arrival time (ms since the epoch).
import { createServer } from 'node:http';
import { parentPort } from 'node:worker_threads';

const got = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    res.writeHead(204).end();
    try {
      const e = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      got.push([e.data?.id ?? '', e.type ?? '', Date.parse(e.timestamp), at, req.headers['webhook-id'] ?? '']);
    } catch {
      got.push(['', 'unreadable', NaN, at, '']);
    }
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'count') parentPort.postMessage({ count: got.length });
  if (m === 'take') parentPort.postMessage({ got: got.splice(0) });
  if (m === 'close') server.close(() => parentPort.close());
});

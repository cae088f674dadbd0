/**
 * Test helpers for events: real loopback HTTP receivers, a tenant, changes
 * recorded through recordChange inside a Kysely transaction (as services do),
 * and a fast delivery configuration.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Db } from '../../src/db/index.js';
import { insertTenant } from '../../src/db/tenants.js';
import type { DestinationRules } from '../../src/events/destinations.js';
import { recordChange, type ResourceChange } from '../../src/events/record.js';
import type { Actor } from '../../src/services/actor.js';
import { startDeliveryWorker, type DeliveryConfig, type DeliveryWorker, type DeliveryWorkerOptions } from '../../src/events/worker.js';
import { installErrorHandling } from '../../src/http/errors.js';
import { eventRoutes } from '../../src/http/admin/events.js';
import { webhookRoutes } from '../../src/http/admin/webhooks.js';
import { jwksRoutes } from '../../src/http/jwks.js';

interface T {
  teardown(fn: () => unknown): void;
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
}

export type Handler = (req: IncomingMessage, body: string, res: ServerResponse, n: number) => unknown;

export const ok: Handler = (_req, _body, res) => {
  res.writeHead(204).end();
};

export interface Receiver {
  url: string;
  port: number;
  /** Requests answered 2xx, in arrival order. */
  accepted: Received[];
  /** Every request, whatever the answer. */
  all: Received[];
  handler: Handler;
  /** Resolve when `accepted.length >= n`; fail after `ms`. */
  waitFor(n: number, ms?: number): Promise<void>;
  waitForAll(n: number, ms?: number): Promise<void>;
  close(): Promise<void>;
  /** Listen again on the same port (after close()). */
  reopen(): Promise<void>;
}

export async function startReceiver(t: T, handler: Handler = ok, port = 0): Promise<Receiver> {
  const accepted: Received[] = [];
  const all: Received[] = [];
  const sockets = new Set<import('node:net').Socket>();
  let server: Server;
  const r: Receiver = {
    url: '',
    port: 0,
    accepted,
    all,
    handler,
    async waitFor(n, ms = 15_000) {
      await until(() => accepted.length >= n, ms, () => `receiver got ${accepted.length} accepted deliveries, expected ${n}`);
    },
    async waitForAll(n, ms = 15_000) {
      await until(() => all.length >= n, ms, () => `receiver got ${all.length} requests, expected ${n}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    reopen: () => listen(r.port),
  };
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          const rec: Received = { headers: req.headers, body, json, at: Date.now() };
          all.push(rec);
          const origEnd = res.end.bind(res);
          res.end = ((...args: Parameters<typeof res.end>) => {
            if (res.statusCode >= 200 && res.statusCode < 300) accepted.push(rec);
            return origEnd(...args);
          }) as typeof res.end;
          Promise.resolve(r.handler(req, body, res, all.length)).catch(() => {
            if (!res.headersSent) res.writeHead(500).end();
          });
        });
      });
      server.keepAliveTimeout = 1000;
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        r.port = (server.address() as AddressInfo).port;
        r.url = `http://127.0.0.1:${r.port}/hook`;
        resolve();
      });
    });
  await listen(port);
  t.teardown(() => r.close());
  return r;
}

export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function createTenant(db: Db, id = 'acme'): Promise<string> {
  await insertTenant(db, { id, name: id, settings: {} });
  return id;
}

/** The actor of the changes these helpers record (a SCIM token, as the services pass it). */
export const TEST_ACTOR: Actor = { type: 'scimToken', id: '00000000-0000-4000-8000-000000000001', name: 'test' };

/** A user change as the Users service would describe it. */
export function userChange(tenantId: string, id: string, over: Partial<ResourceChange> = {}): ResourceChange {
  const version = over.version ?? 1;
  const userName = over.name ?? `user-${id.slice(0, 8)}`;
  return {
    tenantId,
    resourceType: 'User',
    action: 'created',
    id,
    externalId: `ext-${id.slice(0, 8)}`,
    name: userName,
    version,
    etag: `W/"${version}"`,
    changed: [],
    resource: {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      id,
      externalId: `ext-${id.slice(0, 8)}`,
      userName,
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: `${userName}@example.com`, type: 'work', primary: true }],
      active: true,
      meta: { resourceType: 'User', version: `W/"${version}"` },
    },
    actor: TEST_ACTOR,
    ...over,
  };
}

export async function record(db: Db, ...changes: ResourceChange[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const c of changes) await recordChange(trx, c);
  });
}

/** n users created, each then updated `updates` times (one transaction per change, like the API). */
export async function churn(db: Db, tenantId: string, users: number, updates: number): Promise<string[]> {
  const ids = Array.from({ length: users }, () => randomUUID());
  for (const id of ids) await record(db, userChange(tenantId, id));
  for (let v = 2; v <= updates + 1; v++) {
    for (const id of ids) {
      const c = userChange(tenantId, id, { action: 'updated', version: v, changed: ['name.givenName'] });
      (c.resource!.name as Record<string, unknown>).givenName = `Ada${v}`;
      await record(db, c);
    }
  }
  return ids;
}

/** The receivers here listen on loopback, which webhook destinations refuse unless allowed (src/events/destinations.ts). */
export const LOOPBACK = ['127.0.0.0/8', '::1'];

export const fastConfig = (over: Partial<DeliveryConfig> = {}): DeliveryConfig => ({
  publicUrl: 'https://roster.test',
  webhookAllowedCidrs: LOOPBACK,
  webhookRetrySchedule: [50, 100, 150, 200, 250, 300, 400, 500],
  webhookTimeoutMs: 5000, // PGlite runs on the test's own thread; a tight timeout would fire while a query blocks the event loop
  webhookConcurrency: 8,
  webhookPollIntervalMs: 50,
  ...over,
});

export const silentLogger = pino({ level: 'silent' });

export function worker(t: T, db: Db, over: Omit<Partial<DeliveryWorkerOptions>, 'config'> & { config?: Partial<DeliveryConfig> } = {}): DeliveryWorker {
  const w = startDeliveryWorker({ db, logger: silentLogger, ...over, config: fastConfig(over.config) });
  t.teardown(() => w.stop(0));
  return w;
}

/** The admin routes on a bare Fastify app (as the lead's admin scope mounts them), plus the JWKS. */
export async function adminApp(t: T, db: Db, destinations: DestinationRules = { allowed: LOOPBACK, denied: [] }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  installErrorHandling(app);
  await app.register(webhookRoutes, { prefix: '/admin/v1/tenants/:tenant', db, secretGraceSeconds: 3600, destinations });
  await app.register(eventRoutes, { prefix: '/admin/v1/tenants/:tenant', db });
  await app.register(jwksRoutes, { db });
  await app.ready();
  t.teardown(() => app.close());
  return app;
}

export async function api(app: FastifyInstance, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await app.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
}

/** Register an endpoint through the admin API. */
export async function addEndpoint(app: FastifyInstance, tenant: string, body: Record<string, unknown>): Promise<{ id: string; secret: string; publicKey: string | null }> {
  const r = await api(app, 'POST', `/admin/v1/tenants/${tenant}/webhooks`, body);
  if (r.status !== 201) throw new Error(`could not create endpoint: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Per resource id, the `data.sequence` values in arrival order. */
export function sequencesByResource(received: Received[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const r of received) {
    const d = r.json.data;
    const list = m.get(d.id) ?? [];
    list.push(d.sequence);
    m.set(d.id, list);
  }
  return m;
}

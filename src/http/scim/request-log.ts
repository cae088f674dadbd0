/**
 * Feeding the provisioning log (src/services/request-log.ts) from the SCIM
 * API: every request of a tenant, after its response, with who sent it, what
 * it asked, what it got and what it touched; and noting the tenant connected
 * on its first success. Nothing here waits for the database.
 *
 * Requests that failed authentication are logged too (actor null, with the
 * start of the token presented when it is one of Roster's, e.g. a revoked
 * one), in the tenant named by the URL if it exists: "Entra shows errors" is
 * often an expired token. Requests refused by the failed-authentication limit
 * (429 before any look-up) are not, so a stranger guessing tokens cannot
 * flood a tenant's log.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { isObject } from '../../scim/json.js';
import { redactSecrets } from '../../scim/redact.js';
import { summarizeBulk, summarizePatch } from '../../scim/summary.js';
import { recogniseIdp } from '../../services/clients.js';
import type { ScimContext } from '../../services/context.js';
import type { RequestLog, RequestLogEntry } from '../../services/request-log.js';
import type { TenantStatusService } from '../../services/status.js';
import { displayPrefix, TOKEN_PREFIX } from '../../services/tenants.js';
import { bearerToken } from '../auth.js';

export interface RequestLogHooks {
  requestLog?: RequestLog | undefined;
  status?: TenantStatusService | undefined;
}

/** Stored lengths: longer values are cut (a body: replaced by a note). */
const MAX = { userAgent: 256, path: 1024, filter: 4096, detail: 2000, body: 64 * 1024, resourceIds: 100 };

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** What onSend saw of the response, kept for onResponse; only for errors and opted-in bodies. */
interface Seen {
  scimType?: string;
  detail?: string;
  responseBody?: string;
}
const seen = new WeakMap<FastifyRequest, Seen>();

/** A body as kept with the tenant's opt-in: secrets removed, or a note when it is too large. */
function keptBody(body: unknown): string | null {
  if (body === undefined || body === null || body === '') return null;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return `[${text.length} characters of text, not kept]`;
    }
  }
  const text = JSON.stringify(redactSecrets(body));
  return text.length > MAX.body ? `[${text.length} characters, not kept]` : text;
}

const idps = new Map<string, string | null>();
/** recogniseIdp memoised per User-Agent (a tenant's IdP sends the same one every time). */
function idpOf(userAgent: string | undefined, url: string): string | null {
  const key = `${userAgent ?? ''}\n${/aadoptscim062020/i.test(url)}`;
  let idp = idps.get(key);
  if (idp === undefined) {
    if (idps.size >= 1000) idps.clear();
    idps.set(key, (idp = recogniseIdp(userAgent, url)));
  }
  return idp;
}

function filterOf(req: FastifyRequest): string | null {
  const query = req.query as Record<string, unknown> | undefined;
  const f = query?.filter ?? (req.method === 'POST' && isObject(req.body) ? req.body.filter : undefined);
  return typeof f === 'string' ? cut(f, MAX.filter) : null;
}

function summaryOf(req: FastifyRequest, route: string): string | null {
  if (req.method === 'PATCH') return summarizePatch(req.body);
  if (req.method === 'POST' && /\/bulk$/i.test(route)) return summarizeBulk(req.body);
  return null;
}

export function installRequestLog(app: FastifyInstance, deps: RequestLogHooks): void {
  const { requestLog, status } = deps;
  if (!requestLog && !status) return;

  // Callback style (every SCIM request): only errors and opted-in bodies cost anything here.
  app.addHook('onSend', (req: FastifyRequest, reply: FastifyReply, payload: unknown, done) => {
    const ctx = req.scim as ScimContext | null;
    const bodies = requestLog && ctx?.settings.requestLog.bodies;
    if (requestLog && (reply.statusCode >= 400 || bodies) && typeof payload === 'string') {
      const s: Seen = {};
      try {
        const parsed: unknown = payload ? JSON.parse(payload) : undefined;
        if (reply.statusCode >= 400 && isObject(parsed)) {
          if (typeof parsed.scimType === 'string') s.scimType = parsed.scimType;
          if (typeof parsed.detail === 'string') s.detail = cut(parsed.detail, MAX.detail);
        }
        if (bodies && payload.length <= MAX.body) s.responseBody = keptBody(parsed) ?? undefined;
        else if (bodies) s.responseBody = `[${payload.length} characters, not kept]`;
      } catch {
        // not JSON: nothing to read
      }
      seen.set(req, s);
    }
    done(null, payload);
  });

  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done) => {
    const ctx = req.scim as ScimContext | null;
    const code = reply.statusCode;
    const userAgent = req.headers['user-agent'];
    const idp = idpOf(userAgent, req.url);
    if (ctx && code < 400) status?.noteSuccess(ctx, { userAgent: userAgent ?? null, idp });
    const tenantId = ctx?.tenant.id ?? (req.params as { tenant?: string } | undefined)?.tenant;
    if (!requestLog || !tenantId || (!ctx && code !== 401)) return done();

    const route = req.routeOptions.url ?? '';
    const q = req.url.indexOf('?');
    const path = (q < 0 ? req.url : req.url.slice(0, q)).replace(/^\/scim\/v2\/[^/]*/i, '') || '/';
    const id = (req.params as { id?: unknown }).id;
    const resourceIds = new Set<string>(typeof id === 'string' && id ? [id] : []);
    for (const r of ctx?.touched ?? []) resourceIds.add(r);
    const token = ctx ? undefined : bearerToken(req);
    const s = seen.get(req);
    const entry: RequestLogEntry = {
      tenantId,
      at: new Date(Date.now() - reply.elapsedTime),
      requestId: String(req.id),
      actor: ctx?.actor ?? null,
      tokenPrefix: token?.startsWith(TOKEN_PREFIX) ? displayPrefix(token) : null,
      userAgent: userAgent === undefined ? null : cut(userAgent, MAX.userAgent),
      idp,
      method: req.method,
      path: cut(path, MAX.path),
      filter: filterOf(req),
      status: code,
      scimType: s?.scimType ?? null,
      detail: s?.detail ?? null,
      durationMs: reply.elapsedTime,
      resourceIds: [...resourceIds].slice(0, MAX.resourceIds),
      summary: summaryOf(req, route),
      notes: ctx?.notes ?? [],
      requestBody: ctx?.settings.requestLog.bodies ? keptBody(req.body) : null,
      responseBody: s?.responseBody ?? null,
    };
    requestLog.record(entry);
    done();
  });
}

/** roster_request_log_entries_total{outcome="written"|"dropped"} and the queue length, read from the writer at scrape time. */
export function registerRequestLogMetrics(registry: Registry, requestLog: RequestLog): void {
  new Counter({
    name: 'roster_request_log_entries_total',
    help: 'Provisioning log entries written by this process, or dropped (queue full or the database could not take them).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const s = requestLog.stats;
      this.inc({ outcome: 'written' }, s.written);
      this.inc({ outcome: 'dropped' }, s.dropped);
    },
  });
  new Gauge({
    name: 'roster_request_log_queued',
    help: 'Provisioning log entries waiting to be written.',
    registers: [registry],
    collect() {
      this.set(requestLog.stats.queued);
    },
  });
}

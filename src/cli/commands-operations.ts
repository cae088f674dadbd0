/**
 * CLI commands for running a tenant day to day: its policy, the dry run and
 * go-live, the safeguard's holds, the provisioning log, connection status,
 * webhook deliveries and the audit trail (README.md "CLI").
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { path, type ApiRequest } from './client.js';
import { defined, integer, str, type Command, type Context, type Input, type OptionSpec } from './command-kit.js';
import { CliError, EXIT } from './exit-codes.js';
import { json, record, table, type Column } from './output.js';

const page: Record<string, OptionSpec> = {
  limit: { type: 'string', value: '<n>', description: 'at most this many' },
  cursor: { type: 'string', value: '<cursor>', description: 'continue from the previous page’s next' },
};
const range: Record<string, OptionSpec> = {
  from: { type: 'string', value: '<time>', description: 'only entries at or after this ISO 8601 time' },
  to: { type: 'string', value: '<time>', description: 'only entries before this ISO 8601 time' },
};
const more = (b: { next?: string | null }) => (b.next ? `more: --cursor ${b.next}\n` : '');
const actorName = (a: { type?: string; name?: string } | null | undefined) => (a ? `${a.name} (${a.type})` : null);

/** A JSON document from a file, or `-` for standard input. */
function jsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.usage.code);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not JSON: ${(err as Error).message}`, EXIT.usage.code);
  }
}

const requestFilters: Record<string, OptionSpec> = {
  errors: { type: 'boolean', description: 'only requests answered with status 400 or more' },
  status: { type: 'string', value: '<4xx|409>', description: 'a status class or code' },
  resource: { type: 'string', value: '<id>', description: 'only requests about this resource' },
  token: { type: 'string', value: '<tokenId>', description: 'only requests with this token' },
};
const requestsQuery = (i: Input, extra: Record<string, string | undefined>): ApiRequest => ({
  method: 'GET',
  path: path`/tenants/${i.args.tenant!}/requests`,
  query: defined({ errors: i.opts.errors ? 'true' : undefined, status: str(i, 'status'), resource: str(i, 'resource'), token: str(i, 'token'), ...extra }) as Record<string, string>,
});
const requestColumns: Column<any>[] = [
  ['at', (r) => r.at],
  ['method', (r) => r.method],
  ['path', (r) => r.path],
  ['status', (r) => r.status],
  ['ms', (r) => r.durationMs],
  ['client', (r) => r.client?.idp ?? r.client?.userAgent],
  ['summary', (r) => r.summary],
  ['detail', (r) => r.detail],
];

/** Polls the newest page and prints what it has not printed yet, oldest first (JSON: one entry per line). */
async function tailRequests(i: Input, ctx: Context): Promise<void> {
  const intervalMs = integer(str(i, 'interval') ?? '2', 'interval') * 1000;
  const seen = new Set<string>();
  let since: string | undefined;
  let first = true;
  while (!ctx.signal.aborted) {
    const { body } = await ctx.client.send(requestsQuery(i, { limit: '100', from: since }));
    const fresh = (body.requests as { id: string; at: string }[]).filter((r) => !seen.has(r.id)).reverse();
    for (const r of fresh) seen.add(r.id);
    if (seen.size > 10_000) for (const id of [...seen].slice(0, 5_000)) seen.delete(id);
    if (fresh.length) {
      if (ctx.json) for (const r of fresh) ctx.out(JSON.stringify(r) + '\n');
      else ctx.out(table(fresh, requestColumns, { header: first }));
      first = false;
      since = fresh.at(-1)!.at;
    }
    await sleep(intervalMs, undefined, { signal: ctx.signal }).catch(() => {});
  }
}

const holdColumns: Column<any>[] = [
  ['id', (h) => h.id],
  ['state', (h) => h.state],
  ['items', (h) => h.items],
  ['held events', (h) => h.heldEvents],
  ['created', (h) => h.createdAt],
  ['decided', (h) => h.decidedAt],
  ['reason', (h) => h.reason],
];
const holdDecision = (verb: 'release' | 'reject', summary: string): Command => ({
  name: `holds ${verb}`,
  summary,
  args: ['tenant', 'id'],
  request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/holds/${i.args.id!}/${verb}` }),
  show: (b) => record(b, holdColumns),
});

const counts = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');

export const operationsCommands: Command[] = [
  {
    name: 'policy get',
    summary: "A tenant's provisioning policy (defaults filled in), as JSON",
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/policy` }),
    show: (b) => json(b),
  },
  {
    name: 'policy set',
    summary: 'Replace the policy with a JSON document from a file (- for standard input)',
    args: ['tenant', 'file'],
    request: (i: Input) => ({ method: 'PUT', path: path`/tenants/${i.args.tenant!}/policy`, body: jsonFile(i.args.file!) }),
    show: (b) => `policy version ${b.meta?.version ?? b.version ?? '?'} in force\n`,
  },
  {
    name: 'policy status',
    summary: 'Active users against the license cap, and the latest re-evaluation or go-live job',
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/policy/status` }),
    show: (b) => json(b),
  },
  {
    name: 'tenants dry-run',
    summary: 'What going live would send, counted (CSV files: GET the listed files)',
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/dry-run` }),
    show: (b) =>
      record(b, [
        ['mode', (r) => r.mode],
        ['policy version', (r) => r.policyVersion],
        ['users', (r) => counts(r.users)],
        ['groups', (r) => counts(r.groups)],
        ['reconciliation', (r) => counts(r.reconciliation)],
        ['license', (r) => `cap ${r.license.cap ?? 'none'}, active after go-live ${r.license.activeAfterGoLive}, over by ${r.license.overBy}`],
        ['files', (r) => Object.values(r.files)],
      ]),
  },
  {
    name: 'tenants go-live',
    summary: 'Switch a dry-run tenant to live; the host is told the resulting state',
    args: ['tenant'],
    request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/go-live` }),
    show: (b) => (b.started ? `going live: ${b.job?.state ?? 'started'}\n` : 'already live\n'),
  },
  {
    name: 'holds list',
    summary: "The deletion safeguard's holds, newest first",
    args: ['tenant'],
    options: { state: { type: 'string', value: 'open|released|rejected', description: 'only holds in this state' }, ...page },
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/holds`, query: { state: str(i, 'state'), limit: str(i, 'limit'), cursor: str(i, 'cursor') } }),
    show: (b) => table(b.holds, holdColumns) + more(b),
  },
  {
    name: 'holds get',
    summary: 'One hold and the deactivations and deletions it holds',
    args: ['tenant', 'id'],
    options: page,
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/holds/${i.args.id!}`, query: { limit: str(i, 'limit'), cursor: str(i, 'cursor') } }),
    show: (b) =>
      record(b.hold, holdColumns) +
      '\nitems:\n' +
      table<any>(b.items, [
        ['user', (x) => x.userName],
        ['externalId', (x) => x.externalId],
        ['event', (x) => x.event],
        ['host had', (x) => x.from],
        ['request', (x) => x.requestId],
        ['at', (x) => x.at],
      ]) +
      more(b),
  },
  holdDecision('release', 'Release a hold: the host is told what was held, in order'),
  holdDecision('reject', 'Reject a hold: what was held is dropped; the host keeps its users'),
  {
    name: 'requests list',
    summary: "The tenant's provisioning log: SCIM requests, newest first",
    args: ['tenant'],
    options: { ...requestFilters, ...range, ...page },
    request: (i) => requestsQuery(i, { from: str(i, 'from'), to: str(i, 'to'), limit: str(i, 'limit'), cursor: str(i, 'cursor') }),
    show: (b) => table<any>(b.requests, requestColumns) + more(b),
  },
  {
    name: 'requests tail',
    summary: 'The provisioning log as it happens: the latest requests, then each new one, until interrupted',
    args: ['tenant'],
    options: { ...requestFilters, interval: { type: 'string', value: '<s>', description: 'seconds between polls (default 2)' } },
    run: tailRequests,
  },
  {
    name: 'tenants status',
    summary: 'Connection status of a tenant: counts, last request, errors, webhook health',
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/status` }),
    show: (b) =>
      record(b, [
        ['tenant', (s) => s.tenant],
        ['connected', (s) => (s.connected ? `yes, since ${s.connectedAt}` : 'no')],
        ['users', (s) => counts(s.users)],
        ['groups', (s) => s.groups.total],
        ['last request', (s) => (s.lastRequest ? `${s.lastRequest.at} ${s.lastRequest.method} ${s.lastRequest.path} → ${s.lastRequest.status}` : null)],
        ['last 24 h', (s) => `${s.last24h.requests} requests, ${s.last24h.errors} errors`],
      ]) +
      '\nwebhooks:\n' +
      table<any>(b.webhooks, [
        ['id', (w) => w.id],
        ['url', (w) => w.url],
        ['enabled', (w) => (w.enabled ? 'yes' : 'no')],
        ['backlog', (w) => w.backlog],
        ['dead', (w) => w.deadLettered],
        ['last error', (w) => w.lastError],
      ]),
  },
  {
    name: 'webhooks deliveries',
    summary: "A webhook endpoint's deliveries, newest first",
    args: ['tenant', 'webhookId'],
    options: { status: { type: 'string', value: 'pending|succeeded|dead', description: 'only deliveries in this state' }, ...range, ...page },
    request: (i) => ({
      method: 'GET',
      path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.webhookId!}/deliveries`,
      query: { status: str(i, 'status'), from: str(i, 'from'), to: str(i, 'to'), limit: str(i, 'limit'), cursor: str(i, 'cursor') },
    }),
    show: (b) =>
      table<any>(b.deliveries, [
        ['id', (d) => d.id],
        ['event', (d) => d.event?.type ?? d.eventId],
        ['status', (d) => d.status],
        ['attempts', (d) => d.attempts],
        ['last status', (d) => d.lastStatus],
        ['last error', (d) => d.lastError],
      ]) + more(b),
  },
  {
    name: 'webhooks redeliver',
    summary: "Send every dead letter of an endpoint again, in event order",
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.id!}/redeliver`, body: { status: 'dead' } }),
    show: (b) => `queued ${b.queued} deliveries\n`,
  },
  {
    name: 'webhooks test',
    summary: 'Send a test ping to an endpoint now and show what it answered',
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.id!}/test` }),
    show: (b) => json(b),
  },
  {
    name: 'audit list',
    summary: 'Admin actions, newest first (of one tenant with --tenant)',
    options: { tenant: { type: 'string', value: '<id>', description: 'only this tenant' }, action: { type: 'string', value: '<action>', description: 'only this action, e.g. hold.released' }, ...range, ...page },
    request: (i) => ({
      method: 'GET',
      path: str(i, 'tenant') ? path`/tenants/${str(i, 'tenant')!}/audit` : '/audit',
      query: { action: str(i, 'action'), from: str(i, 'from'), to: str(i, 'to'), limit: str(i, 'limit'), cursor: str(i, 'cursor') },
    }),
    show: (b) =>
      table<any>(b.entries, [
        ['at', (e) => e.at],
        ['tenant', (e) => e.tenant],
        ['actor', (e) => actorName(e.actor)],
        ['action', (e) => e.action],
        ['target', (e) => e.target?.id],
      ]) + more(b),
  },
];

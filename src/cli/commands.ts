/**
 * Every CLI command over the admin API, as data: its words, arguments and
 * options, the one request it sends, and how a person sees the answer
 * (--json prints the answer's body unchanged). Adding a command for a new
 * admin route is one entry here.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { path, type ApiRequest } from './client.js';
import { defined, integer, list, shownOnce, str, type Command, type Context, type Input, type OptionSpec } from './command-kit.js';
import { credentialCommands } from './credential-commands.js';
import { operationsCommands } from './commands-operations.js';
import { json, record, table, type Column } from './output.js';

export type { Command, Context, Input, OptionSpec } from './command-kit.js';

const tenantFields: Column<any>[] = [
  ['id', (t) => t.id],
  ['name', (t) => t.name],
  ['scim base url', (t) => t.scimBaseUrl],
  ['compatibility', (t) => t.settings?.compatibility],
  ['patch response', (t) => t.settings?.patchResponse],
  ['created', (t) => t.createdAt],
];
const tokenColumns: Column<any>[] = [
  ['id', (t) => t.id],
  ['name', (t) => t.name],
  ['prefix', (t) => t.prefix],
  ['created', (t) => t.createdAt],
  ['expires', (t) => t.expiresAt],
  ['last used', (t) => t.lastUsedAt],
  ['revoked', (t) => t.revokedAt],
  ['scopes', (t) => t.scopes?.join(' ')],
];
const webhookFields: Column<any>[] = [
  ['id', (w) => w.id],
  ['url', (w) => w.url],
  ['format', (w) => w.format],
  ['events', (w) => w.events ?? 'all'],
  ['enabled', (w) => (w.enabled ? 'yes' : `no${w.disabledReason ? ` (${w.disabledReason})` : ''}`)],
  ['description', (w) => w.description],
];
const eventColumns: Column<any>[] = [
  ['time', (e) => e.timestamp],
  ['type', (e) => e.type],
  ['resource', (e) => e.data?.userName ?? e.data?.displayName ?? e.data?.id],
  ['id', (e) => e.id],
  ['cursor', (e) => e.cursor],
];

const settingsOptions: Record<string, OptionSpec> = {
  name: { type: 'string', description: 'display name' },
  compatibility: { type: 'string', value: 'lenient|strict', description: 'accept the non-RFC forms Entra ID and Okta send (lenient) or not' },
  'patch-response': { type: 'string', value: 'auto|resource|noContent', description: 'what a successful PATCH answers' },
};
const settingsBody = (i: Input) => {
  const settings = defined({ compatibility: str(i, 'compatibility'), patchResponse: str(i, 'patch-response') });
  return defined({ name: str(i, 'name'), settings: Object.keys(settings).length ? settings : undefined });
};

// ------------------------------------------------------------ the commands

export const commands: Command[] = [
  {
    name: 'tenants create',
    summary: 'Create a tenant and its first SCIM token',
    args: ['id'],
    options: settingsOptions,
    request: (i) => ({ method: 'POST', path: '/tenants', body: { id: i.args.id, ...settingsBody(i) } }),
    show: (b) => record(b.tenant, tenantFields) + shownOnce('SCIM bearer token', b.token.token),
  },
  {
    name: 'tenants list',
    summary: 'List tenants',
    options: {
      limit: { type: 'string', value: '<n>', description: 'at most this many (1-1000, default 100)' },
      after: { type: 'string', value: '<id>', description: 'start after this tenant id (the previous page’s next)' },
    },
    request: (i) => ({ method: 'GET', path: '/tenants', query: { limit: str(i, 'limit'), after: str(i, 'after') } }),
    show: (b) => table(b.tenants, tenantFields.slice(0, 3)) + (b.next ? `more: --after ${b.next}\n` : ''),
  },
  {
    name: 'tenants get',
    summary: 'Show a tenant',
    args: ['id'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.id!}` }),
    show: (b) => record(b, tenantFields),
  },
  {
    name: 'tenants set',
    summary: 'Rename a tenant or change its settings',
    args: ['id'],
    options: settingsOptions,
    request: (i) => ({ method: 'PATCH', path: path`/tenants/${i.args.id!}`, body: settingsBody(i) }),
    show: (b) => record(b, tenantFields),
  },
  {
    name: 'tenants delete',
    summary: 'Delete a tenant with all its users, groups, tokens and webhooks',
    args: ['id'],
    request: (i) => ({ method: 'DELETE', path: path`/tenants/${i.args.id!}` }),
    show: (_b, i) => `deleted tenant ${i.args.id}\n`,
  },
  {
    name: 'tokens issue',
    summary: 'Issue a SCIM bearer token for a tenant',
    args: ['tenant'],
    options: {
      name: { type: 'string', description: 'what it is for, e.g. the IdP connection' },
      'expires-at': { type: 'string', value: '<time>', description: 'ISO 8601 time after which it stops working' },
      scopes: { type: 'string', multiple: true, value: '<scope,…>', description: 'scim:read and/or scim:write (default both)' },
    },
    request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/tokens`, body: defined({ name: str(i, 'name'), expiresAt: str(i, 'expires-at'), scopes: list(i, 'scopes') }) }),
    show: (b) => record(b, tokenColumns.slice(0, 5)) + shownOnce('SCIM bearer token', b.token),
  },
  {
    name: 'tokens list',
    summary: "List a tenant's tokens (never their secrets)",
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/tokens` }),
    show: (b) => table(b.tokens, tokenColumns),
  },
  {
    name: 'tokens revoke',
    summary: 'Revoke a token',
    args: ['tenant', 'tokenId'],
    request: (i) => ({ method: 'DELETE', path: path`/tenants/${i.args.tenant!}/tokens/${i.args.tokenId!}` }),
    show: (_b, i) => `revoked token ${i.args.tokenId}\n`,
  },
  {
    name: 'webhooks list',
    summary: "List a tenant's webhook endpoints",
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/webhooks` }),
    show: (b) => table(b.webhooks, webhookFields),
  },
  {
    name: 'webhooks create',
    summary: 'Register a webhook endpoint (prints its signing secret once)',
    args: ['tenant', 'url'],
    options: {
      description: { type: 'string', description: 'what it is' },
      events: { type: 'string', multiple: true, value: '<type,…>', description: 'event types to deliver (default all)' },
      format: { type: 'string', value: 'standard-webhooks|set', description: 'payload format (default standard-webhooks)' },
      attributes: { type: 'string', multiple: true, value: '<attr,…>', description: 'attributes of the resource in each event' },
      ed25519: { type: 'boolean', description: 'also sign with ed25519 (v1a)' },
    },
    request: (i) => ({
      method: 'POST',
      path: path`/tenants/${i.args.tenant!}/webhooks`,
      body: defined({
        url: i.args.url,
        description: str(i, 'description'),
        events: list(i, 'events'),
        format: str(i, 'format'),
        attributes: list(i, 'attributes'),
        ed25519: i.opts.ed25519 || undefined,
      }),
    }),
    show: (b) => record(b, webhookFields) + shownOnce('Signing secret', b.secret),
  },
  {
    name: 'webhooks get',
    summary: 'Show a webhook endpoint',
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.id!}` }),
    show: (b) => record(b, [...webhookFields, ['public key', (w) => w.publicKey], ['created', (w) => w.createdAt], ['updated', (w) => w.updatedAt]]),
  },
  {
    name: 'webhooks delete',
    summary: 'Delete a webhook endpoint and its pending deliveries',
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'DELETE', path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.id!}` }),
    show: (_b, i) => `deleted webhook ${i.args.id}\n`,
  },
  {
    name: 'webhooks rotate-secret',
    summary: 'Issue a new signing secret; the old one keeps signing for the grace period',
    args: ['tenant', 'id'],
    options: { 'grace-seconds': { type: 'string', value: '<s>', description: 'how long the old secret keeps signing (default WEBHOOK_SECRET_GRACE_SECONDS)' } },
    request: (i) => {
      const grace = str(i, 'grace-seconds');
      return { method: 'POST', path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.id!}/rotate-secret`, body: grace === undefined ? {} : { graceSeconds: integer(grace, 'grace-seconds') } };
    },
    show: (b) => record(b, [['id', (w) => w.id], ['old secret signs until', (w) => w.previousSecretExpiresAt]]) + shownOnce('New signing secret', b.secret),
  },
  {
    name: 'webhooks replay',
    summary: 'Send again every subscribed event that occurred in [from, to)',
    args: ['tenant', 'id'],
    options: {
      from: { type: 'string', value: '<time>', required: true, description: 'ISO 8601 start (inclusive)' },
      to: { type: 'string', value: '<time>', description: 'ISO 8601 end (exclusive; default now)' },
    },
    request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.id!}/replay`, body: defined({ from: str(i, 'from'), to: str(i, 'to') }) }),
    show: (b) => `queued ${b.queued} deliveries\n`,
  },
  {
    name: 'webhooks health',
    summary: 'Success rate, last success and failure, backlog of an endpoint',
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/webhooks/${i.args.id!}/health` }),
    show: (b) =>
      record(b, [
        ['url', (h) => h.endpoint.url],
        ['enabled', (h) => (h.endpoint.enabled ? 'yes' : 'no')],
        [`attempts (${b.windowHours} h)`, (h) => h.attempts],
        ['success rate', (h) => (h.successRate === null ? null : `${(h.successRate * 100).toFixed(1)}%`)],
        ['last success', (h) => h.lastSuccessAt],
        ['last failure', (h) => h.lastFailureAt],
        ['last error', (h) => h.lastError],
        ['backlog', (h) => h.backlog],
        ['oldest pending (s)', (h) => h.oldestPendingAgeSeconds],
        ['dead-lettered', (h) => h.deadLettered],
      ]),
  },
  {
    name: 'events list',
    summary: "A tenant's events in commit order (the poll feed); --follow keeps polling",
    args: ['tenant'],
    options: {
      after: { type: 'string', value: '<cursor>', description: 'start after this cursor (default: the oldest event kept)' },
      limit: { type: 'string', value: '<n>', description: 'events per request (default 100)' },
      types: { type: 'string', multiple: true, value: '<type,…>', description: 'only these event types' },
      follow: { type: 'boolean', description: 'keep polling for new events until interrupted (JSON: one event per line)' },
      interval: { type: 'string', value: '<s>', description: 'seconds between polls with --follow (default 2)' },
    },
    run: followEvents,
  },
  {
    name: 'events tail',
    summary: 'The poll feed as it happens, until interrupted (events list --follow)',
    args: ['tenant'],
    options: {
      types: { type: 'string', multiple: true, value: '<type,…>', description: 'only these event types' },
      interval: { type: 'string', value: '<s>', description: 'seconds between polls (default 2)' },
    },
    run: (i, ctx) => followEvents({ ...i, opts: { ...i.opts, follow: true } }, ctx),
  },
  {
    name: 'events get',
    summary: 'One event with its deliveries and every attempt',
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/events/${i.args.id!}` }),
    show: (b) =>
      record(b.event, eventColumns) +
      '\ndeliveries:\n' +
      table<any>(b.deliveries, [
        ['id', (d) => d.id],
        ['endpoint', (d) => d.endpointId],
        ['reason', (d) => d.reason],
        ['status', (d) => d.status],
        ['attempts', (d) => d.attempts],
        ['last status', (d) => d.lastStatus],
        ['last error', (d) => d.lastError],
      ]),
  },
  {
    name: 'events redeliver',
    summary: 'Send one event again (to the given endpoints, or every subscribed one)',
    args: ['tenant', 'id'],
    options: { endpoint: { type: 'string', multiple: true, value: '<id>', description: 'only to this endpoint (repeatable)' } },
    request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/events/${i.args.id!}/redeliver`, body: defined({ endpointIds: list(i, 'endpoint') }) }),
    show: (b) => `queued ${b.queued} deliveries${b.endpointIds.length ? ` (${b.endpointIds.join(', ')})` : ''}\n`,
  },
  ...operationsCommands,
  ...credentialCommands,
];


/** Pages through the feed; with --follow, waits and polls again when it reaches the end. */
async function followEvents(i: Input, ctx: Context): Promise<void> {
  const follow = i.opts.follow === true;
  const intervalMs = integer(str(i, 'interval') ?? '2', 'interval') * 1000;
  let after = str(i, 'after');
  let first = true;
  while (!ctx.signal.aborted) {
    const req: ApiRequest = {
      method: 'GET',
      path: path`/tenants/${i.args.tenant!}/events`,
      query: { after, limit: str(i, 'limit'), types: list(i, 'types')?.join(',') },
    };
    const { body } = await ctx.client.send(req);
    if (!follow) {
      ctx.out(ctx.json ? json(body) : table(body.events, eventColumns) + (body.hasMore ? `more: --after ${body.cursor}\n` : ''));
      return;
    }
    if (ctx.json) for (const e of body.events) ctx.out(JSON.stringify(e) + '\n');
    else if (body.events.length) ctx.out(table(body.events, eventColumns, { header: first }));
    if (body.events.length) first = false;
    after = body.cursor ?? after;
    if (!body.hasMore) await sleep(intervalMs, undefined, { signal: ctx.signal }).catch(() => {});
  }
}

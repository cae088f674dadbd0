/**
 * Console pages for tenants: the list with status at a glance, creating
 * one, and a tenant's page (SCIM base URL, connection, tokens, setup links,
 * webhook health, and links to its log, users, holds, policy and dry run).
 * Secrets (a new token, a setup link) are shown once, in the POST's answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TENANT_ID, TENANT_ID_RULE } from '../../config.js';
import type { TenantRecord } from '../../services/tenants.js';
import type { ConsoleContext } from './index.js';
import { action, copyable, html, page, table, when, type Html } from './html.js';

type TP = { Params: { tenant: string } };

/** TENANT_ID as an HTML pattern (whole value, unicode-sets mode: a literal dash in a class is escaped). */
const ID_PATTERN = TENANT_ID.source.slice(1, -1).replaceAll('-]', '\\-]');

export async function tenantPages(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const send = (reply: FastifyReply, title: string, body: Html, crumbs: [string, string?][] = []) =>
    reply.type('text/html; charset=utf-8').send(page({ title, crumbs, csrf: ctx.csrfOf(reply), body }));

  app.get('/console', { schema: { hide: true } }, async (req: FastifyRequest<{ Querystring: { after?: string } }>, reply) => {
    const after = typeof req.query.after === 'string' ? req.query.after : undefined;
    const list = await ctx.tenants.list({ after, limit: 51 });
    const shown = list.slice(0, 50);
    const statuses = await Promise.all(shown.map((t) => ctx.status.status(t.id)));
    const csrf = ctx.csrfOf(reply);
    return send(
      reply,
      'Tenants',
      html`<h1>Tenants</h1>
<form method="get" action="/console/find" class="inline" role="search"><label for="find">Find a tenant by id</label><input id="find" name="id" required> <button type="submit">Open</button></form>
${table(statuses, [
  ['Tenant', (s) => html`<a href="/console/tenants/${s.tenant}">${s.tenant}</a>`],
  ['Directory', (s) => (s.connectedAt ? html`<span class="pill ok">connected</span>` : html`<span class="pill">not connected</span>`)],
  ['Last request', (s) => (s.lastRequest ? `${when(s.lastRequest.at)} · ${s.lastRequest.method} ${s.lastRequest.path} → ${s.lastRequest.status}` : '—')],
  ['Users', (s) => `${s.users.active} active / ${s.users.total}`],
  ['Groups', (s) => s.groups.total],
  ['Errors (24 h)', (s) => (s.last24h.errors ? html`<span class="pill bad">${s.last24h.errors}</span>` : '0')],
  ['Webhooks', (s) => (s.webhooks.length === 0 ? '—' : s.webhooks.map((w) => html`<span class="pill ${w.endpoint.enabled && w.health.deadLettered === 0 ? 'ok' : 'bad'}">${w.health.backlog} pending, ${w.health.deadLettered} dead</span> `))],
], 'No tenants yet: create the first below.')}
${list.length > 50 ? html`<p><a href="/console?after=${shown.at(-1)!.id}">Next page</a></p>` : ''}
<h2>Create a tenant</h2>
<form method="post" action="/console/tenants"><input type="hidden" name="_csrf" value="${csrf}">
<label for="id">Id (part of the SCIM base URL; it ${TENANT_ID_RULE})</label><input id="id" name="id" required pattern="${ID_PATTERN}">
<label for="name">Name</label><input id="name" name="name">
<label for="mode">Mode</label><select id="mode" name="mode"><option value="live">live</option><option value="dryRun">dry run (tell the host nothing until go-live)</option></select>
<p><button type="submit">Create tenant</button></p></form>`,
    );
  });

  app.get('/console/find', { schema: { hide: true } }, async (req: FastifyRequest<{ Querystring: { id?: string } }>, reply) =>
    reply.redirect(`/console/tenants/${encodeURIComponent(String(req.query.id ?? '').trim())}`, 303),
  );

  app.post('/console/tenants', { schema: { hide: true } }, async (req: FastifyRequest<{ Body: { id?: string; name?: string; mode?: string } }>, reply) => {
    const body = req.body ?? {};
    const tenant = await ctx.tenants.create({ id: String(body.id ?? '').trim(), name: body.name?.trim() || undefined, mode: body.mode === 'dryRun' ? 'dryRun' : 'live' });
    await ctx.audited(req, 'tenant.created', tenant.id, tenant.id, { body: { id: tenant.id, name: tenant.name, mode: tenant.mode } });
    const issued = await ctx.tenants.issueToken(tenant.id, { name: 'initial' });
    await ctx.audited(req, 'token.issued', tenant.id, issued.token.id, { body: { name: 'initial' } });
    return send(reply, `Tenant ${tenant.id}`, html`<h1>Tenant ${tenant.id} created</h1>${secretBox('SCIM bearer token', issued.secret, 'Give it to the customer’s IdP with the SCIM base URL, or send them a setup link instead.')}
<p><a href="/console/tenants/${tenant.id}">Go to the tenant</a></p>`, [[tenant.id, `/console/tenants/${tenant.id}`]]);
  });

  app.get('/console/tenants/:tenant', { schema: { hide: true } }, async (req: FastifyRequest<TP>, reply) => {
    const tenant = await ctx.tenants.get(req.params.tenant);
    const [status, tokens, links] = await Promise.all([ctx.status.status(tenant.id), ctx.tenants.listTokens(tenant.id), ctx.setupLinks.list(tenant.id)]);
    const csrf = ctx.csrfOf(reply);
    const base = `/console/tenants/${tenant.id}`;
    return send(
      reply,
      `Tenant ${tenant.id}`,
      html`<h1>${tenant.name} <span class="muted">(${tenant.id})</span> ${tenant.mode === 'dryRun' ? html`<span class="pill">dry run</span>` : ''}</h1>
${baseUrlBox(ctx.publicUrl, tenant)}
<div class="grid">
<div class="card">Directory<b>${status.connectedAt ? 'Connected' : 'Not connected'}</b>${status.connectedAt ? when(status.connectedAt) : 'no SCIM request yet'}</div>
<div class="card">Users<b>${status.users.active} active</b>${status.users.total} in all</div>
<div class="card">Groups<b>${status.groups.total}</b></div>
<div class="card">Last 24 h<b>${status.last24h.errors} errors</b>of ${status.last24h.requests} requests</div>
</div>
<p><a href="${base}/requests">Provisioning log</a> · <a href="${base}/users">Users</a> · <a href="${base}/groups">Groups</a> · <a href="${base}/holds">Held changes</a> · <a href="${base}/policy">Policy</a> · <a href="${base}/dry-run">Dry run and go-live</a></p>
<h2>SCIM tokens</h2>
${table(tokens, [
  ['Name', (t) => t.name],
  ['Prefix', (t) => html`<code>${t.prefix}</code>`],
  ['Created', (t) => when(t.createdAt)],
  ['Last used', (t) => when(t.lastUsedAt)],
  ['Expires', (t) => when(t.expiresAt)],
  ['', (t) => (t.revokedAt ? html`revoked ${when(t.revokedAt)}` : action(`${base}/tokens/${t.id}/revoke`, csrf, 'Revoke', { danger: true, confirm: `Revoke token ${t.name}? The IdP using it stops provisioning.` }))],
])}
<form method="post" action="${base}/tokens"><input type="hidden" name="_csrf" value="${csrf}"><label for="token-name">New token’s name</label><input id="token-name" name="name" placeholder="e.g. entra"> <button type="submit">Issue token</button></form>
<h2>Setup links for the customer’s IT admin</h2>
${table(links, [
  ['Created', (l) => when(l.createdAt)],
  ['Expires', (l) => when(l.expiresAt)],
  ['Opened', (l) => when(l.openedAt)],
  ['IdP', (l) => l.idp ?? '—'],
  ['Token', (l) => (l.tokenId ? 'generated' : '—')],
  ['', (l) => (l.revokedAt ? html`revoked ${when(l.revokedAt)}` : action(`${base}/setup-links/${l.id}/revoke`, csrf, 'Revoke', { danger: true }))],
])}
<form method="post" action="${base}/setup-links"><input type="hidden" name="_csrf" value="${csrf}"><label for="days">Valid for (days)</label><input id="days" name="expiresInDays" type="number" min="1" max="90" value="7"> <button type="submit">Create setup link</button></form>
<h2>Webhook endpoints</h2>
${table(status.webhooks, [
  ['URL', (w) => html`<a href="${base}/webhooks/${w.endpoint.id}">${w.endpoint.url}</a>`],
  ['Enabled', (w) => (w.endpoint.enabled ? 'yes' : html`<span class="pill bad">no${w.endpoint.disabledReason ? ` (${w.endpoint.disabledReason})` : ''}</span>`)],
  ['Backlog', (w) => w.health.backlog],
  ['Dead letters', (w) => w.health.deadLettered],
  ['Success (24 h)', (w) => (w.health.successRate === null ? '—' : `${(w.health.successRate * 100).toFixed(1)}%`)],
  ['Last error', (w) => w.health.lastError ?? '—'],
], 'No webhook endpoint: the host polls the feed, or register one through the admin API.')}`,
      [[tenant.id]],
    );
  });

  app.post('/console/tenants/:tenant/tokens', { schema: { hide: true } }, async (req: FastifyRequest<TP & { Body: { name?: string } }>, reply) => {
    const name = req.body?.name?.trim() || undefined;
    const issued = await ctx.tenants.issueToken(req.params.tenant, { name });
    await ctx.audited(req, 'token.issued', req.params.tenant, issued.token.id, { body: { name: issued.token.name } });
    return send(reply, 'Token issued', html`<h1>Token “${issued.token.name}” issued</h1>${secretBox('SCIM bearer token', issued.secret)}<p><a href="/console/tenants/${req.params.tenant}">Back to ${req.params.tenant}</a></p>`, [[req.params.tenant, `/console/tenants/${req.params.tenant}`], ['Token']]);
  });

  app.post('/console/tenants/:tenant/tokens/:id/revoke', { schema: { hide: true } }, async (req: FastifyRequest<{ Params: { tenant: string; id: string } }>, reply) => {
    await ctx.tenants.revokeToken(req.params.tenant, req.params.id);
    await ctx.audited(req, 'token.revoked', req.params.tenant, req.params.id);
    return reply.redirect(`/console/tenants/${req.params.tenant}`, 303);
  });

  app.post('/console/tenants/:tenant/setup-links', { schema: { hide: true } }, async (req: FastifyRequest<TP & { Body: { expiresInDays?: string } }>, reply) => {
    const days = req.body?.expiresInDays ? Number(req.body.expiresInDays) : undefined;
    const { link, url } = await ctx.setupLinks.create(req.params.tenant, { expiresInDays: days }, ctx.actorOf(req));
    await ctx.audited(req, 'setup_link.created', req.params.tenant, link.id, { body: { expiresInDays: days ?? null } });
    return send(
      reply,
      'Setup link',
      html`<h1>Setup link created</h1>${secretBox('Setup link', url, `Send it to the customer’s IT admin. It works once, until ${when(link.expiresAt)}; only its hash is kept.`)}<p><a href="/console/tenants/${req.params.tenant}">Back to ${req.params.tenant}</a></p>`,
      [[req.params.tenant, `/console/tenants/${req.params.tenant}`], ['Setup link']],
    );
  });

  app.post('/console/tenants/:tenant/setup-links/:id/revoke', { schema: { hide: true } }, async (req: FastifyRequest<{ Params: { tenant: string; id: string } }>, reply) => {
    await ctx.setupLinks.revoke(req.params.tenant, req.params.id);
    await ctx.audited(req, 'setup_link.revoked', req.params.tenant, req.params.id);
    return reply.redirect(`/console/tenants/${req.params.tenant}`, 303);
  });
}

/** A secret shown once, with a copy button. */
export function secretBox(label: string, value: string, note = 'Shown once: only its hash is stored. Copy it now.'): Html {
  return html`<div class="secret" role="status"><p><strong>${label}</strong> — ${note}</p>${copyable(value, label)}</div>`;
}

export const baseUrlBox = (publicUrl: string, tenant: TenantRecord) => html`<p>SCIM base URL</p>${copyable(`${publicUrl}/scim/v2/${tenant.id}`, 'SCIM base URL')}`;

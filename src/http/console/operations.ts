/**
 * Console pages for running a tenant: the provisioning log, users (search by
 * SCIM filter, one user's attributes), held changes (release, reject), the
 * policy (edit with the validation messages), the dry run with its CSV files,
 * and go-live with its progress.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { groupResourceType, userResourceType } from '../../scim/schema.js';
import { ScimError } from '../../scim/errors.js';
import { actingContext } from '../../services/context.js';
import { HOST_ONLY_COLUMNS, OUTCOMES, type Outcome } from '../../services/golive.js';
import { settingsOf } from '../../services/tenants.js';
import { parseListParams } from '../scim/list-params.js';
import type { ConsoleContext } from './index.js';
import { action, html, page, table, when, type Html } from './html.js';

type TP = { Params: { tenant: string } };

export async function operationPages(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const hide = { schema: { hide: true } };
  const send = (reply: FastifyReply, tenant: string, title: string, body: Html) =>
    reply.type('text/html; charset=utf-8').send(page({ title: `${title} · ${tenant}`, crumbs: [[tenant, `/console/tenants/${tenant}`], [title]], csrf: ctx.csrfOf(reply), body }));

  app.get('/console/tenants/:tenant/requests', hide, async (req: FastifyRequest<TP & { Querystring: Record<string, string> }>, reply) => {
    const t = await ctx.tenants.get(req.params.tenant);
    const q = req.query;
    const filters = { errors: q.errors === 'true' ? 'true' : undefined, status: q.status || undefined, resource: q.resource || undefined, cursor: q.cursor || undefined, limit: '50' };
    const { items, next } = ctx.requestLog ? await ctx.requestLog.search(t.id, filters) : { items: [], next: null };
    const keep = new URLSearchParams(Object.entries({ errors: filters.errors, status: filters.status, resource: filters.resource }).filter((e): e is [string, string] => e[1] !== undefined));
    return send(
      reply,
      t.id,
      'Provisioning log',
      html`<h1>Provisioning log</h1>
<form method="get" class="inline"><label for="status">Status (2xx, 4xx, 409…)</label><input id="status" name="status" value="${filters.status ?? ''}">
<label for="resource">Resource id</label><input id="resource" name="resource" value="${filters.resource ?? ''}">
<label><input type="checkbox" name="errors" value="true"${filters.errors ? html` checked` : ''}> Errors only</label> <button type="submit">Filter</button></form>
${ctx.requestLog ? '' : html`<p class="notice">The provisioning log is off (REQUEST_LOG_ENABLED=false).</p>`}
${table(items, [
  ['Time', (r) => when(r.at)],
  ['Request', (r) => `${r.method} ${r.path}${r.filter ? ` ?filter=${r.filter}` : ''}`],
  ['Status', (r) => (r.status >= 400 ? html`<span class="pill bad">${r.status}${r.scimType ? ` ${r.scimType}` : ''}</span>` : String(r.status))],
  ['Client', (r) => r.idp ?? r.userAgent ?? '—'],
  ['Who', (r) => r.actor?.name ?? r.tokenPrefix ?? '—'],
  ['What', (r) => [r.summary ?? '', r.detail ? html`<br>${r.detail}` : '', r.notes.length ? html`<br><span class="muted">${r.notes.join('; ')}</span>` : '']],
  ['ms', (r) => r.durationMs],
], 'No requests logged (with these filters).')}
${next ? html`<p><a href="?${keep.toString()}${keep.size ? '&' : ''}cursor=${next}">Older</a></p>` : ''}`,
    );
  });

  /** Users or groups of a tenant, searched by SCIM filter, 50 a page, through the same services as SCIM. */
  const directory = (kind: 'users' | 'groups') =>
    app.get(`/console/tenants/:tenant/${kind}`, hide, async (req: FastifyRequest<TP & { Querystring: Record<string, string> }>, reply) => {
      const t = await ctx.tenants.get(req.params.tenant);
      const filter = (req.query.filter ?? '').trim();
      const scim = actingContext(t, settingsOf(t), `${ctx.publicUrl}/scim/v2/${t.id}`, ctx.actorOf(req));
      const isUsers = kind === 'users';
      const nameAttr = isUsers ? 'userName' : 'displayName';
      let result: { total: number; rows: { id: string; name: string; active: boolean; externalId?: string }[] } = { total: 0, rows: [] };
      let problem: string | undefined;
      try {
        const params = parseListParams(isUsers ? userResourceType : groupResourceType, { ...(filter ? { filter } : {}), count: '50', startIndex: req.query.startIndex ?? '1', sortBy: nameAttr }, { defaultPageSize: 50, maxPageSize: 50 });
        const page = isUsers ? await ctx.users.search(scim, params, { withGroups: false }) : await ctx.groups.list(scim, params, { withMembers: false });
        const rows = page.items.map((r) => ({ id: r.stored.id, name: String(r.scim[nameAttr]), active: r.scim.active !== false, externalId: r.scim.externalId as string | undefined }));
        result = { total: page.totalResults ?? 0, rows }; // index pages always carry it
      } catch (err) {
        if (!(err instanceof ScimError) || err.status >= 500) throw err;
        problem = err.message;
      }
      const start = Number(req.query.startIndex ?? '1') || 1;
      const title = isUsers ? 'Users' : 'Groups';
      return send(
        reply,
        t.id,
        title,
        html`<h1>${title}</h1>
<form method="get"><label for="filter">SCIM filter</label><input id="filter" name="filter" value="${filter}" placeholder="${isUsers ? 'userName sw "a" and active eq true' : 'displayName sw "Eng"'}"> <button type="submit">Search</button></form>
${problem ? html`<p class="error" role="alert">${problem}</p>` : html`<p class="muted">${result.total} ${kind}${filter ? ' match' : ''}.</p>`}
${table(result.rows, [
  [nameAttr, (r) => (isUsers ? html`<a href="/console/tenants/${t.id}/users/${r.id}">${r.name}</a>` : r.name)],
  ['externalId', (r) => r.externalId ?? '—'],
  isUsers ? ['Active', (r) => (r.active ? 'yes' : 'no')] : ['Requests', (r) => html`<a href="/console/tenants/${t.id}/requests?resource=${r.id}">log</a>`],
])}
${start + 50 <= result.total ? html`<p><a href="?filter=${encodeURIComponent(filter)}&startIndex=${start + 50}">Next 50</a></p>` : ''}`,
      );
    });
  directory('users');
  directory('groups');

  app.get('/console/tenants/:tenant/users/:id', hide, async (req: FastifyRequest<{ Params: { tenant: string; id: string } }>, reply) => {
    const t = await ctx.tenants.get(req.params.tenant);
    const scim = actingContext(t, settingsOf(t), `${ctx.publicUrl}/scim/v2/${t.id}`, ctx.actorOf(req));
    const u = await ctx.users.get(scim, req.params.id);
    const history = await ctx.users.history(scim, u.stored.id, 100);
    return send(
      reply,
      t.id,
      String(u.scim.userName),
      html`<h1>${String(u.scim.userName)}</h1><p><a href="/console/tenants/${t.id}/requests?resource=${u.stored.id}">Requests about this user</a></p><pre>${JSON.stringify(u.scim, null, 2)}</pre>
<h2>What the host was told</h2>
${table(history, [
  ['#', (e) => e.sequence],
  ['Event', (e) => (e.held ? html`${e.type} <span class="pill bad">held</span>` : e.type)],
  ['When', (e) => when(e.occurredAt)],
  ['Why', (e) => String((e.data as { reason?: unknown }).reason ?? '—')],
  ['By', (e) => String((e.data as { actor?: { name?: unknown } }).actor?.name ?? '—')],
], 'No events: the host was told nothing about this user (outside the audience, or a dry run).')}`,
    );
  });

  app.get('/console/tenants/:tenant/holds', hide, async (req: FastifyRequest<TP>, reply) => {
    const t = await ctx.tenants.get(req.params.tenant);
    const holds = await ctx.safeguard.list(t.id, { limit: 50 });
    const open = holds.find((h) => h.state === 'open');
    const items = open ? (await ctx.safeguard.get(t.id, open.id, { limit: 200 })).items : [];
    const csrf = ctx.csrfOf(reply);
    const base = `/console/tenants/${t.id}/holds`;
    return send(
      reply,
      t.id,
      'Held changes',
      html`<h1>Held changes</h1>
${open
  ? html`<div class="panel" role="region" aria-label="Open hold"><p><strong>Hold ${open.id}</strong>: ${open.reason}. ${open.items} deactivations and deletions held, ${open.heldEvents} events waiting, since ${when(open.createdAt)}.</p>
${table(items, [
  ['User', (i) => i.userName],
  ['externalId', (i) => i.externalId ?? '—'],
  ['Change', (i) => i.event],
  ['Host had', (i) => i.from],
  ['Request', (i) => (i.requestId ? html`<code>${i.requestId}</code>` : 'policy')],
  ['When', (i) => when(i.at)],
])}
${action(`${base}/${open.id}/release`, csrf, 'Release: tell the host', { confirm: 'Deliver every held change to the host, in order?' })}
${action(`${base}/${open.id}/reject`, csrf, 'Reject: drop them', { danger: true, confirm: 'Drop the held changes? The host keeps its users as they were.' })}</div>`
  : html`<p class="notice">Nothing is held. The deletion safeguard holds deactivations and deletions beyond the policy’s threshold.</p>`}
<h2>All holds</h2>
${table(holds, [
  ['Id', (h) => h.id],
  ['State', (h) => h.state],
  ['Reason', (h) => h.reason],
  ['Items', (h) => h.items],
  ['Created', (h) => when(h.createdAt)],
  ['Decided', (h) => (h.decidedAt ? `${when(h.decidedAt)} by ${String(h.decidedBy?.name ?? '?')}` : '—')],
])}`,
    );
  });

  for (const verb of ['release', 'reject'] as const) {
    app.post(`/console/tenants/:tenant/holds/:id/${verb}`, hide, async (req: FastifyRequest<{ Params: { tenant: string; id: string } }>, reply) => {
      const { tenant, id } = req.params;
      await ctx.tenants.get(tenant);
      if (verb === 'release') await ctx.safeguard.release(tenant, id, ctx.actorOf(req));
      else await ctx.safeguard.reject(tenant, id, ctx.actorOf(req));
      await ctx.audited(req, verb === 'release' ? 'hold.released' : 'hold.rejected', tenant, id);
      return reply.redirect(`/console/tenants/${tenant}/holds`, 303);
    });
  }

  const policyPage = async (reply: FastifyReply, tenant: string, text?: string, problem?: string) => {
    const doc = await ctx.policies.get(tenant);
    const job = await ctx.policies.job(tenant);
    const csrf = ctx.csrfOf(reply);
    return send(
      reply,
      tenant,
      'Policy',
      html`<h1>Provisioning policy <span class="muted">version ${doc.version}</span></h1>
${job ? html`<p class="notice" role="status">Re-evaluation for version ${job.policyVersion}: ${job.state}, ${job.processed} of ${job.total} users looked at, ${job.changed} changed.</p>` : ''}
${problem ? html`<p class="error" role="alert">${problem}</p>` : ''}
<form method="post" action="/console/tenants/${tenant}/policy"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="version" value="${doc.version}">
<label for="policy">Lifecycle, audience, mapping, license cap and safeguard (JSON; keys left out take their defaults)</label>
<textarea id="policy" name="policy" spellcheck="false">${text ?? JSON.stringify(doc.policy, null, 2)}</textarea>
<p><button type="submit">Save policy</button></p></form>`,
    );
  };
  app.get('/console/tenants/:tenant/policy', hide, async (req: FastifyRequest<TP>, reply) => policyPage(reply, (await ctx.tenants.get(req.params.tenant)).id));
  app.post('/console/tenants/:tenant/policy', hide, async (req: FastifyRequest<TP & { Body: { policy?: string; version?: string } }>, reply) => {
    const tenant = (await ctx.tenants.get(req.params.tenant)).id;
    const text = req.body?.policy ?? '';
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return policyPage(reply.code(400), tenant, text, `The policy is not valid JSON: ${(err as Error).message}`);
    }
    try {
      const saved = await ctx.policies.put(tenant, doc, { actor: { ...ctx.actorOf(req) }, ifMatch: req.body?.version ? `W/"${req.body.version}"` : undefined });
      await ctx.audited(req, 'tenant.policy_updated', tenant, tenant, { body: doc as Record<string, unknown>, version: saved.version });
    } catch (err) {
      if (!(err instanceof ScimError) || err.status >= 500) throw err;
      return policyPage(reply.code(err.status), tenant, text, err.status === 412 ? 'Someone else changed the policy meanwhile: reload to see the current version.' : err.message);
    }
    return reply.redirect(`/console/tenants/${tenant}/policy`, 303);
  });

  app.get('/console/tenants/:tenant/dry-run', hide, async (req: FastifyRequest<TP>, reply) => {
    const t = await ctx.tenants.get(req.params.tenant);
    const r = await ctx.golive.report(t.id);
    const job = await ctx.policies.job(t.id);
    const csrf = ctx.csrfOf(reply);
    const files = [...OUTCOMES, 'host-only'];
    return send(
      reply,
      t.id,
      'Dry run',
      html`<h1>Dry run and go-live <span class="pill">${r.mode === 'dryRun' ? 'dry run' : 'live'}</span></h1>
<p>What going live would send with policy version ${r.policyVersion} applied:</p>
${table(Object.entries(r.users), [['Users', ([k]) => k], ['Count', ([, v]) => v]])}
<p>Groups synced: ${r.groups.synced}, skipped: ${r.groups.skipped}. Host users uploaded: ${r.reconciliation.hostUsers}; matched ${r.reconciliation.matched} (${r.reconciliation.matchedByExternalId} by externalId, ${r.reconciliation.matchedByEmail} by email); only in the host: ${r.reconciliation.hostOnly}; shared emails: ${r.reconciliation.sharedEmails}.</p>
${r.license.overBy > 0 ? html`<p class="error" role="alert">Going live would exceed the license cap of ${r.license.cap} by ${r.license.overBy}.</p>` : ''}
<h2>Files</h2><ul>${files.map((f) => html`<li><a href="/console/tenants/${t.id}/dry-run/${f}.csv" download>${f}.csv</a></li>`)}</ul>
${job ? html`<p class="notice" role="status">Latest job: ${job.state}, ${job.processed} of ${job.total} looked at.</p>` : ''}
${r.mode === 'dryRun' ? action(`/console/tenants/${t.id}/go-live`, csrf, 'Go live', { confirm: 'Switch to live and tell the host the resulting state?' }) : html`<p>The tenant is live.</p>`}`,
    );
  });

  app.get('/console/tenants/:tenant/dry-run/:file', hide, async (req: FastifyRequest<{ Params: { tenant: string; file: string } }>, reply) => {
    const t = await ctx.tenants.get(req.params.tenant);
    const name = req.params.file.replace(/\.csv$/i, '');
    let columns: string[];
    let rows: AsyncIterable<object>;
    if (name === 'host-only') {
      columns = [...HOST_ONLY_COLUMNS];
      rows = ctx.golive.hostOnly(t.id);
    } else if ((OUTCOMES as readonly string[]).includes(name)) {
      ({ columns, rows } = await ctx.golive.rows(t.id, name as Outcome));
    } else {
      throw new ScimError(404, `No dry-run file ${req.params.file}`);
    }
    const csv = stringify({ header: true, columns, cast: { boolean: (b) => String(b) } });
    void pipeline(Readable.from(rows), csv).catch((err: unknown) => req.log.error({ err }, 'dry-run file failed'));
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${t.id}-${name}.csv"`).send(csv);
  });

  app.post('/console/tenants/:tenant/go-live', hide, async (req: FastifyRequest<TP>, reply) => {
    const t = await ctx.tenants.get(req.params.tenant);
    await ctx.golive.goLive(t.id);
    await ctx.audited(req, 'tenant.went_live', t.id, t.id);
    return reply.redirect(`/console/tenants/${t.id}/dry-run`, 303);
  });
}

/**
 * Console page for one webhook endpoint: its deliveries by status (cursor
 * paging), redelivery of its dead letters, and the test ping with the
 * receiver's answer — the delivery browser of the admin API, on a page.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DELIVERY_FILTERS } from '../../events/deliveries.js';
import type { ConsoleContext } from './index.js';
import { action, html, page, table, when, type Html } from './html.js';

type WP = { Params: { tenant: string; id: string } };

export async function webhookPages(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const hide = { schema: { hide: true } };
  const render = async (req: FastifyRequest<WP & { Querystring: { status?: string; cursor?: string } }>, reply: import('fastify').FastifyReply, notice?: Html) => {
    const { tenant, id } = req.params;
    await ctx.tenants.get(tenant);
    const status = req.query?.status || undefined;
    const { items, next } = await ctx.deliveries.list(tenant, id, { status, cursor: req.query?.cursor || undefined, limit: '50' });
    const csrf = ctx.csrfOf(reply);
    const base = `/console/tenants/${tenant}/webhooks/${id}`;
    return reply.type('text/html; charset=utf-8').send(
      page({
        title: `Webhook deliveries · ${tenant}`,
        crumbs: [[tenant, `/console/tenants/${tenant}`], ['Webhook deliveries']],
        csrf,
        body: html`<h1>Webhook deliveries</h1>
${notice ?? ''}
<p>${action(`${base}/test`, csrf, 'Send a test ping')} ${action(`${base}/redeliver`, csrf, 'Redeliver the dead letters', { confirm: 'Send every dead letter of this endpoint again, in order?' })}</p>
<form method="get"><label for="status">Status</label><select id="status" name="status"><option value="">all</option>${DELIVERY_FILTERS.map((f) => html`<option${f === status ? html` selected` : ''}>${f}</option>`)}</select> <button type="submit">Show</button></form>
${table(items, [
  ['Event', (d) => `${d.event.type} #${d.event.sequence}`],
  ['Resource', (d) => d.event.resourceId],
  ['Status', (d) => (d.status === 'dead' ? html`<span class="pill bad">dead</span>` : d.status)],
  ['Attempts', (d) => d.attempts],
  ['Last answer', (d) => (d.lastStatus === null ? d.lastError ?? '—' : `${d.lastStatus}${d.lastError ? ` ${d.lastError}` : ''}`)],
  ['Created', (d) => when(d.createdAt)],
], 'No deliveries with this status.')}
${next ? html`<p><a href="?${status ? `status=${status}&` : ''}cursor=${next}">Older</a></p>` : ''}`,
      }),
    );
  };

  app.get('/console/tenants/:tenant/webhooks/:id', hide, async (req: FastifyRequest<WP & { Querystring: { status?: string; cursor?: string } }>, reply) => render(req, reply));

  app.post('/console/tenants/:tenant/webhooks/:id/test', hide, async (req: FastifyRequest<WP>, reply) => {
    const r = await ctx.deliveries.test(req.params.tenant, req.params.id, ctx.actorOf(req));
    await ctx.audited(req, 'webhook.tested', req.params.tenant, req.params.id, { delivered: r.delivered });
    const notice = r.delivered
      ? html`<p class="notice" role="status">Test ping delivered: ${r.statusCode} in ${r.latencyMs} ms.</p>`
      : html`<p class="error" role="alert">Test ping failed: ${r.statusCode ?? r.error ?? 'no answer'} after ${r.latencyMs} ms${r.response ? html` — <code>${r.response}</code>` : ''}.</p>`;
    return render(req as FastifyRequest<WP & { Querystring: Record<string, string> }>, reply, notice);
  });

  app.post('/console/tenants/:tenant/webhooks/:id/redeliver', hide, async (req: FastifyRequest<WP>, reply) => {
    const { queued } = await ctx.deliveries.redeliver(req.params.tenant, req.params.id, { status: 'dead' });
    await ctx.audited(req, 'webhook.redelivered', req.params.tenant, req.params.id, { body: { status: 'dead' }, queued });
    return render(req as FastifyRequest<WP & { Querystring: Record<string, string> }>, reply, html`<p class="notice" role="status">${queued} dead letters queued again.</p>`);
  });
}

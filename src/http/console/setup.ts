/**
 * The setup page a customer's IT admin opens from a setup link (README.md
 * "Setup links for the customer's IT admin"): pick the IdP, follow its steps
 * with the values to paste, generate the tenant's token (once), and watch the
 * connection panel turn green when the first SCIM request arrives. The link
 * opens once; that browser keeps a signed cookie naming the link, scoped to
 * /setup, and nothing here reaches beyond the link's tenant.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SetupLinkRecord } from '../../services/setup-links.js';
import { SetupLinkRefused } from '../../services/setup-links.js';
import type { ConsoleContext } from './index.js';
import { copyable, html, page, table, type Html } from './html.js';
import { EXPECTED_ATTRIBUTES, IDP_GUIDES } from './idps.js';
import { secretBox } from './tenants.js';

const SETUP_COOKIE = 'roster_setup';

export async function setupPages(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const hide = { schema: { hide: true } };
  // Lax, not Strict: the link arrives by email, and the redirect after opening it must carry the cookie.
  const cookieOpts = (req: FastifyRequest) => ({ path: '/setup', httpOnly: true, sameSite: 'lax' as const, secure: req.protocol === 'https', signed: true });
  const linkIdOf = (req: FastifyRequest): string | undefined => {
    const raw = req.cookies[SETUP_COOKIE];
    const v = raw ? req.unsignCookie(raw) : undefined;
    return v?.valid && v.value ? v.value : undefined;
  };
  const current = async (req: FastifyRequest): Promise<SetupLinkRecord> => {
    const id = linkIdOf(req);
    if (!id) throw new SetupLinkRefused(401, 'Open the setup link you were sent to continue.');
    return ctx.setupLinks.current(id);
  };

  // Opening takes a click (a POST): mail scanners (Safe Links and the like) fetch links before people do, and a
  // GET that used the link up would leave the IT admin with "already opened".
  app.get('/setup/:token', hide, async (req: FastifyRequest<{ Params: { token: string } }>, reply) => {
    const known = await ctx.setupLinks.peek(req.params.token);
    if (known && known.id === linkIdOf(req)) return reply.redirect('/setup', 303);
    if (!known) throw new SetupLinkRefused(404, 'This setup link is not valid. Ask the application’s support team for a new one.');
    // Used, expired or revoked: open() throws the precise refusal.
    if (known.openedAt || known.revokedAt || known.expiresAt.getTime() <= Date.now()) await ctx.setupLinks.open(req.params.token);
    const tenant = await ctx.tenants.get(known.tenantId);
    return reply.type('text/html; charset=utf-8').send(
      page({
        title: `Connect ${tenant.name}`,
        bare: true,
        body: html`<h1>Connect your identity provider to ${tenant.name}</h1>
<p>This link works once, in one browser. Continue in the browser you will use to set up provisioning.</p>
<form method="post" action="/setup/${req.params.token}"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}"><button type="submit">Continue</button></form>`,
      }),
    );
  });

  app.post('/setup/:token', { ...hide, preHandler: app.csrfProtection }, async (req: FastifyRequest<{ Params: { token: string } }>, reply) => {
    const link = await ctx.setupLinks.open(req.params.token);
    reply.setCookie(SETUP_COOKIE, link.id, { ...cookieOpts(req), maxAge: Math.max(60, Math.floor((link.expiresAt.getTime() - Date.now()) / 1000)) });
    // The link leaves the address bar and the history.
    return reply.redirect('/setup', 303);
  });

  const render = async (req: FastifyRequest<{ Querystring: { idp?: string } }>, reply: FastifyReply, issued?: string) => {
    const link = await current(req);
    const tenant = await ctx.tenants.get(link.tenantId);
    const chosen = IDP_GUIDES.find((g) => g.id === (req.query?.idp ?? link.idp));
    if (chosen && chosen.id !== link.idp) await ctx.setupLinks.chooseIdp(link.id, chosen.id);
    const baseUrl = `${ctx.publicUrl}/scim/v2/${tenant.id}`;
    const tokenPart: Html = issued
      ? secretBox(chosen?.fields.token ?? 'Bearer token', issued, 'Shown once: paste it into your identity provider now. Roster keeps only its hash.')
      : link.tokenId
        ? html`<p class="notice">The token for this link was generated and shown once. If it was lost, ask the application’s support team for a new setup link.</p>`
        : html`<form method="post" action="/setup/token"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}"><button type="submit">Generate the token</button></form>`;
    return reply.type('text/html; charset=utf-8').send(
      page({
        title: `Connect ${tenant.name}`,
        bare: true,
        body: html`<h1>Connect your identity provider to ${tenant.name}</h1>
<p>Your identity provider will create, update and deactivate ${tenant.name}’s users in this application automatically (SCIM 2.0). Choose it:</p>
<ul class="idps">${IDP_GUIDES.map((g) => html`<li><a href="/setup?idp=${g.id}"${g.id === chosen?.id ? html` aria-current="true"` : ''}>${g.name}</a></li>`)}</ul>
${chosen
  ? html`<h2>${chosen.name}</h2>
<ol class="steps">${chosen.steps.map((s) => html`<li>${s.replaceAll('{baseUrl}', baseUrl)}</li>`)}</ol>
<h3>${chosen.fields.baseUrl}</h3>${copyable(baseUrl, chosen.fields.baseUrl)}
<h3>${chosen.fields.token}</h3>${tokenPart}`
  : html`<p class="muted">The steps and the values to paste appear once you choose.</p>`}
<div id="connection" class="panel${tenant.connectedAt ? ' connected' : ''}" data-poll="/setup/status" role="status" aria-live="polite">
<p data-state>${tenant.connectedAt ? 'Connected: Roster has received requests from your identity provider.' : 'Waiting for the first request from your identity provider…'}</p>
<ul data-errors hidden></ul>
<noscript><p><a href="/setup${chosen ? `?idp=${chosen.id}` : ''}">Refresh</a> to check again.</p></noscript>
</div>
<h2>Attributes to send</h2>
${table(EXPECTED_ATTRIBUTES, [['SCIM attribute', ([a]) => html`<code>${a}</code>`], ['Meaning', ([, m]) => m]])}`,
      }),
    );
  };

  app.get('/setup', hide, async (req: FastifyRequest<{ Querystring: { idp?: string } }>, reply) => render(req, reply));

  app.post('/setup/token', { ...hide, preHandler: app.csrfProtection }, async (req: FastifyRequest<{ Querystring: { idp?: string } }>, reply) => {
    const link = await current(req);
    const issued = await ctx.setupLinks.issueToken(link.id);
    await ctx.audit.record({
      at: new Date(),
      tenantId: link.tenantId,
      actor: { type: 'system', name: 'setup link', id: link.id },
      action: 'token.issued',
      targetType: 'token',
      targetId: issued.token.id,
      requestId: String(req.id),
      details: { via: 'setup link', name: issued.token.name },
    });
    return render(req, reply, issued.secret);
  });

  app.get('/setup/status', hide, async (req, reply) => {
    const link = await current(req);
    const status = await ctx.status.status(link.tenantId);
    const errors = ctx.requestLog ? (await ctx.requestLog.search(link.tenantId, { errors: 'true', limit: '5' })).items : [];
    return reply.send({
      connected: status.connectedAt !== null,
      connectedAt: status.connectedAt?.toISOString() ?? null,
      errors: errors.map((e) => `${e.at.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${e.method} ${e.path} was refused (${e.status}): ${e.detail ?? e.scimType ?? 'no detail'}`),
    });
  });
}

/**
 * The operator console (/console) and the customer's setup page (/setup):
 * server-rendered pages over the same services as the admin API (README.md
 * "Console"). Sign-in with an admin credential gives a signed session cookie
 * (src/http/console/session.ts); every change is a POST with a CSRF token
 * (@fastify/csrf-protection); the Content-Security-Policy allows nothing
 * inline and nothing from another origin, so it works without internet.
 */
import { randomBytes } from 'node:crypto';
import cookie, { Signer } from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../db/index.js';
import { ensureSecret } from '../../db/secrets.js';
import type { Actor } from '../../services/actor.js';
import type { AdminKeyService, AdminKeys } from '../../services/admin-keys.js';
import type { AuditService } from '../../services/audit.js';
import type { DeliveryService } from '../../events/deliveries.js';
import type { GoLiveService } from '../../services/golive.js';
import type { PolicyService } from '../../services/policies.js';
import type { RequestLog } from '../../services/request-log.js';
import type { SafeguardService } from '../../services/safeguard.js';
import type { SetupLinkService } from '../../services/setup-links.js';
import type { TenantStatusService } from '../../services/status.js';
import type { TenantService } from '../../services/tenants.js';
import type { UserService } from '../../services/users.js';
import type { GroupService } from '../../services/groups.js';
import { adminPrincipalFor } from '../auth.js';
import { scimErrorOf } from '../errors.js';
import type { AuthFailures } from '../rate-limit.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { html, page } from './html.js';
import { operationPages } from './operations.js';
import { Sessions, type ConsoleSession } from './session.js';
import { setupPages } from './setup.js';
import { tenantPages } from './tenants.js';
import { webhookPages } from './webhooks.js';

export interface ConsoleDeps {
  db: Db;
  publicUrl: string;
  adminKeys: AdminKeys;
  /** Named admin keys (with scope `all` and no tenant) sign in too. */
  namedKeys?: AdminKeyService;
  authFailures?: AuthFailures | undefined;
  tenants: TenantService;
  status: TenantStatusService;
  requestLog: RequestLog | undefined;
  policies: PolicyService;
  golive: GoLiveService;
  safeguard: SafeguardService;
  setupLinks: SetupLinkService;
  users: UserService;
  groups: GroupService;
  deliveries: DeliveryService;
  audit: AuditService;
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
}

/** The console's pages see the deps and the signed-in operator. */
export interface ConsoleContext extends ConsoleDeps {
  /** Record an operator's change in the audit trail, as the admin API does for the same action. */
  audited(req: FastifyRequest, action: string, tenantId: string | null, targetId: string | null, details?: Record<string, unknown>): Promise<void>;
  csrfOf(reply: FastifyReply): string;
  actorOf(req: FastifyRequest): Actor;
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function consoleApi(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  // The cookie secret is shared by every replica (server_secrets), read at the first console request: building
  // the app touches no database (scripts/openapi.ts builds it without one).
  let signer: Signer | undefined;
  let secret = '';
  const lazy = { sign: (v: string) => signer!.sign(v), unsign: (v: string) => signer!.unsign(v) };
  app.addHook('onRequest', async () => {
    if (signer) return;
    secret = await ensureSecret(deps.db, 'console_cookie_secret', () => randomBytes(32).toString('base64url'));
    signer = new Signer(secret);
  });
  // The SCIM body parsers (src/http/input.ts) read JSON only; pages post forms.
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: 1024 * 1024 });
  await app.register(cookie, { secret: lazy });
  await app.register(csrf, { cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict', signed: true }, getToken: (req) => (req.body as Record<string, string> | undefined)?._csrf });
  const sessions = new Sessions(() => secret, () => deps.adminKeys, deps.namedKeys);

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
    return payload;
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET' ? { status: 403, message: 'The form expired or did not come from this console (CSRF check failed). Go back, reload the page and try again.' } : scimErrorOf(err, req);
    return reply
      .code(e.status)
      .type('text/html; charset=utf-8')
      .send(page({ title: `Error ${e.status}`, bare: !req.consoleSession, body: html`<h1>${e.status === 404 ? 'Not found' : 'That did not work'}</h1><p class="error" role="alert">${e.message}</p><p><a href="/console">Back to the console</a></p>` }));
  });

  const hide = { schema: { hide: true } };
  app.get('/console/assets/console.css', hide, async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS));
  app.get('/console/assets/console.js', hide, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(CONSOLE_JS));

  app.get('/console/login', hide, async (req, reply) => {
    if (await sessions.read(req)) return reply.redirect('/console');
    return reply.type('text/html; charset=utf-8').send(loginPage(await reply.generateCsrf()));
  });
  app.post('/console/login', { ...hide, preHandler: app.csrfProtection }, async (req: FastifyRequest<{ Body: { token?: string } }>, reply) => {
    const limited = deps.authFailures?.check(req.ip);
    if (limited) throw limited;
    const token = (req.body?.token ?? '').trim();
    const principal = token ? await adminPrincipalFor(token, deps.adminKeys, deps.namedKeys) : undefined;
    if (!principal) {
      deps.authFailures?.record(req.ip);
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage(await reply.generateCsrf(), 'That admin credential is not accepted.'));
    }
    // The console shows and changes every tenant: it takes a credential that may.
    if (principal.tenant !== null || !principal.scopes.includes('all')) {
      return reply.code(403).type('text/html; charset=utf-8').send(loginPage(await reply.generateCsrf(), 'That admin key is limited (a tenant or scopes other than "all"); the console needs the admin token or a key with scope "all".'));
    }
    sessions.start(reply, req, token, principal.actor);
    return reply.redirect('/console', 303);
  });
  app.post('/console/logout', { ...hide, preHandler: app.csrfProtection }, async (req, reply) => {
    sessions.end(reply, req);
    return reply.redirect('/console/login', 303);
  });

  const ctx: ConsoleContext = {
    ...deps,
    csrfOf: (reply) => reply.generateCsrf(),
    actorOf: (req) => req.consoleSession!.actor,
    audited: async (req, action, tenantId, targetId, details = {}) => {
      await deps.audit.record({ at: new Date(), tenantId, actor: req.consoleSession!.actor, action, targetType: action.slice(0, action.indexOf('.')), targetId, requestId: String(req.id), details: { via: 'console', ...details } });
    },
  };

  // Every other /console page needs a session; every POST a CSRF token.
  await app.register(async (signedIn) => {
    signedIn.addHook('onRequest', async (req, reply) => {
      const session = await sessions.read(req);
      if (!session) return reply.redirect('/console/login', 303);
      req.consoleSession = session;
    });
    signedIn.addHook('preHandler', (req, reply, done) => (req.method === 'POST' ? app.csrfProtection.call(signedIn, req, reply, done) : done()));
    await tenantPages(signedIn, ctx);
    await operationPages(signedIn, ctx);
    await webhookPages(signedIn, ctx);
  });

  await setupPages(app, ctx);
}

function loginPage(csrfToken: string, error?: string): string {
  return page({
    title: 'Sign in',
    bare: true,
    body: html`<h1>Roster console</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/console/login">
<input type="hidden" name="_csrf" value="${csrfToken}">
<label for="token">Admin credential</label>
<input type="password" id="token" name="token" autocomplete="off" required autofocus>
<p class="muted">The ADMIN_TOKEN, the admin token Roster printed at its first start, or an admin key with scope “all”.</p>
<button type="submit">Sign in</button>
</form>`,
  });
}

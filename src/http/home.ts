/**
 * GET /: where to go from here, for a person who opens the server's address
 * in a browser (a small page) and for a program (JSON): the API docs, the
 * SCIM base URL pattern, the admin API. A new top-level page (a console)
 * adds itself to `links`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { packageVersion } from './openapi.js';

export interface HomeLink {
  rel: string;
  href: string;
  title: string;
}

const Home = Type.Object({
  name: Type.Literal('Roster'),
  version: Type.String(),
  scimBaseUrl: Type.String({ description: 'Each tenant’s SCIM base URL: replace {tenant} with its id' }),
  links: Type.Array(Type.Object({ rel: Type.String(), href: Type.String(), title: Type.String() })),
});

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function homeRoutes(app: FastifyInstance, opts: { publicUrl: string }): Promise<void> {
  const base = opts.publicUrl;
  const links: HomeLink[] = [
    { rel: 'docs', href: `${base}/docs`, title: 'API documentation (OpenAPI, browsable)' },
    { rel: 'openapi', href: `${base}/openapi.json`, title: 'OpenAPI 3.1 document' },
    { rel: 'console', href: `${base}/console`, title: 'Console: tenants, tokens, setup links, logs, policies (sign in with the admin token)' },
    { rel: 'admin', href: `${base}/admin/v1`, title: 'Admin API (bearer ADMIN_TOKEN): tenants, tokens, webhooks, events' },
    { rel: 'jwks', href: `${base}/.well-known/jwks.json`, title: 'Keys that verify the Security Event Tokens Roster signs' },
  ];
  const home = { name: 'Roster' as const, version: packageVersion(), scimBaseUrl: `${base}/scim/v2/{tenant}`, links };
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Roster</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style></head>
<body><h1>Roster ${escape(home.version)}</h1>
<p>A SCIM 2.0 service. Give your identity provider a tenant’s SCIM base URL: <code>${escape(home.scimBaseUrl)}</code></p>
<ul>${links.map((l) => `<li><a href="${escape(l.href)}">${escape(l.title)}</a></li>`).join('')}</ul>
</body></html>
`;

  app.get(
    '/',
    { schema: { tags: ['Operations'], summary: 'Where to go from here: docs, SCIM base URL pattern, admin API (an HTML page for browsers)', response: { 200: Home } } },
    async (req: FastifyRequest, reply) => {
      // Browsers ask for text/html; curl (*/*) and API clients get JSON.
      const accept = req.headers.accept ?? '';
      if (accept.includes('text/html') && !accept.includes('application/json')) return reply.type('text/html; charset=utf-8').send(page);
      return home;
    },
  );
}

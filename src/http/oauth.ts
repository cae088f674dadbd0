/**
 * The OAuth 2.0 token endpoint (RFC 6749 §4.4, client credentials) and its
 * metadata (RFC 8414). Registered at the root, outside the SCIM and admin
 * scopes; answers in OAuth's own format (RFC 6749 §5.1, §5.2), never a SCIM
 * error body. Failed client authentication counts against the client
 * address like every other credential (src/http/rate-limit.ts).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ScimError } from '../scim/errors.js';
import { OAuthError, type OAuthService } from '../services/oauth.js';
import { SCIM_SCOPES } from '../services/scopes.js';
import type { AuthFailures } from './rate-limit.js';

export const TOKEN_PATH = '/oauth/token';
export const METADATA_PATH = '/.well-known/oauth-authorization-server';

const FORM = 'application/x-www-form-urlencoded';

function send(reply: FastifyReply, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  // §5.1: token responses are never cached.
  return reply.code(status).headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...headers }).type('application/json').send(JSON.stringify(body));
}

function sendError(reply: FastifyReply, err: OAuthError) {
  // §5.2: invalid_client is 401, with a challenge for the scheme the client tried.
  const status = err.error === 'invalid_client' ? 401 : 400;
  const headers: Record<string, string> = err.error === 'invalid_client' ? { 'www-authenticate': 'Basic realm="roster-oauth"' } : {};
  return send(reply, status, { error: err.error, error_description: err.description }, headers);
}

/** §2.3.1: client_id and secret in Basic are form-urlencoded before base64. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined | 'malformed' {
  if (!header || !/^Basic\s/i.test(header)) return undefined;
  const decoded = Buffer.from(header.replace(/^Basic\s+/i, '').trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return 'malformed';
  try {
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
  } catch {
    return 'malformed';
  }
}

export async function oauthRoutes(app: FastifyInstance, opts: { oauth: OAuthService; authFailures?: AuthFailures | undefined }): Promise<void> {
  const { oauth, authFailures } = opts;

  // §3.2: one value per parameter; a repeated one is kept as an array and refused below.
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_req, body, done) => {
    const params = new URLSearchParams(body as string);
    const out: Record<string, string | string[]> = {};
    for (const k of new Set(params.keys())) {
      const all = params.getAll(k);
      out[k] = all.length === 1 ? all[0]! : all;
    }
    done(null, out);
  });

  app.post(
    TOKEN_PATH,
    {
      schema: {
        tags: ['OAuth'],
        summary: 'Token endpoint: the client credentials grant (RFC 6749 §4.4), client_secret_basic or client_secret_post',
        consumes: [FORM],
        response: {
          200: Type.Object({ access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer(), scope: Type.String() }),
          400: Type.Object({ error: Type.String(), error_description: Type.String() }),
          401: Type.Object({ error: Type.String(), error_description: Type.String() }),
        },
      },
      // Anything Fastify refuses before the handler (content type, body size) still gets an OAuth error body.
      errorHandler: (err: FastifyError | ScimError, _req, reply) => {
        if (err instanceof ScimError && err.status === 429) return send(reply, 429, { error: 'invalid_request', error_description: err.message }, err.headers);
        const status = err instanceof ScimError ? err.status : (err.statusCode ?? 500);
        if (status >= 500) throw err;
        return sendError(reply, new OAuthError('invalid_request', `The request must be a POST with a ${FORM} body`));
      },
    },
    async (req: FastifyRequest, reply) => {
      const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string | string[] | undefined>;
      const basic = basicCredentials(req.headers.authorization);
      try {
        const repeated = Object.keys(body).find((k) => Array.isArray(body[k]));
        if (repeated) throw new OAuthError('invalid_request', `Parameter "${repeated}" given more than once (RFC 6749 §3.2)`);
        const p = body as Record<string, string | undefined>;
        if (!p.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
        if (p.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only the client_credentials grant is supported');
        if (basic === 'malformed') throw new OAuthError('invalid_client', 'Client authentication failed');
        if (basic && (p.client_secret !== undefined || (p.client_id !== undefined && p.client_id !== basic.id))) {
          throw new OAuthError('invalid_request', 'Use one client authentication method (RFC 6749 §2.3)');
        }
        const id = basic ? basic.id : p.client_id;
        const secret = basic ? basic.secret : p.client_secret;
        const limited = authFailures?.check(req.ip);
        if (limited) return send(reply, 429, { error: 'invalid_request', error_description: limited.message }, limited.headers);
        if (!id || !secret) {
          authFailures?.record(req.ip);
          throw new OAuthError('invalid_client', 'Client authentication failed');
        }
        let issued;
        try {
          issued = await oauth.token(id, secret, p.scope);
        } catch (err) {
          if (err instanceof OAuthError && err.error === 'invalid_client') authFailures?.record(req.ip);
          throw err;
        }
        return send(reply, 200, { access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope.join(' ') });
      } catch (err) {
        if (err instanceof OAuthError) return sendError(reply, err);
        throw err;
      }
    },
  );

  app.get(
    METADATA_PATH,
    {
      schema: {
        tags: ['OAuth'],
        summary: 'Authorization server metadata (RFC 8414)',
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return {
        issuer: oauth.issuer,
        token_endpoint: `${oauth.issuer}${TOKEN_PATH}`,
        jwks_uri: `${oauth.issuer}/.well-known/jwks.json`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        response_types_supported: ['token'],
        scopes_supported: [...SCIM_SCOPES],
      };
    },
  );
}

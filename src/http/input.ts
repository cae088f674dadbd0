/**
 * Request input checked before any route sees it: the URL, and the body.
 *
 * URLs: a percent-encoded NUL (`%00`) anywhere is 400; Postgres cannot store
 * or compare it (it used to reach the database as a tenant id and fail there).
 *
 * Bodies: nesting deeper than MAX_JSON_DEPTH, and strings or keys Postgres
 * cannot store (U+0000, unpaired surrogates), are 400 naming where
 * (checkJsonBody in src/scim/json.ts). Media types: RFC 7644 §3.1: SCIM bodies are `application/scim+json`
 * (`application/json` is accepted too). What real clients send besides:
 *
 * - No content at all with a JSON Content-Type, on DELETE and GET: many HTTP
 *   client libraries set the header on every request. No content is no body,
 *   for every method and type; the route decides whether it needed one.
 * - JSON without a Content-Type: Okta's published SCIM 2.0 spec test creates
 *   users that way (test/fixtures/okta/spec-test-create-user-no-content-type.json).
 *   Read as JSON in every mode, as before.
 * - JSON as `text/plain` (what Node's fetch sends for a string body when no
 *   type is set, test/fixtures/clients/fetch-create-user-text-plain.json),
 *   `application/octet-stream`, or `application/x-www-form-urlencoded` (what
 *   `curl -d '{…}'` sends without `-H`, test/fixtures/clients/curl-create-user-form.json):
 *   read as JSON for lenient tenants and the admin API; strict tenants get 415.
 * - Anything else (XML, multipart, form data that is not JSON): 415.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, ScimError } from '../scim/errors.js';
import { checkJsonBody } from '../scim/json.js';
import { MAX_JSON_DEPTH } from '../scim/limits.js';

type Kind = 'json' | 'untyped' | 'form' | 'other';

/** The media type's kind; parameters (charset) do not matter. */
function kindOf(contentType: string | undefined): Kind {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '') return 'untyped';
  if (type === 'application/json' || type === 'application/scim+json' || type.endsWith('+json')) return 'json';
  if (type === 'text/plain' || type === 'application/octet-stream') return 'untyped';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  return 'other';
}

/** Lenient unless a strict tenant's SCIM request (the SCIM auth hook has run before any body is read). */
const lenient = (req: FastifyRequest) => (req as Partial<Pick<FastifyRequest, 'scim'>>).scim?.lenient ?? true;

const unsupported = (type: string, why: string) =>
  new ScimError(415, `Content-Type ${type} is not supported: ${why}; send the body as application/scim+json (RFC 7644 §3.1)`);

export function installInputChecks(app: FastifyInstance): void {
  // Callback style: runs for every request.
  app.addHook('onRequest', (req, _reply, done) => {
    done(/%00/.test(req.url) ? badRequest('invalidValue', 'The URL contains a NUL character (%00)') : undefined);
  });
  const parse = app.getDefaultJsonParser('error', 'error');
  const json = (req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) =>
    parse(req, body, (err, value) => {
      if (err) return done(err, undefined);
      try {
        checkJsonBody(value, MAX_JSON_DEPTH);
      } catch (e) {
        return done(e as Error, undefined);
      }
      done(null, value);
    });
  // Fastify's own text/plain and JSON parsers would answer first for their types.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, raw, done) => {
    const body = raw as string;
    if (body === '' || body === undefined) return done(null, undefined);
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    switch (kindOf(type)) {
      case 'json':
        return json(req, body, done);
      case 'untyped':
        if (type !== '' && !lenient(req)) return done(unsupported(type, 'the body is not declared as JSON'), undefined);
        return json(req, body, done);
      case 'form':
        if (!lenient(req)) return done(unsupported(type, 'the body is not declared as JSON'), undefined);
        return json(req, body, (err, value) => done(err ? unsupported(type, 'form data that is not JSON') : null, value));
      case 'other':
        return done(unsupported(type, 'Roster reads JSON bodies only'), undefined);
    }
  });
}

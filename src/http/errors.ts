/**
 * The one place errors become responses. Every failure, SCIM or admin API,
 * is answered with an RFC 7644 §3.12 error body; client mistakes map to 4xx
 * with a scimType and a precise detail, an unavailable database (restart,
 * failover, statement or pool timeout) to 503 with Retry-After, anything
 * unexpected to a logged 500 that reveals nothing.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/errors.js';
import { errorBody, ScimError } from '../scim/errors.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

function fromFastifyError(err: FastifyError): ScimError | undefined {
  if (err instanceof ScimError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ScimError(413, `Request body is larger than the ${err.message.match(/\d+/)?.[0] ?? 'configured'} byte limit`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ScimError(400, `Request body is not valid JSON: ${err.message}`, 'invalidSyntax');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ScimError(415, err.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ScimError(400, err.message, 'invalidSyntax');
  }
  if (err instanceof SyntaxError) return new ScimError(400, `Request body is not valid JSON: ${err.message}`, 'invalidSyntax');
  if (err.validation) {
    const where = err.validationContext ?? 'request';
    return new ScimError(400, `Invalid ${where}: ${err.message}`, where === 'body' ? 'invalidValue' : 'invalidValue');
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ScimError(err.statusCode, err.message);
  }
  return undefined;
}

export function sendError(reply: FastifyReply, err: ScimError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply.code(err.status).type(SCIM_CONTENT_TYPE).send(errorBody(err.status, err.message, err.scimType));
}

/** What any error becomes: a ScimError with the status and detail to answer (logged when it is Roster's fault). */
export function scimErrorOf(err: FastifyError, req: FastifyRequest): ScimError {
  const scim = fromFastifyError(err);
  if (scim) {
    if (scim.status >= 500) req.log.error({ err }, 'request failed');
    return scim;
  }
  if (isDatabaseUnavailable(err)) {
    // Expected while Postgres restarts or fails over: one line per request, no stack.
    req.log.warn({ err: err.message, code: err.code }, 'database unavailable; answered 503');
    return databaseUnavailable();
  }
  req.log.error({ err }, 'unexpected error');
  return new ScimError(500, `Internal server error (request id ${req.id})`);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => sendError(reply, scimErrorOf(err, req)));

  app.setNotFoundHandler((req, reply) => sendError(reply, new ScimError(404, `No endpoint ${req.method} ${req.url.split('?')[0]}`)));
}

/**
 * Errors Fastify meets before routing (a URL that is not valid percent-encoded
 * UTF-8): answered in the same SCIM error shape as everything else.
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, new ScimError(400, err.code === 'FST_ERR_BAD_URL' ? 'The URL is not valid percent-encoded UTF-8' : err.message, 'invalidSyntax'));
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a malformed
 * request line or header, conflicting Content-Length, headers over the size
 * limit): answered on the socket with the same SCIM error shape, then the
 * connection is closed, as Fastify's default handler does.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request headers are larger than the server accepts']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request was not received in time']
        : [400, `The request is not valid HTTP/1.1${err.code ? ` (${err.code})` : ''}`];
  const body = JSON.stringify(errorBody(status, detail, status === 400 ? 'invalidSyntax' : undefined));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: ${SCIM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy();
}

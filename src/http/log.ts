/**
 * What the logs may hold. Request lines carry the method, the path and the
 * query parameters' names, never their values: a filter such as
 * `userName eq "jane@corp.com"` is personal data, and a cursor embeds the
 * sort key of a row. A few parameters whose values say nothing about anyone
 * (paging and projection) are kept, as they help to read a log. Tokens and
 * secrets are redacted wherever a serializer might print them, bodies are
 * never logged, and a database error's `detail` (which quotes the row's
 * values, e.g. a duplicate key) is dropped.
 */
import pinoPretty from 'pino-pretty';
import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';

/** Query parameters whose values are kept in logs. */
const SAFE_PARAMS = new Set(['startindex', 'count', 'sortby', 'sortorder', 'attributes', 'excludedattributes', 'aadoptscim062020', 'limit', 'status']);

/** `/scim/v2/acme/Users?filter=userName%20eq%20%22x%22&count=10` → `/scim/v2/acme/Users?filter=…&count=10`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep it as sent
      }
      return eq < 0 || SAFE_PARAMS.has(decoded.toLowerCase()) ? pair : `${name}=…`;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/** pino options; `pretty` (stdout is a terminal) renders lines for people, otherwise they stay JSON for log pipelines. */
export function loggerOptions(config: Config, opts: { pretty?: boolean } = {}): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    // On a terminal, rendered in this thread as each line is logged (a transport's worker thread could write after
    // the start banner, which main.ts prints once the server listens).
    ...(opts.pretty ? { stream: pinoPretty({ translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', sync: true }) } : {}),
    // Tokens must never reach the logs, whatever a serializer is changed to print.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.secret', 'err.detail', 'err.parameters'], censor: '[redacted]' },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
}

/**
 * The CLI's HTTP client for the admin API of a running Roster: ROSTER_URL
 * and ADMIN_TOKEN (or --url, --token). Every failure becomes a CliError with
 * a readable message (the SCIM error body's detail) and an exit code.
 */
import { STATUS_CODES } from 'node:http';
import { configSpec } from '../config.js';
import { CliError, EXIT, exitForStatus } from './exit-codes.js';

const DEFAULT_PORT = configSpec.find((s) => s.env === 'PORT')!.default;
/** Where the CLI looks for the server when neither ROSTER_URL nor --url says: this machine, on PORT as the server reads it. */
export const defaultRosterUrl = (env: Record<string, string | undefined>): string => `http://127.0.0.1:${env.PORT || DEFAULT_PORT}`;
export const ADMIN_PREFIX = '/admin/v1';
const TIMEOUT_MS = 30_000;

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Below /admin/v1, e.g. `/tenants/acme`. Path segments are encoded by `path` below. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/** A path from segments, each encoded: path`/tenants/${id}/tokens`. */
export function path(strings: TemplateStringsArray, ...values: string[]): string {
  return strings.reduce((acc, s, i) => acc + s + (i < values.length ? encodeURIComponent(values[i]!) : ''), '');
}

export class AdminClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string | undefined,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async send(req: ApiRequest): Promise<{ status: number; body: any }> {
    if (!this.token) {
      throw new CliError('no admin token: set ADMIN_TOKEN (or pass --token) to the token the server accepts', EXIT.unauthorized.code);
    }
    const url = new URL(this.baseUrl + ADMIN_PREFIX + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(url, {
        method: req.method,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: req.body !== undefined ? JSON.stringify(req.body) : null,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw unreachable(this.baseUrl, err);
    }
    const text = await res.text();
    let body: any = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!res.ok) throw new CliError(errorMessage(res.status, body), exitForStatus(res.status));
    return { status: res.status, body };
  }
}

function unreachable(baseUrl: string, err: unknown): CliError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const why = e.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
  return new CliError(`cannot reach Roster at ${baseUrl} (${why}). Is the server running? Set ROSTER_URL (or --url) to where it listens.`, EXIT.unreachable.code);
}

/** `404 Not Found: Tenant acme not found` from a SCIM error body (RFC 7644 §3.12), or the raw text. */
function errorMessage(status: number, body: any): string {
  if (body && typeof body === 'object') {
    const detail = typeof body.detail === 'string' ? body.detail : typeof body.message === 'string' ? body.message : JSON.stringify(body);
    return `${status} ${statusText(status)}: ${detail}${body.scimType ? ` (scimType ${body.scimType})` : ''}`;
  }
  return `${status} ${statusText(status)}${body ? `: ${String(body).slice(0, 500)}` : ''}`;
}

const statusText = (s: number) => STATUS_CODES[s] ?? 'Error';

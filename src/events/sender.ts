/**
 * One delivery attempt over HTTP: the request (a signed Standard Webhooks
 * envelope or an RFC 8935 SET), sent through the checked client
 * (src/events/http-client.ts), and what came back: a status and the start of
 * the body, or why there was no answer.
 */
import type { Dispatcher } from 'undici';
import type { Db } from '../db/index.js';
import { checkPort, DestinationPolicy, DestinationRefusedError } from './destinations.js';
import { deliveryAgent, type DeliveryAgentOptions } from './http-client.js';
import { parseRetryAfter } from './backoff.js';
import { webhookEnvelope } from './payload.js';
import { SET_CONTENT_TYPE, setClaims, setIssuer, signSet } from './set.js';
import { signatureHeader } from './signing.js';
import type { Endpoint, StoredEvent } from './types.js';

export const USER_AGENT = 'Roster-Webhooks/1';
/** How much of a response body is kept for the attempt log (an admin reads it in the endpoint's health). */
export const RESPONSE_SNIPPET = 500;
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

export interface SenderConfig {
  publicUrl: string;
  webhookTimeoutMs: number;
  /** Time to establish the connection (DNS, TCP, TLS); default DEFAULT_CONNECT_TIMEOUT_MS, never above the timeout. */
  webhookConnectTimeoutMs?: number;
  /** WEBHOOK_ALLOWED_CIDRS / WEBHOOK_DENIED_CIDRS (src/events/destinations.ts). */
  webhookAllowedCidrs?: readonly string[];
  webhookDeniedCidrs?: readonly string[];
}

export interface Attempt {
  statusCode: number | null;
  error: string | null;
  retryAfterMs?: number | undefined;
  body?: string;
  /** No answer within the timeout, or no connection within the connect timeout (src/events/breaker.ts). */
  timedOut: boolean;
}

export interface Sender {
  send(event: StoredEvent, endpoint: Endpoint, signal: AbortSignal): Promise<Attempt>;
  /** One POST through the checked client (destinations, timeouts): what the test ping sends with. */
  post(url: string, body: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Attempt>;
  close(): Promise<void>;
}

/** The first `max` characters of a response body; the rest is not read (a receiver cannot make Roster buffer a huge answer). */
async function readStart(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of body) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      if (text.length >= max) break;
    }
  } finally {
    body.destroy();
  }
  return text.slice(0, max);
}

/** Why a request got no answer, from the error undici threw (its cause chain). */
function noAnswer(err: unknown, connectTimeoutMs: number): Attempt {
  const fail = (error: string, timedOut = false): Attempt => ({ statusCode: null, error, timedOut });
  for (let e = err as { cause?: unknown; code?: unknown; message?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'ERR_WEBHOOK_DESTINATION_REFUSED') return fail(String(e.message));
    if (e.code === 'UND_ERR_CONNECT_TIMEOUT') return fail(`connection error: no connection within ${connectTimeoutMs} ms`, true);
    if (!e.cause) return fail(`connection error: ${typeof e.code === 'string' ? e.code : String(e.message)}`);
  }
  return fail('connection error');
}

export function createSender(db: Db, config: SenderConfig, agentOptions: Pick<DeliveryAgentOptions, 'lookup'> = {}): Sender {
  const connectTimeoutMs = Math.min(config.webhookConnectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, config.webhookTimeoutMs);
  const agent = deliveryAgent({
    policy: new DestinationPolicy({ allowed: config.webhookAllowedCidrs ?? [], denied: config.webhookDeniedCidrs ?? [] }),
    connectTimeoutMs,
    ...agentOptions,
  });

  async function send(event: StoredEvent, endpoint: Endpoint, signal: AbortSignal): Promise<Attempt> {
    let body: string;
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (endpoint.format === 'set') {
      // RFC 8935 §2.1: the SET is the body, media type application/secevent+jwt.
      body = await signSet(db, setClaims(event, endpoint, setIssuer(config.publicUrl, event.tenantId)));
      headers['content-type'] = SET_CONTENT_TYPE;
      headers.accept = 'application/json';
    } else {
      body = JSON.stringify(webhookEnvelope(event, endpoint));
      const ts = Math.floor(Date.now() / 1000);
      headers['content-type'] = 'application/json';
      headers['webhook-id'] = event.uid;
      headers['webhook-timestamp'] = String(ts);
      headers['webhook-signature'] = signatureHeader(endpoint, event.uid, ts, body);
    }
    return post(endpoint.url, body, headers, signal);
  }

  async function post(url: string, body: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Attempt> {
    const timeout = AbortSignal.timeout(config.webhookTimeoutMs);
    try {
      // undici's request() rather than fetch(): no WHATWG Request/Response/streams per delivery (a third of a
      // delivery's CPU in bench/README.md "Event latency"); it never follows redirects, as deliveries must not.
      const target = new URL(url);
      const port = checkPort(target);
      if (!port.allowed) throw new DestinationRefusedError(port.reason);
      const res = await agent.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        body,
        headers,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await readStart(res.body, RESPONSE_SNIPPET);
      const retryAfter = res.headers['retry-after'];
      return { statusCode: res.statusCode, error: null, retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] ?? null : retryAfter ?? null), body: text, timedOut: false };
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timeout.aborted) return { statusCode: null, error: `timeout: no response within ${config.webhookTimeoutMs} ms`, timedOut: true };
      return noAnswer(err, connectTimeoutMs);
    }
  }

  return { send, post, close: () => agent.close() };
}

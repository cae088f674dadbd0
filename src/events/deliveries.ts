/**
 * The delivery browser and the test ping (README "Delivery browser"): an
 * endpoint's deliveries by status, redelivering its dead letters in bulk,
 * and `webhook.test`, sent at once (not through the queue) and signed as the
 * endpoint's deliveries are, with the receiver's answer returned.
 */
import { performance } from 'node:perf_hooks';
import type { Db } from '../db/index.js';
import { deadLetterEvents, DELIVERY_FILTERS, listDeliveries, type DeliveryFilter, type DeliveryView } from '../db/deliveries.js';
import { enqueueRedelivery } from '../db/outbox-requeue.js';
import { badRequest } from '../scim/errors.js';
import type { Actor } from '../services/actor.js';
import { idCursor, pageLimit, pageOf, parseIdCursor, type PageQuery } from '../services/timeline.js';
import { wakeDeliveryWorkers } from './notify.js';
import { newEventId } from './record.js';
import { SET_CONTENT_TYPE, setIssuer, setTestClaims, signSet } from './set.js';
import { signatureHeader } from './signing.js';
import type { WebhookService } from './service.js';
import type { Endpoint } from './types.js';
import { USER_AGENT, type Sender } from './sender.js';

export { DELIVERY_FILTERS, type DeliveryFilter, type DeliveryView } from '../db/deliveries.js';

/** Dead letters queued again per statement by a bulk redelivery. */
const REDELIVER_CHUNK = 1000;

/** The type of the test ping: never stored, never retried, sent whatever the endpoint's `events`. */
export const TEST_EVENT_TYPE = 'webhook.test';

export interface TestResult {
  /** The ping's id: its `webhook-id` (or the SET's `jti`). */
  eventId: string;
  /** The receiver answered 2xx. */
  delivered: boolean;
  statusCode: number | null;
  latencyMs: number;
  /** Timeout or connection error. */
  error: string | null;
  /** The first 500 characters of the receiver's answer. */
  response: string | null;
}

export class DeliveryService {
  constructor(
    private readonly db: Db,
    private readonly webhooks: WebhookService,
    /** The deliveries' own client: the ping goes where deliveries may go (src/events/destinations.ts), with their timeouts. */
    private readonly sender: Pick<Sender, 'post'>,
    private readonly opts: { publicUrl: string },
  ) {}

  /** A page of the endpoint's deliveries with `status` (or all), newest first. An unknown status is a 400 naming the known ones. */
  async list(tenantId: string, id: string, q: PageQuery & { status?: string | undefined }): Promise<{ items: DeliveryView[]; next: string | null }> {
    if (q.status !== undefined && !(DELIVERY_FILTERS as readonly string[]).includes(q.status)) {
      throw badRequest('invalidValue', `status must be one of ${DELIVERY_FILTERS.join(', ')}, not ${JSON.stringify(q.status)}`);
    }
    const limit = pageLimit(q.limit);
    const before = parseIdCursor(q.cursor);
    const e = await this.webhooks.get(tenantId, id);
    const rows = await listDeliveries(this.db, e.id, { status: q.status as DeliveryFilter | undefined, before, limit: limit + 1 });
    return pageOf(rows, limit, (d) => idCursor(d.id));
  }

  /** Queue every current dead letter of the endpoint again, in event order (per resource order kept). */
  async redeliver(tenantId: string, id: string, what: { status: 'dead' }): Promise<{ queued: number }> {
    if (what.status !== 'dead') throw badRequest('invalidValue', 'status must be "dead": only dead letters are redelivered in bulk');
    const e = await this.webhooks.get(tenantId, id);
    let queued = 0;
    for (let after = '0'; ; ) {
      const events = await deadLetterEvents(this.db, e.id, after, REDELIVER_CHUNK);
      if (events.length === 0) break;
      queued += await enqueueRedelivery(this.db, events, [e.id]);
      after = events[events.length - 1]!;
      if (events.length < REDELIVER_CHUNK) break;
    }
    if (queued) wakeDeliveryWorkers();
    return { queued };
  }

  /** Send a signed `webhook.test` now (enabled or not) and report the receiver's answer. */
  async test(tenantId: string, id: string, actor: Actor): Promise<TestResult> {
    const e = await this.webhooks.get(tenantId, id);
    const eventId = newEventId();
    const { body, headers } = await this.#request(e, eventId, actor);
    const t0 = performance.now();
    const a = await this.sender.post(e.url, body, headers);
    const latencyMs = Math.round(performance.now() - t0);
    const delivered = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
    return { eventId, delivered, statusCode: a.statusCode, latencyMs, error: a.error, response: a.statusCode === null ? null : (a.body ?? '') };
  }

  async #request(e: Endpoint, eventId: string, actor: Actor): Promise<{ body: string; headers: Record<string, string> }> {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (e.format === 'set') {
      headers['content-type'] = SET_CONTENT_TYPE;
      headers.accept = 'application/json';
      return { body: await signSet(this.db, setTestClaims(e, setIssuer(this.opts.publicUrl, e.tenantId), eventId)), headers };
    }
    const now = new Date();
    const body = JSON.stringify({
      type: TEST_EVENT_TYPE,
      timestamp: now.toISOString(),
      data: { tenant: e.tenantId, endpoint: e.id, message: 'A test sent from Roster on request; it changes nothing.', actor },
    });
    const ts = Math.floor(now.getTime() / 1000);
    headers['content-type'] = 'application/json';
    headers['webhook-id'] = eventId;
    headers['webhook-timestamp'] = String(ts);
    headers['webhook-signature'] = signatureHeader(e, eventId, ts, body, now);
    return { body, headers };
  }
}

/**
 * Delivery counters for a metrics exporter (process-wide, monotonic), and a
 * backlog reading for a gauge. A Prometheus module can read `deliveryMetrics`
 * in a collect() callback and call `deliveryBacklog(db)` for gauges.
 */
import type { Db } from '../db/index.js';
import { globalBacklog } from '../db/outbox-housekeeping.js';

export interface DeliveryMetrics {
  /** Deliveries acknowledged with 2xx. */
  delivered: number;
  /** Attempts that failed and will be retried. */
  failedAttempts: number;
  /** Deliveries given up on (schedule exhausted or permanent 4xx). */
  deadLettered: number;
  /** Endpoints switched off by a 410 Gone. */
  endpointsDisabled: number;
  /** Times an endpoint's circuit breaker opened (src/events/breaker.ts). */
  circuitsOpened: number;
  /** Sum and count of HTTP attempt latencies (ms), for a mean. */
  attemptLatencyMsSum: number;
  attemptCount: number;
  /** Sum and count of event-to-successful-delivery delays (ms, first attempts only). */
  commitToDeliveryMsSum: number;
  commitToDeliveryCount: number;
}

export const deliveryMetrics: DeliveryMetrics = {
  delivered: 0,
  failedAttempts: 0,
  deadLettered: 0,
  endpointsDisabled: 0,
  circuitsOpened: 0,
  attemptLatencyMsSum: 0,
  attemptCount: 0,
  commitToDeliveryMsSum: 0,
  commitToDeliveryCount: 0,
};

/** Pending deliveries across all endpoints and the age in seconds of the oldest. */
export function deliveryBacklog(db: Db): Promise<{ pending: number; oldestAgeSeconds: number | null }> {
  return globalBacklog(db);
}

/**
 * Provisioning events: the public surface of src/events for the rest of
 * Roster (services, app, main, metrics, discovery).
 */
export { recordChange, recordTenantEvent, eventsForChange, MEMBER_CHUNK, type ResourceChange } from './record.js';
export { startDeliveryWorker, type DeliveryConfig, type DeliveryWorker, type DeliveryWorkerOptions } from './worker.js';
export { deliveryMetrics, deliveryBacklog, type DeliveryMetrics } from './metrics.js';
export { securityEventsConfig, jwks, SET_EVENT_URIS } from './set.js';
export { WebhookService, EventService } from './service.js';
export { wakeDeliveryWorkers } from './notify.js';
export { DEFAULT_RETRY_SCHEDULE, parseRetrySchedule } from './backoff.js';
export { EVENT_TYPES, TENANT_EVENT_TYPES, type EventType, type TenantEventType } from './types.js';

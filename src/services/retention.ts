/**
 * Periodic retention of the visibility logs (request log, audit trail): each
 * process runs every task every RETENTION_EVERY_MS. The deletes are batched
 * and idempotent, so replicas running them at the same time only share the
 * work. (Events have their own retention, in the delivery worker.)
 */
import { periodic } from './periodic.js';

export const RETENTION_EVERY_MS = 10 * 60_000;

export interface RetentionTask {
  name: string;
  /** Delete what is due; the number of rows deleted. */
  run(): Promise<number>;
}

export interface Retention {
  /** Run every task now (tests, and the periodic pass). */
  runOnce(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export function startRetention(
  tasks: RetentionTask[],
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
  everyMs = RETENTION_EVERY_MS,
): Retention {
  return periodic(async () => {
    const deleted: Record<string, number> = {};
    for (const task of tasks) {
      try {
        deleted[task.name] = await task.run();
      } catch (err) {
        logger.warn({ err, task: task.name }, 'retention failed; trying again later');
      }
    }
    if (Object.values(deleted).some((n) => n > 0)) logger.info({ deleted }, 'retention: old entries deleted');
    return deleted;
  }, everyMs);
}

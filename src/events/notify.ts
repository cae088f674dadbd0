/**
 * Waking delivery workers. Two paths, both only hints (workers also poll):
 * - in this process: recordChange calls wakeDeliveryWorkers() right away. On
 *   PGlite the worker's next query waits for the single connection, i.e. for
 *   the recording transaction to finish, so it sees the new rows at once.
 * - across processes (Postgres): the outbox's INSERT runs pg_notify, which
 *   Postgres delivers to LISTENing workers when the transaction commits.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { NOTIFY_CHANNEL } from '../db/outbox.js';

type Listener = () => void;
const listeners = new Set<Listener>();

export function wakeDeliveryWorkers(): void {
  for (const l of listeners) l();
}

export function onWake(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/**
 * LISTEN on the Postgres channel with a dedicated connection, reconnecting
 * after errors. Returns a function that closes it.
 */
export function listenForNotifications(databaseUrl: string, onNotify: Listener, logger?: Pick<Logger, 'warn' | 'debug'>): () => Promise<void> {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (delay: number) => {
    if (closed) return;
    const c = new pg.Client({ connectionString: databaseUrl });
    client = c;
    const again = (err?: unknown) => {
      if (closed || client !== c) return;
      client = undefined;
      logger?.warn({ err }, 'webhook LISTEN connection lost; reconnecting (polling continues meanwhile)');
      c.end().catch(() => {});
      retry = setTimeout(() => void connect(Math.min(delay * 2, 30_000)), delay);
    };
    c.on('error', again);
    c.on('end', () => again());
    c.on('notification', () => onNotify());
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
      if (closed) await c.end().catch(() => {});
      else onNotify(); // catch up on anything committed while not listening
    } catch (err) {
      again(err);
    }
  };
  void connect(500);

  return async () => {
    closed = true;
    if (retry) clearTimeout(retry);
    const c = client;
    client = undefined;
    if (c) await c.end().catch(() => {});
  };
}

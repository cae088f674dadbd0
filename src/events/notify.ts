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

/** First pause before reconnecting the LISTEN connection; it doubles per failed attempt up to the maximum. */
const LISTEN_RETRY_MS = 250;
const LISTEN_MAX_RETRY_MS = 10_000;

/**
 * LISTEN on the Postgres channel with a dedicated connection, reconnecting
 * after errors (a restart or failover drops it) with a growing pause, from
 * the shortest again once it was back. Each (re)connection calls onNotify, so
 * workers look for work missed meanwhile and resume at once after an outage.
 * Returns a function that closes it.
 */
export function listenForNotifications(databaseUrl: string, onNotify: Listener, logger?: Pick<Logger, 'warn' | 'info' | 'debug'>): () => Promise<void> {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let lost = false;

  const connect = async (delay: number) => {
    if (closed) return;
    const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000, keepAlive: true });
    client = c;
    let next = delay;
    const again = (err?: unknown) => {
      if (closed || client !== c) return;
      client = undefined;
      if (!lost) logger?.warn({ err }, 'webhook LISTEN connection lost; reconnecting (polling continues meanwhile)');
      lost = true;
      c.end().catch(() => {});
      retry = setTimeout(() => void connect(Math.min(next * 2, LISTEN_MAX_RETRY_MS)), next);
    };
    // Without an 'error' listener a dropped connection would be an uncaught exception.
    c.on('error', again);
    c.on('end', () => again());
    c.on('notification', () => onNotify());
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
      if (closed) return void (await c.end().catch(() => {}));
      next = LISTEN_RETRY_MS;
      if (lost) logger?.info('webhook LISTEN connection is back');
      lost = false;
      onNotify(); // catch up on anything committed while not listening
    } catch (err) {
      again(err);
    }
  };
  void connect(LISTEN_RETRY_MS);

  return async () => {
    closed = true;
    if (retry) clearTimeout(retry);
    const c = client;
    client = undefined;
    if (c) await c.end().catch(() => {});
  };
}

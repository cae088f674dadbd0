/**
 * Process entry point: configuration, database, bootstrap, listen (public
 * listener and metrics listener), and a graceful stop on SIGTERM/SIGINT
 * (see src/http/ops/shutdown.ts).
 */
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import { loggerOptions } from './http/log.js';
import { startBanner } from './banner.js';
import { defaultRosterUrl } from './cli/client.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startDeliveryWorker } from './events/index.js';
import { startMetricsServer, type MetricsServer } from './http/ops/metrics.js';
import { gracefulShutdown, type Closer } from './http/ops/shutdown.js';
import { startPolicyWorker } from './services/policy-worker.js';
import { bootstrap, openConfiguredDatabase, openWorkerDatabase } from './startup.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`roster: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  // On a terminal: readable logs, and the banner as text. Otherwise (a pipe, a pod's log): JSON lines only.
  const interactive = process.stdout.isTTY === true;
  const database = await openConfiguredDatabase(config);
  const boot = await bootstrap(config, database, { mayRevealSecrets: interactive || database.kind === 'pglite' });
  const { app, ops, services } = await buildApp({ config, database, adminKeys: boot.adminKeys, logger: loggerOptions(config, { pretty: interactive }) });
  const atRest = boot.secretsAtRest;
  if (atRest.source === 'none') app.log.warn('secrets at rest are stored in clear: set ENCRYPTION_KEYS (README "Secrets at rest")');
  if (atRest.resealed > 0) app.log.info({ rows: atRest.resealed, key: atRest.source }, 'secrets at rest resealed under the current encryption key');

  // Background workers, stopped at shutdown in parallel with the HTTP drain: whatever
  // starts one here pushes { name, stop(remainingMs) }.
  const workers: Closer[] = [];
  const ownDatabases: Closer[] = [];
  if (config.webhookWorker) {
    const workerDatabase = await openWorkerDatabase(config, database);
    if (workerDatabase.own) ownDatabases.push({ name: 'webhook delivery database', stop: () => workerDatabase.close() });
    const worker = startDeliveryWorker({ db: workerDatabase.db, logger: app.log, config });
    // In-flight deliveries get the time left; unfinished ones go back to the queue (at-least-once).
    workers.push({ name: 'webhook delivery', stop: (remainingMs) => worker.stop(remainingMs) });
  }
  // Provisioning policies' own work (re-evaluations, scheduled changes): safe in every replica.
  const policyWorker = startPolicyWorker({ db: database.db, policies: services.policies, golive: services.golive, logger: app.log });
  workers.push({ name: 'policy', stop: () => policyWorker.stop() });

  let metricsServer: MetricsServer | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // A second Ctrl-C means now.
      if (signal === 'SIGINT') process.exit(130);
      return;
    }
    stopping = true;
    let clean = false;
    try {
      ({ clean } = await gracefulShutdown({
        app,
        lifecycle: ops.lifecycle,
        workers,
        resources: [
          ...(metricsServer ? [{ name: 'metrics listener', stop: () => metricsServer!.close() }] : []),
          ...ownDatabases,
          { name: 'database', stop: () => database.close() },
        ],
        timeoutMs: config.shutdownTimeoutMs,
        log: app.log,
        reason: signal,
      }));
    } finally {
      process.exit(clean ? 0 : 1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  if (config.metricsEnabled) {
    metricsServer = await startMetricsServer(ops.metrics, { host: config.host, port: config.metricsPort });
    app.log.info({ port: metricsServer.port }, `metrics listening on port ${metricsServer.port} at /metrics`);
  }
  await app.listen({ port: config.port, host: config.host });

  const { port } = app.server.address() as AddressInfo;
  const banner = startBanner({
    config,
    database: database.kind,
    boot,
    cli: cliCommand(),
    cliUrl: `http://127.0.0.1:${port}` === defaultRosterUrl({}) ? undefined : `http://127.0.0.1:${port}`,
  });
  if (interactive) process.stdout.write(banner.text); // the log lines so far are written already (src/http/log.ts)
  else app.log.info(banner.fields, 'Roster is running');
}

/** How to run the CLI beside this process: the compiled file next to this one, or its source under tsx. */
function cliCommand(): string {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) return 'npm run roster --';
  const rel = relative(process.cwd(), join(dirname(self), 'cli.js'));
  return `node ${rel.startsWith('..') ? join(dirname(self), 'cli.js') : rel}`;
}

main().catch((err) => {
  // A secret the configured keys cannot open: say which, without a stack.
  if (err instanceof Error && err.name === 'KeyringError') {
    process.stderr.write(`roster: failed to start: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`roster: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});

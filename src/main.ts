/**
 * Process entry point: configuration, database, bootstrap, listen (public
 * listener and metrics listener), and a graceful stop on SIGTERM/SIGINT
 * (see src/http/ops/shutdown.ts).
 */
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startDeliveryWorker } from './events/index.js';
import { startMetricsServer, type MetricsServer } from './http/ops/metrics.js';
import { gracefulShutdown, type Closer } from './http/ops/shutdown.js';
import { bootstrap, openConfiguredDatabase } from './startup.js';

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

  const database = await openConfiguredDatabase(config);
  const boot = await bootstrap(config, database);
  const { app, ops } = await buildApp({ config, database });

  // Background workers, stopped at shutdown in parallel with the HTTP drain: whatever
  // starts one here pushes { name, stop(remainingMs) }.
  const workers: Closer[] = [];
  if (config.webhookWorker) {
    const worker = startDeliveryWorker({ db: database.db, logger: app.log, config });
    // In-flight deliveries get the time left; unfinished ones go back to the queue (at-least-once).
    workers.push({ name: 'webhook delivery', stop: (remainingMs) => worker.stop(remainingMs) });
  }

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

  const lines = [
    '',
    `Roster is running (${database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'Postgres'}).`,
  ];
  if (boot.createdDefault) {
    lines.push(
      `  SCIM base URL: ${config.publicUrl}/scim/v2/${boot.createdDefault.tenant}`,
      `  Bearer token:  ${boot.createdDefault.token}`,
      '  (the token is shown once; only its hash is stored)',
    );
  } else {
    const t = config.bootstrapTenant ?? boot.tenants[0];
    if (t) lines.push(`  SCIM base URL: ${config.publicUrl}/scim/v2/${t}`);
    lines.push(`  Issue a token: npm run roster -- tokens issue ${t ?? '<tenant>'}`);
  }
  lines.push(`  Admin API:     ${config.publicUrl}/admin/v1 ${config.adminToken ? '(bearer ADMIN_TOKEN)' : '(disabled: set ADMIN_TOKEN)'}`, '');
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`roster: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});

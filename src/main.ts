/**
 * Process entry point: configuration, database, bootstrap, listen, and a
 * graceful stop on SIGTERM/SIGINT.
 */
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
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
  const { app } = await buildApp({ config, database });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    try {
      await app.close();
      await database.close();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

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

#!/usr/bin/env node
/**
 * roster CLI. Every command but `migrate` talks to a running Roster through
 * its admin API (ROSTER_URL and ADMIN_TOKEN, or --url and --token), so it
 * works while the server runs, on the embedded database too. `roster
 * --help` lists the commands (src/cli/commands.ts) and the exit codes.
 *
 * `roster migrate` applies migrations to the database configured by the
 * environment (DATABASE_URL or DATA_DIR), as the Helm chart's Job does.
 */
import { ConfigError, loadConfig } from './config.js';
import { runCli, type LocalCommand } from './cli/run.js';
import { CliError, EXIT } from './cli/exit-codes.js';

const local: LocalCommand[] = [
  {
    name: 'migrate',
    summary: 'Apply pending migrations to the configured database (DATABASE_URL or DATA_DIR), with the server stopped on the embedded one',
    async run(io) {
      let config;
      try {
        config = loadConfig(io.env);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage.code);
        throw err;
      }
      // Loaded here: the database drivers and migrations are what every other command does without.
      const { migrateToLatest, openDatabase } = await import('./db/index.js');
      const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
      try {
        const applied = await migrateToLatest(database.db);
        io.out(applied.length ? `applied ${applied.join(', ')}\n` : 'the database is up to date\n');
      } finally {
        await database.close();
      }
    },
  },
];

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  signal: stop.signal,
}, local);
process.exitCode = code;

/**
 * What a starting Roster tells the person who started it: where the SCIM
 * base URL is, the tokens made on this start (shown once), and the next
 * command to run, which talks to this running server (src/cli.ts).
 */
import type { Config } from './config.js';
import type { BootstrapResult } from './startup.js';

export interface BannerInput {
  config: Pick<Config, 'publicUrl' | 'dataDir' | 'adminToken'>;
  database: 'postgres' | 'pglite';
  boot: BootstrapResult;
  /** How to run the CLI here, e.g. `node dist/src/cli.js`. */
  cli: string;
  /** Base URL the CLI reaches this server at, when not its default. */
  cliUrl?: string | undefined;
}

export interface Banner {
  /** For a terminal. */
  text: string;
  /** The same as fields of one log line, for a log pipeline. */
  fields: Record<string, unknown>;
}

export function startBanner({ config, database, boot, cli, cliUrl }: BannerInput): Banner {
  const base = config.publicUrl;
  const tenant = boot.tenant ?? '<tenant>';
  const scimBaseUrl = `${base}/scim/v2/${tenant}`;
  const env = [cliUrl ? `ROSTER_URL=${cliUrl}` : '', boot.adminToken ? `ADMIN_TOKEN=${boot.adminToken}` : config.adminToken ? '' : 'ADMIN_TOKEN=<admin token>']
    .filter(Boolean)
    .join(' ');
  const roster = (args: string) => `${env ? `${env} ` : ''}${cli} ${args}`;

  const lines = [`Roster is running (${database === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'Postgres'}).`];
  lines.push(`  SCIM base URL: ${scimBaseUrl}`);
  if (boot.scimToken) lines.push(`  Bearer token:  ${boot.scimToken}`, '                 (shown once; only its hash is stored)');
  lines.push(`  Admin API:     ${base}/admin/v1${boot.adminEnabled ? '' : '  (disabled: set ADMIN_TOKEN to enable it)'}`);
  if (boot.adminToken) {
    lines.push(`  Admin token:   ${boot.adminToken}`, '                 (shown once; only its hash is stored; set ADMIN_TOKEN to choose your own)');
  }
  lines.push(`  API docs:      ${base}/docs`);

  const next: string[] = [];
  if (boot.adminEnabled) {
    if (!boot.scimToken) next.push(roster(`tokens issue ${tenant}`));
    next.push(roster('tenants list'));
  } else if (!boot.scimToken) {
    next.push(`set ADMIN_TOKEN, restart, then: ${cli} tokens issue ${tenant}`);
  }
  if (next.length) lines.push('  Next:', ...next.map((n) => `    ${n}`));
  if (!boot.adminToken) lines.push(`  (the CLI reads ROSTER_URL and ADMIN_TOKEN; see ${cli} --help)`);

  const fields: Record<string, unknown> = {
    database,
    scimBaseUrl,
    adminApi: `${base}/admin/v1`,
    adminApiEnabled: boot.adminEnabled,
    docs: `${base}/docs`,
    ...(boot.scimToken ? { scimBearerToken: boot.scimToken } : {}),
    ...(boot.adminToken ? { adminBearerToken: boot.adminToken } : {}),
    ...(next.length ? { next } : {}),
  };
  return { text: ['', ...lines, ''].join('\n') + '\n', fields };
}

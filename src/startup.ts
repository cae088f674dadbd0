/**
 * What happens between configuration and listening, shared by main.ts and
 * the CLI: open the database, migrate, bring secrets at rest under the
 * encryption key, make sure the bootstrap/default tenant exists.
 */
import type { Config } from './config.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from './db/index.js';
import { listTenants } from './db/tenants.js';
import { configuredAdminKeys, generateAdminToken, loadAdminKeys, type AdminKeys } from './services/admin-keys.js';
import { prepareSecretsAtRest, type KeySource } from './services/encryption.js';
import { TenantService } from './services/tenants.js';

const openOptions = (config: Config, poolMax: number) => ({
  databaseUrl: config.databaseUrl,
  dataDir: config.dataDir,
  poolMax,
  preparedStatements: config.databasePreparedStatements,
  statementTimeoutMs: config.databaseStatementTimeoutMs,
  acquireTimeoutMs: config.databaseAcquireTimeoutMs,
});

export async function openConfiguredDatabase(config: Config): Promise<DatabaseHandle> {
  const handle = await openDatabase(openOptions(config, config.databasePoolMax));
  if (config.migrateOnStart) await migrateToLatest(handle.db);
  return handle;
}

/**
 * The webhook delivery worker's database: on Postgres a pool of its own
 * (WEBHOOK_DATABASE_CONNECTIONS), so that its claims and completions do not
 * queue behind the SCIM requests waiting for the main pool when the server
 * is saturated (bench/README.md "Event latency"); on PGlite its one
 * connection, shared.
 */
export async function openWorkerDatabase(config: Config, main: DatabaseHandle): Promise<DatabaseHandle & { own: boolean }> {
  if (main.kind !== 'postgres' || !config.databaseUrl) return { ...main, own: false };
  return { ...(await openDatabase(openOptions(config, config.webhookDatabaseConnections))), own: true };
}

export interface BootstrapResult {
  /** The tenant to point people at: BOOTSTRAP_TENANT, else `default` when it exists, else the first by id. */
  tenant?: string;
  /** `default` was created on this start. */
  createdDefault: boolean;
  /** SCIM token issued for `default` on this start: shown once, never stored in clear. */
  scimToken?: string;
  /** Admin token generated on this start (embedded database, no ADMIN_TOKEN): shown once. */
  adminToken?: string;
  /** Whether any bearer token opens the admin API. */
  adminEnabled: boolean;
  /** The bearer tokens it accepts, for buildApp. */
  adminKeys: AdminKeys;
  /** Where the key sealing secrets at rest came from, and how many rows were resealed under it on this start. */
  secretsAtRest: { source: KeySource; resealed: number };
}

export interface BootstrapOptions {
  /**
   * Whether a token made now may be shown: on a terminal, or with the
   * embedded database. Pod logs are widely readable, so a Postgres-backed
   * process writing to a log issues no token nobody could see safely.
   */
  mayRevealSecrets: boolean;
}

/**
 * BOOTSTRAP_TENANT/BOOTSTRAP_TOKEN are ensured as given. Without them, a
 * database with no tenant at all gets a `default` tenant, and a fresh token
 * when it may be shown. On the embedded database without ADMIN_TOKEN, an
 * admin token is generated once (stored as a hash) so the admin API and the
 * CLI work from the first start.
 */
export async function bootstrap(config: Config, database: DatabaseHandle, opts: BootstrapOptions): Promise<BootstrapResult> {
  const tenants = new TenantService(database.db);
  // Before anything reads a secret: a key that cannot open them fails the start here.
  const secretsAtRest = await prepareSecretsAtRest(config, database);
  const result: BootstrapResult = { createdDefault: false, adminEnabled: false, adminKeys: configuredAdminKeys(config), secretsAtRest };
  if (config.bootstrapTenant) {
    await tenants.ensure(config.bootstrapTenant, config.bootstrapToken);
  } else if ((await listTenants(database.db, { limit: 1 })).length === 0) {
    result.createdDefault = (await tenants.ensure(DEFAULT_TENANT)).created;
    if (result.createdDefault && opts.mayRevealSecrets) {
      result.scimToken = (await tenants.issueToken(DEFAULT_TENANT, { name: 'first start' })).secret;
    }
  }
  if (!config.adminToken && database.kind === 'pglite') result.adminToken = await generateAdminToken(database.db);
  result.adminKeys = await loadAdminKeys(config, database.db);
  result.adminEnabled = result.adminKeys.digests.length > 0;
  result.tenant = config.bootstrapTenant ?? ((await tenants.find(DEFAULT_TENANT)) ? DEFAULT_TENANT : (await listTenants(database.db, { limit: 1 }))[0]?.id);
  return result;
}

export const DEFAULT_TENANT = 'default';

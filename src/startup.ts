/**
 * What happens between configuration and listening, shared by main.ts and
 * the CLI: open the database, migrate, make sure the bootstrap/default
 * tenant exists.
 */
import type { Config } from './config.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from './db/index.js';
import { listTenants } from './db/tenants.js';
import { TenantService } from './services/tenants.js';

export async function openConfiguredDatabase(config: Config): Promise<DatabaseHandle> {
  const handle = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.databasePoolMax,
    preparedStatements: config.databasePreparedStatements,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    acquireTimeoutMs: config.databaseAcquireTimeoutMs,
  });
  if (config.migrateOnStart) await migrateToLatest(handle.db);
  return handle;
}

export interface BootstrapResult {
  /** Tenant created and token issued on this start, printed once. */
  createdDefault?: { tenant: string; token: string };
  tenants: string[];
}

/**
 * BOOTSTRAP_TENANT/BOOTSTRAP_TOKEN are ensured as given. Without them, a
 * database with no tenant at all gets a `default` tenant and a fresh token,
 * returned so main.ts can print it (the only time it is ever shown).
 */
export async function bootstrap(config: Config, database: DatabaseHandle): Promise<BootstrapResult> {
  const tenants = new TenantService(database.db);
  if (config.bootstrapTenant) {
    await tenants.ensure(config.bootstrapTenant, config.bootstrapToken);
  } else if ((await listTenants(database.db, { limit: 1 })).length === 0) {
    const { created } = await tenants.ensure('default');
    if (created) {
      const issued = await tenants.issueToken('default', { name: 'first start' });
      return { createdDefault: { tenant: 'default', token: issued.secret }, tenants: ['default'] };
    }
  }
  return { tenants: (await listTenants(database.db, { limit: 5 })).map((t) => t.id) };
}

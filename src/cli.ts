#!/usr/bin/env node
/**
 * roster CLI — the admin API for people without curl, working on the
 * database directly with the same configuration as the server.
 *
 *   roster migrate
 *   roster tenants create <id> [--name "Acme Corp"]
 *   roster tenants list | get <id> | delete <id>
 *   roster tokens issue <tenant> [--name ci] | list <tenant> | revoke <tenant> <tokenId>
 *
 * With the embedded database (no DATABASE_URL), stop the server first:
 * PGlite's data directory must not be opened by two processes at once.
 */
import { ConfigError, loadConfig } from './config.js';
import { migrateToLatest, openDatabase } from './db/index.js';
import { ScimError } from './scim/errors.js';
import { TenantService } from './services/tenants.js';

const USAGE = `usage:
  roster migrate
  roster tenants create <id> [--name <name>]
  roster tenants list
  roster tenants get <id>
  roster tenants delete <id>
  roster tokens issue <tenant> [--name <name>]
  roster tokens list <tenant>
  roster tokens revoke <tenant> <tokenId>`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

async function run(argv: string[]): Promise<number> {
  const args = [...argv];
  const name = option(args, 'name');
  const [group, verb, a, b] = args;
  if (!group || group === 'help' || group === '--help') {
    process.stdout.write(USAGE + '\n');
    return group ? 0 : 2;
  }
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
  const out = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
  try {
    if (group === 'migrate') {
      const applied = await migrateToLatest(database.db);
      out({ applied });
      return 0;
    }
    await migrateToLatest(database.db);
    const tenants = new TenantService(database.db);
    const scimBaseUrl = (id: string) => `${config.publicUrl}/scim/v2/${id}`;
    switch (`${group} ${verb}`) {
      case 'tenants create': {
        if (!a) break;
        const t = await tenants.create({ id: a, name });
        const issued = await tenants.issueToken(t.id, { name: 'initial' });
        out({ tenant: t.id, scimBaseUrl: scimBaseUrl(t.id), token: issued.secret, note: 'The token is shown once.' });
        return 0;
      }
      case 'tenants list':
        out((await tenants.list({ limit: 1000 })).map((t) => ({ id: t.id, name: t.name, scimBaseUrl: scimBaseUrl(t.id) })));
        return 0;
      case 'tenants get': {
        if (!a) break;
        const t = await tenants.get(a);
        out({ ...t, scimBaseUrl: scimBaseUrl(t.id) });
        return 0;
      }
      case 'tenants delete':
        if (!a) break;
        await tenants.delete(a);
        out({ deleted: a });
        return 0;
      case 'tokens issue': {
        if (!a) break;
        const issued = await tenants.issueToken(a, { name });
        out({ id: issued.token.id, tenant: a, scimBaseUrl: scimBaseUrl(a), token: issued.secret, note: 'The token is shown once.' });
        return 0;
      }
      case 'tokens list':
        if (!a) break;
        out(await tenants.listTokens(a));
        return 0;
      case 'tokens revoke':
        if (!a || !b) break;
        await tenants.revokeToken(a, b);
        out({ revoked: b });
        return 0;
    }
    process.stderr.write(USAGE + '\n');
    return 2;
  } finally {
    await database.close();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ConfigError || err instanceof ScimError) process.stderr.write(`roster: ${err.message}\n`);
    else process.stderr.write(`roster: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);

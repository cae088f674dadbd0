/**
 * Writes openapi/openapi.json, the OpenAPI document generated from the
 * routes' schemas (src/http/openapi.ts). Run `npm run openapi` after changing
 * a route; test/openapi.test.ts fails while the committed file is stale.
 *
 * Generation is deterministic: default configuration (server URL
 * http://localhost:8080), no timestamps, keys in registration order.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/index.js';

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));

/** The document as the code generates it, serialised as committed. */
export async function renderOpenApi(): Promise<string> {
  // The document depends only on the routes. Building the app runs no query, and a pg pool connects
  // only on its first query, so this handle never contacts anything (and needs no database to exist).
  const database = await openDatabase({ databaseUrl: 'postgres://openapi@127.0.0.1:9/unused', poolMax: 1 });
  try {
    const { app } = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), database });
    try {
      await app.ready();
      return JSON.stringify(app.swagger(), null, 2) + '\n';
    } finally {
      await app.close();
    }
  } finally {
    await database.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(OPENAPI_FILE, await renderOpenApi());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}

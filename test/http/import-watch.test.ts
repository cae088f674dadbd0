/**
 * The watched directory of file imports (IMPORT_WATCH_DIR, README "Importing
 * files") on both backends: a file dropped in `<dir>/<tenant>/` becomes an
 * import, applied at once with `autoApply` or left for review, and is moved
 * to `imported/`; a file still being written is left alone; a file that is
 * not the tenant's format goes to `failed/` with the reason beside it.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

const MAPPING = { key: 'email', columns: { Email: 'emails', Name: 'name.givenName' } };
const past = new Date(Date.now() - 60_000);

async function drop(dir: string, tenant: string, name: string, text: string, settled = true): Promise<void> {
  await mkdir(join(dir, tenant), { recursive: true });
  await writeFile(join(dir, tenant, name), text);
  if (settled) await utimes(join(dir, tenant, name), past, past);
}

for (const backend of backends) {
  t.test(backend, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-watch-'));
    const a = await startApp(t, backend, { IMPORT_WATCH_DIR: dir, IMPORT_WATCH_INTERVAL_MS: '30000' });
    const watch = a.services.importWatch!;
    t.ok(watch, 'started with IMPORT_WATCH_DIR');
    t.equal((await a.admin('PUT', `/tenants/${a.tenant}/import-mapping`, { ...MAPPING, autoApply: true })).status, 200);
    await a.services.tenants.create({ id: 'review' });
    t.equal((await a.admin('PUT', '/tenants/review/import-mapping', MAPPING)).status, 200);

    await drop(dir, a.tenant, 'hr.csv', 'Email,Name\r\nada@acme.example,Ada\r\ngrace@acme.example,Grace\r\n');
    await drop(dir, a.tenant, 'partial.csv', 'Email,Name\r\nlin@acme.example,Lin\r\n', false);
    await drop(dir, 'review', 'hr.csv', 'Email,Name\nmo@review.example,Mo\n');
    await drop(dir, 'review', 'wrong.csv', 'Mail;Vorname\nx@y.example;X\n');

    // A poll now (the next periodic one is 30 s away): three files settled, one written just now.
    t.equal(await watch.runOnce(), 3);

    const acme = (await a.admin('GET', `/tenants/${a.tenant}/imports`)).body.imports;
    t.equal(acme.length, 1, 'one import for the settled file');
    t.match(acme[0], { state: 'applied', counts: { created: 2, applied: 2 }, createdBy: { type: 'system', name: 'import-watch' } }, 'autoApply: applied at once');
    const users = await a.scim('GET', '/Users');
    t.equal(users.body.totalResults, 2);
    t.same((await readdir(join(dir, a.tenant))).sort(), ['imported', 'partial.csv', 'processing'], 'a file still being written is left alone');
    t.match((await readdir(join(dir, a.tenant, 'imported')))[0], /-hr\.csv$/);

    const review = (await a.admin('GET', '/tenants/review/imports')).body.imports;
    t.equal(review.length, 1);
    t.match(review[0], { state: 'review', counts: { created: 1 } }, 'without autoApply: waits for review');
    const failed = await readdir(join(dir, 'review', 'failed'));
    t.equal(failed.length, 2);
    const reason = await readFile(join(dir, 'review', 'failed', failed.find((f) => f.endsWith('.error.txt'))!), 'utf8');
    t.match(reason, /The mapping's column "[^"]+" is not in the file's header/);

    // Settled now: taken by the next poll.
    await utimes(join(dir, a.tenant, 'partial.csv'), past, past);
    t.equal(await watch.runOnce(), 1);
    const second = (await a.admin('GET', `/tenants/${a.tenant}/imports`)).body.imports[0];
    t.match(second, { state: 'applied', counts: { created: 1, deactivated: 2 } }, 'a snapshot: the two missing from it deactivated');
    t.equal((await a.scim('GET', '/Users')).body.totalResults, 3);
  });
}

/**
 * File imports (README "Importing files") through the admin API on both
 * backends, with a real webhook receiver on loopback: HRIS exports generated
 * as the real ones come (BOM, `;`, CRLF, quoted separators, empty lines,
 * duplicate keys, a Latin-1 byte, unknown columns), the review's counts and
 * CSV downloads, the apply and its events, an apply interrupted and resumed,
 * an IdP's users left alone, and the safeguard holding a file that
 * deactivates too many.
 */
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import pino from 'pino';
import t from 'tap';
import { startDeliveryWorker } from '../../src/events/worker.js';
import { AUDIT_ACTIONS } from '../../src/http/admin/audit.js';
import { ENTERPRISE_USER_SCHEMA as ENT, USER_SCHEMA } from '../../src/scim/schema.js';
import { ADMIN_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { fastConfig, sleep, startReceiver, until, type Receiver } from '../events/helpers.js';

const silent = pino({ level: 'silent' });

const MAPPING = {
  key: 'externalId',
  columns: {
    'Employee ID': 'externalId',
    'Work Email': 'emails',
    'First Name': 'name.givenName',
    'Last Name': 'name.familyName',
    Department: `${ENT}:department`,
    'Cost Center': `${ENT}:costCenter`,
    Badge: `${ENT}:badgeColor`,
  },
  status: { column: 'Status', active: ['Active', 'On Leave'], inactive: ['Terminated'] },
};

const HEADER = ['Employee ID', 'First Name', 'Last Name', 'Work Email', 'Department', 'Cost Center', 'Status', 'Favourite Colour', 'Badge'];

type Cell = string | Buffer;

/** An HRIS export as the bytes a file has: `;`-separated with a BOM and CRLF (as Excel saves in Europe), or plain. */
function hris(rows: Cell[][], opts: { sep?: ',' | ';'; bom?: boolean; crlf?: boolean; blankAfter?: number[] } = {}): Buffer {
  const sep = opts.sep ?? ';';
  const nl = opts.crlf === false ? '\n' : '\r\n';
  const cell = (c: Cell) => (Buffer.isBuffer(c) ? c : Buffer.from(/[;,"\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c, 'utf8'));
  const parts: Buffer[] = opts.bom === false ? [] : [Buffer.from([0xef, 0xbb, 0xbf])];
  [HEADER, ...rows].forEach((r, i) => {
    r.forEach((c, j) => parts.push(...(j ? [Buffer.from(sep)] : []), cell(c)));
    parts.push(Buffer.from(nl));
    if (opts.blankAfter?.includes(i)) parts.push(Buffer.from(nl));
  });
  return Buffer.concat(parts);
}

const person = (id: string, first: string, dept = 'Engineering', status = 'Active'): Cell[] => [id, first, 'Doe', `${first.toLowerCase()}@hris.example`, dept, 'CC-1', status, 'blue', 'green'];

async function upload(a: TestApp, tenant: string, file: Buffer, query = '', type = 'text/csv') {
  const r = await a.app.inject({
    method: 'POST',
    url: `/admin/v1/tenants/${tenant}/imports${query}`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': type },
    payload: file,
  });
  return { status: r.statusCode, body: r.json() };
}

async function download(a: TestApp, tenant: string, id: string, outcome: string): Promise<Record<string, string>[]> {
  const r = await a.app.inject({ method: 'GET', url: `/admin/v1/tenants/${tenant}/imports/${id}/${outcome}.csv`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (r.statusCode !== 200) throw new Error(`${outcome}.csv: ${r.statusCode} ${r.body}`);
  t.match(r.headers['content-type'], /^text\/csv/);
  return parse(r.body, { columns: true }) as Record<string, string>[];
}

async function scimUsers(a: TestApp, tenant: string, token: string): Promise<any[]> {
  const r = await a.app.inject({ method: 'GET', url: `/scim/v2/${tenant}/Users?count=1000`, headers: { authorization: `Bearer ${token}` } });
  return r.json().Resources ?? [];
}

const told = (rx: Receiver, tenant: string) => rx.accepted.map((r) => r.json).filter((e) => e.data.tenant === tenant);
const byType = (rx: Receiver, tenant: string, type: string) => told(rx, tenant).filter((e) => e.type === type);

for (const backend of backends) {
  t.test(backend, async (t) => {
    const a = await startApp(t, backend, {}, { policyCacheMs: 0 });
    const rx = await startReceiver(t);
    const delivery = startDeliveryWorker({ db: a.database.db, logger: silent, config: fastConfig() });
    t.teardown(() => delivery.stop(0));

    const tenantWith = async (id: string, policy?: unknown) => {
      const token = (await a.admin('POST', '/tenants', { id })).body.token.token as string;
      t.equal((await a.admin('POST', `/tenants/${id}/webhooks`, { url: rx.url })).status, 201);
      if (policy) t.equal((await a.admin('PUT', `/tenants/${id}/policy`, policy)).status, 200);
      return token;
    };

    await t.test('mapping: saved, read back, checked against the schema', async (t) => {
      await tenantWith('globex');
      t.equal((await a.admin('GET', '/tenants/globex/import-mapping')).status, 404, 'none saved yet');
      const bad = await a.admin('PUT', '/tenants/globex/import-mapping', { ...MAPPING, columns: { ...MAPPING.columns, Shoe: 'shoeSize' } });
      t.equal(bad.status, 400);
      t.match(bad.body.detail, /columns\["Shoe"\]: "shoeSize" is not an attribute of a User/);
      const noKey = await a.admin('PUT', '/tenants/globex/import-mapping', { key: 'email', columns: { 'Employee ID': 'externalId' } });
      t.match(noKey.body.detail, /key is email, but no column is mapped to emails/);
      t.equal((await a.admin('PUT', '/tenants/globex/import-mapping', MAPPING)).status, 200);
      t.same((await a.admin('GET', '/tenants/globex/import-mapping')).body, MAPPING);
      const r = await upload(a, 'globex', Buffer.from('Name,Mail\nx,y\n'));
      t.equal(r.status, 400);
      t.match(r.body.detail, /The mapping's column "[^"]+" is not in the file's header \("Name", "Mail"\)/);
      t.equal((await upload(a, 'globex', Buffer.alloc(0))).status, 400, 'an empty file');
      const notJson = await upload(a, 'globex', Buffer.from('Email\nx@y.example\n'), '?mapping=%7Bnope');
      t.match(notJson, { status: 400, body: { detail: 'mapping is not JSON' } });
      const wrong = await upload(a, 'globex', Buffer.from('Email\nx@y.example\n'), `?mapping=${encodeURIComponent(JSON.stringify({ key: 'upn', columns: {} }))}`);
      t.match(wrong, { status: 400, body: { detail: /^Invalid mapping: mapping.key must be one of "externalId", "email"/ } });
      const json = await a.admin('POST', '/tenants/globex/imports', { not: 'csv' });
      t.equal(json.status, 415);
      const broken = await upload(a, 'globex', Buffer.from('Employee ID,Work Email,First Name,Last Name,Department,Cost Center,Badge,Status\n"E1,x\n'));
      t.equal(broken.status, 400);
      t.match(broken.body.detail, /The file is not valid CSV/);
      t.equal((await a.admin('GET', '/tenants/globex/imports')).body.imports.length, 0, 'a refused file leaves no import');
    });

    await t.test('a first export: validated row by row, reviewed, applied with events', async (t) => {
      const token = await tenantWith('hris');
      // A user the IdP created over SCIM, also in the HRIS export.
      const idp = await a.app.inject({
        method: 'POST',
        url: '/scim/v2/hris/Users',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        payload: JSON.stringify({ schemas: [USER_SCHEMA], userName: 'idp.user@hris.example', externalId: 'E-IDP', emails: [{ value: 'idp.user@hris.example', primary: true }] }),
      });
      t.equal(idp.statusCode, 201);
      const idpId = idp.json().id as string;
      t.equal((await a.admin('PUT', '/tenants/hris/import-mapping', MAPPING)).status, 200);

      const file = hris(
        [
          person('E1', 'Ada'),
          person('E2', 'Grace', 'Sales; EMEA, North'),
          ['E3', Buffer.from([0x4a, 0x6f, 0x73, 0xe9]), 'Doe', 'jose@hris.example', 'Ops', 'CC-2', 'Active', 'red', ''], // Latin-1 "José"
          person('E1', 'Adele'),
          ['E5', 'Bad', 'Email', 'not-an-email', 'Ops', 'CC-2', 'Active', '', ''],
          ['', 'No', 'Key', 'nokey@hris.example', 'Ops', 'CC-2', 'Active', '', ''],
          person('E7', 'Lin', 'Ops', 'Retired'),
          person('E8', 'Mo', 'Ops', 'On Leave'),
          ['E9', 'Short', 'Row'],
          person('E-IDP', 'Idp', 'Finance', 'Terminated'),
          person('E10', 'Old', 'Ops', 'Terminated'),
        ],
        { blankAfter: [2] },
      );
      const up = await upload(a, 'hris', file);
      t.equal(up.status, 201, JSON.stringify(up.body));
      const imp = up.body;
      t.equal(imp.state, 'review');
      t.equal(imp.rows, 11);
      t.same(imp.columns, HEADER, 'the BOM is not part of the first column');
      t.match(imp.counts, { created: 4, updated: 1, deactivated: 0, reactivated: 0, deleted: 0, unchanged: 0, rejected: 6, applied: 0 });
      t.match(imp.createdBy, { type: 'admin' });

      const rejected = await download(a, 'hris', imp.id, 'rejected');
      t.same(
        rejected.map((r) => [r.line, r.key, r.reason]),
        [
          ['5', 'E3', 'column "First Name" is not valid UTF-8 (save the file as UTF-8)'],
          ['6', 'E1', 'duplicate key "E1" (first on line 2)'],
          ['7', 'E5', 'column "Work Email": "not-an-email" is not an email address'],
          ['8', '', 'missing key: no externalId'],
          ['9', 'E7', 'column "Status": "Retired" is neither active (Active, On Leave) nor inactive (Terminated)'],
          ['11', '', 'has 3 fields, the header has 9'],
        ],
        'line numbers count the header and the empty line',
      );
      const created = await download(a, 'hris', imp.id, 'created');
      t.same(created.map((r) => r.key), ['E1', 'E2', 'E8', 'E10']);
      t.equal(created[1]!.Department, 'Sales; EMEA, North', 'a quoted field keeps its separators');
      t.equal(created[0]!['Favourite Colour'], 'blue', 'unknown columns come back as they were');
      const updated = await download(a, 'hris', imp.id, 'updated');
      t.same(updated.map((r) => [r.key, r.userId, r.changed]), [['E-IDP', idpId, `emails name ${ENT}:badgeColor ${ENT}:costCenter ${ENT}:department`]], 'the IdP user: updated, not deactivated');

      t.equal((await scimUsers(a, 'hris', token)).length, 1, 'nothing written before the apply');

      const applied = await a.admin('POST', `/tenants/hris/imports/${imp.id}/apply`);
      t.equal(applied.status, 200, JSON.stringify(applied.body));
      t.equal(applied.body.state, 'applied');
      t.match(applied.body.counts, { applied: 5, failed: 0 });
      t.ok(applied.body.appliedAt);
      await until(() => byType(rx, 'hris', 'user.created').length === 5, 15_000, () => 'creations delivered');
      const creations = byType(rx, 'hris', 'user.created').filter((e) => e.data.actor.name === 'import');
      t.equal(creations.length, 4, 'one user.created per created row');
      t.match(creations[0].data.actor, { type: 'system', name: 'import', id: imp.id });
      t.same(creations.map((e) => e.data.externalId).sort(), ['E1', 'E10', 'E2', 'E8']);
      t.equal(creations.find((e) => e.data.externalId === 'E10').data.resource.active, false, 'a terminated new hire is created inactive');
      await until(() => byType(rx, 'hris', 'user.updated').length >= 1, 15_000, () => 'update delivered');
      t.equal(byType(rx, 'hris', 'user.deactivated').length, 0, 'no deactivation: the IdP owns its user');

      const users = await scimUsers(a, 'hris', token);
      const grace = users.find((u) => u.externalId === 'E2');
      t.equal(grace[ENT].department, 'Sales; EMEA, North');
      t.equal(grace[ENT].badgeColor, 'green', 'a custom enterprise field');
      t.equal(users.find((u) => u.externalId === 'E10').active, false);

      const again = await a.admin('POST', `/tenants/hris/imports/${imp.id}/apply`);
      t.equal(again.status, 409, 'an applied import is not applied twice');

      // The next export: one moves, one leaves, one is missing, one joins; the IdP's user is missing too.
      const next = hris(
        [person('E1', 'Ada', 'Research'), person('E2', 'Grace', 'Sales; EMEA, North', 'Terminated'), person('E10', 'Old', 'Ops', 'Active'), person('E11', 'Nia')],
        { sep: ',', bom: false, crlf: false },
      );
      const up2 = await upload(a, 'hris', next);
      t.equal(up2.status, 201, JSON.stringify(up2.body));
      t.match(up2.body.counts, { created: 1, updated: 1, deactivated: 2, reactivated: 1, unchanged: 0, rejected: 0 });
      const moved = await download(a, 'hris', up2.body.id, 'updated');
      t.same(moved.map((r) => [r.key, r.changed]), [['E1', `${ENT}:department`]], 'the changed attribute paths');
      const gone = await download(a, 'hris', up2.body.id, 'deactivated');
      t.same(gone.map((r) => [r.key, r.reason, r.line]), [['E2', '', '3'], ['E8', 'missing from the file', '']], 'by status and by absence; never the IdP user');
      t.same((await download(a, 'hris', up2.body.id, 'reactivated')).map((r) => r.key), ['E10']);

      // Interrupted after 2 rows, as a crash would leave it; then resumed.
      const part = await a.admin('POST', `/tenants/hris/imports/${up2.body.id}/apply?maxRows=2`);
      t.equal(part.status, 200);
      t.equal(part.body.state, 'applying');
      t.equal(part.body.counts.applied, 2);
      const rest = await a.admin('POST', `/tenants/hris/imports/${up2.body.id}/apply`);
      t.equal(rest.body.state, 'applied');
      t.match(rest.body.counts, { applied: 5, failed: 0 });
      await until(() => byType(rx, 'hris', 'user.deactivated').length === 2, 15_000, () => 'deactivations delivered');
      await until(() => byType(rx, 'hris', 'user.reactivated').length + byType(rx, 'hris', 'user.updated').length >= 3, 15_000, () => 'updates delivered');
      await sleep(300);
      t.equal(byType(rx, 'hris', 'user.created').length, 6, 'E11 created once');
      t.same(byType(rx, 'hris', 'user.deactivated').map((e) => e.data.externalId).sort(), ['E2', 'E8']);
      const listed = await a.admin('GET', '/tenants/hris/imports');
      t.same(listed.body.imports.map((i: any) => i.id), [up2.body.id, imp.id], 'newest first');

      const audit = await a.admin('GET', '/tenants/hris/audit');
      const actions = audit.body.entries.map((e: any) => e.action);
      for (const action of ['import_mapping.updated', 'import.created', 'import.applied'] as const) {
        t.ok(AUDIT_ACTIONS.includes(action));
        t.ok(actions.includes(action), `${action} audited`);
      }
      t.match(audit.body.entries.find((e: any) => e.action === 'import.created').target, { type: 'import', id: up2.body.id });
    });

    await t.test('a crash after a write but before its mark: resumed, nothing lost or doubled', async (t) => {
      await tenantWith('crash');
      const mapping = encodeURIComponent(JSON.stringify({ ...MAPPING, key: 'email' }));
      const up = await upload(a, 'crash', hris([person('C1', 'Ann'), person('C2', 'Bob'), person('C3', 'Cy')]), `?mapping=${mapping}`, 'text/csv; charset=utf-8');
      t.equal(up.status, 201, JSON.stringify(up.body));
      t.match(up.body.counts, { created: 3 });
      t.equal((await a.admin('POST', `/tenants/crash/imports/${up.body.id}/apply?maxRows=2`)).body.state, 'applying');
      // The second user was written, but the process died before marking its row.
      await sql`update import_rows set applied = false where import_id = ${up.body.id} and key = 'bob@hris.example'`.execute(a.database.db);
      const done = await a.admin('POST', `/tenants/crash/imports/${up.body.id}/apply`);
      t.equal(done.body.state, 'applied');
      t.match(done.body.counts, { created: 3, applied: 3, failed: 0 });
      await until(() => byType(rx, 'crash', 'user.created').length === 3, 15_000, () => 'three creations');
      await sleep(300);
      t.equal(byType(rx, 'crash', 'user.created').length, 3, 'no creation doubled');
      const created = await download(a, 'crash', up.body.id, 'created');
      t.equal(new Set(created.map((r) => r.userId)).size, 3, 'every row knows its user');
    });

    await t.test('two sources: the file writes only what it owns; ownsMissing and missing "delete" take every user', async (t) => {
      const token = await tenantWith('owners');
      const idp = await a.app.inject({
        method: 'POST',
        url: '/scim/v2/owners/Users',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        payload: JSON.stringify({ schemas: [USER_SCHEMA], userName: 'i1@x.example', externalId: 'I1', title: 'IdP title', [ENT]: { department: 'IdP Dept' } }),
      });
      const idpId = idp.json().id as string;
      const mapping = { key: 'externalId', columns: { ID: 'externalId', Email: 'emails', Dept: `${ENT}:department`, Title: 'title' }, owns: [`${ENT}:department`], missing: 'delete', ownsMissing: true };
      t.equal((await a.admin('PUT', '/tenants/owners/import-mapping', mapping)).status, 200);
      const first = await upload(a, 'owners', Buffer.from('ID,Email,Dept,Title\nI1,i1@x.example,HR Dept,File title\nF1,f1@x.example,Ops,Eng\n'));
      t.match(first.body.counts, { created: 1, updated: 1, deleted: 0 });
      t.same((await download(a, 'owners', first.body.id, 'updated')).map((r) => [r.key, r.changed]), [['I1', `${ENT}:department`]], 'only the owned attribute');
      t.equal((await a.admin('POST', `/tenants/owners/imports/${first.body.id}/apply`)).body.state, 'applied');
      const got = await a.app.inject({ method: 'GET', url: `/scim/v2/owners/Users/${idpId}`, headers: { authorization: `Bearer ${token}` } });
      t.match(got.json(), { title: 'IdP title', [ENT]: { department: 'HR Dept' } }, "the IdP's title stays");

      const second = await upload(a, 'owners', Buffer.from('ID,Email,Dept,Title\nF1,f1@x.example,Ops,Eng\n'));
      t.match(second.body.counts, { deleted: 1, unchanged: 1 });
      t.same((await download(a, 'owners', second.body.id, 'deleted')).map((r) => [r.key, r.userId]), [['I1', idpId]]);
      t.equal((await a.admin('POST', `/tenants/owners/imports/${second.body.id}/apply`)).body.counts.applied, 1);
      await until(() => byType(rx, 'owners', 'user.deleted').length === 1, 15_000, () => 'deletion delivered');
      t.equal((await a.app.inject({ method: 'GET', url: `/scim/v2/owners/Users/${idpId}`, headers: { authorization: `Bearer ${token}` } })).statusCode, 404);
    });

    await t.test('the safeguard holds a file that deactivates too many', async (t) => {
      await tenantWith('mass', { safeguard: { maxCount: 3, maxPercent: null } });
      const all = Array.from({ length: 10 }, (_, i) => person(`M${i}`, `Member${i}`));
      t.equal((await a.admin('PUT', '/tenants/mass/import-mapping', MAPPING)).status, 200);
      const first = await upload(a, 'mass', hris(all));
      t.equal((await a.admin('POST', `/tenants/mass/imports/${first.body.id}/apply`)).body.state, 'applied');
      await until(() => byType(rx, 'mass', 'user.created').length === 10, 15_000, () => 'ten creations');

      const second = await upload(a, 'mass', hris(all.slice(0, 2)));
      t.match(second.body.counts, { deactivated: 8, unchanged: 2 });
      const applied = await a.admin('POST', `/tenants/mass/imports/${second.body.id}/apply`);
      t.equal(applied.body.state, 'applied');
      t.equal(applied.body.counts.applied, 8, 'Roster stores what the file says');
      await until(() => byType(rx, 'mass', 'tenant.safeguard_triggered').length === 1, 15_000, () => 'tenant.safeguard_triggered');
      await sleep(300);
      t.equal(byType(rx, 'mass', 'user.deactivated').length, 3, 'the host is told up to the threshold; the rest is held');
      const holds = await a.admin('GET', '/tenants/mass/holds?state=open');
      t.equal(holds.body.holds.length, 1);
      t.equal(holds.body.holds[0].items, 5);
    });
  });
}

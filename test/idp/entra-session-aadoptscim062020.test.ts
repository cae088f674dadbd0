/**
 * The Entra ID run of entra-session.test.ts with `?aadOptscim062020` in the
 * Tenant URL (test/fixtures/entra/session-initial-cycle-aadoptscim062020.json):
 * the flag is in the query string of every request, and PATCH uses the
 * SCIM-compliant forms Microsoft documents for it (lower-case ops, JSON
 * booleans, no-path replace with dotted and URN keys, member removal by
 * `members[value eq "…"]`). Same final state, checked exactly, on a default
 * tenant and with patchResponse "resource" and "noContent".
 */
import t from 'tap';
import { startApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { readFixture, runSession, type Session } from '../helpers/idp.js';

const session = readFixture<Session>('entra/session-initial-cycle-aadoptscim062020.json');

for (const backend of backends) {
  t.test(backend, async (t) => {
    // One app per backend; each replay runs on a tenant of its own.
    const a = await startApp(t, backend);
    await t.test('default tenant', (t) => runSession(t, a, session));
    await t.test('patchResponse resource', (t) => runSession(t, a, session, { patchResponse: 'resource' }));
    await t.test('patchResponse noContent', (t) => runSession(t, a, session, { patchResponse: 'noContent' }));
  });
}

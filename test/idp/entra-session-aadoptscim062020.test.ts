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
import { backends } from '../helpers/db.js';
import { replayOnEachPatchResponse } from '../helpers/idp.js';

replayOnEachPatchResponse(t, backends, 'entra/session-initial-cycle-aadoptscim062020.json');

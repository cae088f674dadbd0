/**
 * Every request Okta documents its SCIM 2.0 connector as sending
 * (test/fixtures/okta/*.json: the "SCIM 2.0 Protocol Reference" and Okta's
 * SCIM 2.0 SPEC Test), recorded verbatim and sent to Roster end to end; see
 * documentedRequests in test/helpers/idp.ts for the variants.
 */
import t from 'tap';
import { backends } from '../helpers/db.js';
import { documentedRequests } from '../helpers/idp.js';

documentedRequests(t, 'okta', backends);

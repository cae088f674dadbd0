/**
 * Every request Microsoft documents Entra ID's provisioning service as
 * sending (test/fixtures/entra/*.json: the tutorial "Develop and plan
 * provisioning for a SCIM endpoint" and "Known issues and resolutions with
 * SCIM 2.0 protocol compliance", with and without aadOptscim062020),
 * recorded verbatim and sent to Roster end to end; see documentedRequests
 * in test/helpers/idp.ts for the variants each one also runs in.
 */
import t from 'tap';
import { backends } from '../helpers/db.js';
import { documentedRequests } from '../helpers/idp.js';

documentedRequests(t, 'entra', backends);

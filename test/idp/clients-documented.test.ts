/**
 * Requests that real clients other than the IdPs' connectors send — test
 * suites (python-scim's scim2-tester), scripts (Node's fetch, curl) and IdP
 * pushes reported against other SCIM servers — recorded in
 * test/fixtures/clients/*.json with their source, replayed end to end on a
 * lenient tenant and, where they give `strict`, on a strict one (README.md,
 * "Lenient tenants"); see documentedRequests in test/helpers/idp.ts.
 */
import t from 'tap';
import { backends } from '../helpers/db.js';
import { documentedRequests } from '../helpers/idp.js';

documentedRequests(t, 'clients', backends);

/**
 * The ordered list of migrations. Static imports (not a directory scan) so the
 * same list works from TypeScript sources and from the compiled dist/.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001_init.js';
import * as m0002 from './0002_events.js';
import * as m0003 from './0003_server_secrets.js';
import * as m0004 from './0004_index_resume_points.js';
import * as m0005 from './0005_visibility.js';
import * as m0006 from './0006_policies.js';
import * as m0007 from './0007_go_live.js';
import * as m0009 from './0009_webhook_queues_by_endpoint.js';
import * as m0010 from './0010_credentials.js';
import * as m0011 from './0011_imports.js';
import * as m0012 from './0012_setup_links.js';
import * as m0013 from './0013_user_counts.js';
import * as m0014 from './0014_group_member_counts.js';
import * as m0015 from './0015_member_display.js';

export const migrations: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_events': m0002,
  '0003_server_secrets': m0003,
  '0004_index_resume_points': m0004,
  '0005_visibility': m0005,
  '0006_policies': m0006,
  '0007_go_live': m0007,
  '0009_webhook_queues_by_endpoint': m0009,
  '0010_credentials': m0010,
  '0011_imports': m0011,
  '0012_setup_links': m0012,
  '0013_user_counts': m0013,
  '0014_group_member_counts': m0014,
  '0015_member_display': m0015,
};

/**
 * Kysely table types. Internal to src/db: repositories map rows to the
 * domain shapes in src/db/models.ts before returning them.
 */
import type { ColumnType, Generated } from 'kysely';
import type { CredentialsDatabase } from './credentials-types.js';
import type { EventsDatabase } from './events-types.js';
import type { VisibilityDatabase } from './visibility-types.js';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json = ColumnType<Record<string, unknown>, string, string>;

export interface TenantsTable {
  id: string;
  name: string;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  mode: ColumnType<'live' | 'dryRun', 'live' | 'dryRun' | undefined, 'live' | 'dryRun'>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  connected_at: ColumnType<Date | null, never, Date | string>;
}

export interface TokensTable {
  id: string;
  tenant_id: string;
  name: string;
  token_hash: string;
  token_prefix: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  /** null: every scope (tokens from before scopes existed). */
  scopes: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
}

export interface UsersTable {
  tenant_id: string;
  id: string;
  user_name: string;
  external_id: string | null;
  active: boolean | null;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  email_values: string[];
  resource: Json;
  host_state: ColumnType<'absent' | 'active' | 'inactive', 'absent' | 'active' | 'inactive' | undefined, 'absent' | 'active' | 'inactive'>;
  inactive_since: Timestamp | null;
  host_user_id: ColumnType<string | null, string | null | undefined, string | null>;
  matched_by: ColumnType<'externalId' | 'email' | null, 'externalId' | 'email' | null | undefined, 'externalId' | 'email' | null>;
  held_by: ColumnType<string | null, string | null | undefined, string | null>;
  hold_rejected: ColumnType<boolean, boolean | undefined, boolean>;
  version: Generated<number>;
  created: Timestamp;
  last_modified: Timestamp;
}

export interface GroupsTable {
  tenant_id: string;
  id: string;
  display_name: string;
  external_id: string | null;
  resource: Json;
  version: Generated<number>;
  created: Timestamp;
  last_modified: Timestamp;
}

export interface GroupMembersTable {
  tenant_id: string;
  group_id: string;
  member_id: string;
  member_type: 'User' | 'Group';
  added_at: ColumnType<Date, Date | string | undefined, never>;
  /** The member's name, kept by triggers (migrations/0015_member_display.ts). */
  display: ColumnType<string | null, never, never>;
}

export interface Database extends EventsDatabase, VisibilityDatabase, CredentialsDatabase {
  tenants: TenantsTable;
  tokens: TokensTable;
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
}

/** Kysely table types of migration 0010_credentials (internal to src/db). */
import type { ColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Created = ColumnType<Date, Date | string | undefined, never>;

export interface AdminKeysTable {
  id: string;
  name: string;
  key_hash: string;
  key_prefix: string;
  scopes: string[];
  tenant_id: string | null;
  created_at: Created;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface OAuthClientsTable {
  id: string;
  tenant_id: string;
  client_id: string;
  name: string;
  secret_hash: string;
  scopes: string[];
  created_at: Created;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface OAuthSigningKeysTable {
  kid: string;
  alg: string;
  /** The private JWK as JSON, sealed (src/db/sealing.ts). */
  private_jwk: string;
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  created_at: Created;
  retired_at: Timestamp | null;
}

export interface TrustedIssuersTable {
  id: string;
  tenant_id: string;
  name: string;
  issuer: string;
  audience: string;
  jwks_url: string;
  algorithms: string[];
  tenant_claim: string | null;
  scopes: string[];
  created_at: Created;
}

export interface CredentialsDatabase {
  admin_keys: AdminKeysTable;
  oauth_clients: OAuthClientsTable;
  oauth_signing_keys: OAuthSigningKeysTable;
  trusted_issuers: TrustedIssuersTable;
}

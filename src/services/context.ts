import type { TenantRecord, TenantSettings } from './tenants.js';

/** Who is calling and where: built once per SCIM request by the auth hook. */
export interface ScimContext {
  tenant: TenantRecord;
  settings: TenantSettings;
  /** The tenant's SCIM base URL, e.g. https://roster.example.com/scim/v2/acme */
  baseUrl: string;
}

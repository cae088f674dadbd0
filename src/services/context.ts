import type { TenantRecord, TenantSettings, TokenRecord } from './tenants.js';

/** Who made a request or caused a change: the credential, by id and name (never its secret). */
export interface Actor {
  type: 'scimToken';
  id: string;
  name: string;
}

/** Who is calling and where: built once per SCIM request by the auth hook. */
export interface ScimContext {
  tenant: TenantRecord;
  settings: TenantSettings;
  /** settings.compatibility === 'lenient': accept what real clients send (README "Lenient tenants"). */
  lenient: boolean;
  /** The tenant's SCIM base URL, e.g. https://roster.example.com/scim/v2/acme */
  baseUrl: string;
  actor: Actor;
  /**
   * What lenient handling skipped or corrected in this request (e.g. group
   * members that do not exist), in words an administrator can read; logged
   * with the request so that a partial apply is never silent.
   */
  notes: string[];
}

export function scimContext(tenant: TenantRecord, token: TokenRecord, settings: TenantSettings, baseUrl: string): ScimContext {
  return {
    tenant,
    settings,
    lenient: settings.compatibility === 'lenient',
    baseUrl,
    actor: { type: 'scimToken', id: token.id, name: token.name },
    notes: [],
  };
}

/** Record what lenient handling skipped or corrected (once per distinct text: a retried transaction notes again). */
export function note(ctx: ScimContext, text: string): void {
  if (!ctx.notes.includes(text)) ctx.notes.push(text);
}

import type { Actor } from './actor.js';
import type { TenantRecord, TenantSettings } from './tenants.js';

export type { Actor } from './actor.js';

/** Who is calling and where: built once per SCIM request by the auth hook. */
export interface ScimContext {
  tenant: TenantRecord;
  settings: TenantSettings;
  /** settings.compatibility === 'lenient': accept what real clients send (README "Lenient tenants"). */
  lenient: boolean;
  /** The tenant's SCIM base URL, e.g. https://roster.example.com/scim/v2/acme */
  baseUrl: string;
  /** Who causes the changes: the request's SCIM token, or a policy or job acting on its own. */
  actor: Actor;
  /**
   * What lenient handling skipped or corrected in this request (e.g. group
   * members that do not exist), in words an administrator can read; kept in
   * the request log (and logged) so that a partial apply is never silent.
   */
  notes: string[];
  /** The request's id (X-Request-Id) when a SCIM request carries the work, as the provisioning log has it. */
  requestId?: string;
  /** Ids of the resources this request changed (changeOf adds them), for the request log. */
  touched: Set<string>;
}

/**
 * The context of a request (actor: its credential, src/http/auth.ts) or of
 * work that no SCIM request carries (a provisioning policy, a scheduled
 * job): the services record `actor` on every event they write.
 */
export function actingContext(tenant: TenantRecord, settings: TenantSettings, baseUrl: string, actor: Actor): ScimContext {
  return { tenant, settings, lenient: settings.compatibility === 'lenient', baseUrl, actor, notes: [], touched: new Set() };
}

/** Record what lenient handling skipped or corrected (once per distinct text: a retried transaction notes again). */
export function note(ctx: ScimContext, text: string): void {
  if (!ctx.notes.includes(text)) ctx.notes.push(text);
}

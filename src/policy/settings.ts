/**
 * Tenant settings, declared once: this TypeBox schema is the type, the admin
 * API's validation and its OpenAPI document.
 *
 * Settings are stored as the tenant gave them (only the keys it set) and
 * merged with the defaults when read, so a changed default applies to every
 * tenant that never set the key.
 */
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { badRequest } from '../scim/errors.js';
import { problems } from './validate.js';

export const TenantSettingsSchema = Type.Object(
  {
    compatibility: Type.Union([Type.Literal('lenient'), Type.Literal('strict')], {
      default: 'lenient',
      description:
        'lenient (default) accepts the non-RFC forms real identity providers send (README "Compatibility with identity providers"); strict answers them with RFC 7644 errors',
    }),
    patchResponse: Type.Union([Type.Literal('auto'), Type.Literal('resource'), Type.Literal('noContent')], {
      default: 'auto',
      description: 'A successful PATCH answers 200 with the resource (resource), 204 No Content (noContent), or by resource type: Users 200, Groups 204 (auto, the default)',
    }),
    requestLog: Type.Object(
      {
        bodies: Type.Boolean({
          default: false,
          description: 'Keep the request and response bodies of SCIM requests in the provisioning log, with passwords and secrets removed (README "Provisioning log"); off by default',
        }),
      },
      { additionalProperties: false, default: { bodies: false }, description: 'The provisioning log of this tenant' },
    ),
  },
  { additionalProperties: false, description: 'Per-tenant behaviour; keys left out keep their defaults' },
);

export type TenantSettings = Static<typeof TenantSettingsSchema>;
export type PatchResponse = TenantSettings['patchResponse'];

/** What a request may send: any subset of the settings. */
export const TenantSettingsInput = Type.Partial(TenantSettingsSchema, { additionalProperties: false, description: 'Settings to change; keys left out keep their value' });

export const defaultSettings: TenantSettings = Object.freeze(Value.Default(TenantSettingsSchema, {}) as TenantSettings);

/** A settings change as sent (undefined: none), validated; a 400 invalidValue names every problem. */
export function parseSettings(input: unknown): Partial<TenantSettings> {
  if (input === undefined) return {};
  const found = problems(TenantSettingsInput, input, 'settings');
  if (found.length) throw badRequest('invalidValue', `Invalid settings: ${found.join('; ')}`);
  return input as Partial<TenantSettings>;
}

/** The effective settings of stored ones: the defaults, overridden by what the tenant set. */
export function effectiveSettings(stored: Record<string, unknown>): TenantSettings {
  return Object.freeze({ ...defaultSettings, ...(stored as Partial<TenantSettings>) });
}

/**
 * Whether a successful PATCH of a User or Group answers 204 No Content
 * (rather than 200 with the resource) by the tenant's `patchResponse`, when
 * the request itself does not decide (see patchNoContent in
 * src/http/scim/listing.ts for `attributes` and `Prefer`). The one place for
 * this rule: single requests and /Bulk operations both ask here.
 *
 * - `resource`: 200 with the resource, for Users and Groups;
 * - `noContent`: 204, for Users and Groups;
 * - `auto` (the default): Users 200 with the resource, Groups 204. Microsoft
 *   Entra ID's own tutorial answers group PATCHes with 204
 *   (test/fixtures/entra/tutorial-update-group-*.json) and user PATCHes with
 *   200; Okta's SCIM 2.0 reference says "The SCIM server response to PATCH
 *   method requests can also be a HTTP 204 response, with no body returned".
 *   Neither reads the body of a group PATCH response, and 204 keeps a
 *   one-member change from sending back the group with up to 10,000 members.
 */
export function patchAnswersNoContent(settings: TenantSettings, resourceType: 'User' | 'Group'): boolean {
  switch (settings.patchResponse) {
    case 'resource':
      return false;
    case 'noContent':
      return true;
    case 'auto':
      return resourceType === 'Group';
  }
}

/**
 * A tenant's mode (README.md, "Going live safely"): `live`, or `dryRun`, in
 * which SCIM works as live and Roster stores everything but the host is told
 * nothing until POST …/go-live delivers the resulting state.
 */
export const TenantModeSchema = Type.Union([Type.Literal('live'), Type.Literal('dryRun')], {
  default: 'live',
  description: 'live, or dryRun: SCIM works as live but nothing is delivered to the host until go-live',
});
export type TenantMode = Static<typeof TenantModeSchema>;

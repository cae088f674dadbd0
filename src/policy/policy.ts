/**
 * The provisioning policy of a tenant (README.md, "Provisioning policies"),
 * declared once: this TypeBox schema is the type, the admin API's
 * validation, the OpenAPI document and what the console edits.
 *
 * The policy decides what the host platform is told, never what the IdP
 * sees: Roster stores and serves over SCIM whatever the IdP writes, and the
 * policy turns those changes (and the passing of time) into the events the
 * host receives (src/policy/host-state.ts).
 */
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { badRequest } from '../scim/errors.js';
import { problems } from './validate.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T, description: string) =>
  Type.Union([Type.Null(), t], { default: null, description });

/** `30m`, `1h`, `24h`, `7d`: a sliding window. */
export const DURATION_PATTERN = '^[1-9][0-9]{0,4}(m|h|d)$';

export const TRANSFORMS = ['trim', 'lower', 'upper', 'date'] as const;

const MappedField = Type.Union(
  [
    Type.String({ minLength: 1, description: 'A SCIM attribute path: `title`, `emails`, `emails[type eq "work"].value`, `urn:…:enterprise:2.0:User:department`, `manager.value`' }),
    Type.Object(
      {
        path: Type.String({ minLength: 1 }),
        transform: Type.Optional(Type.Array(Type.Union(TRANSFORMS.map((t) => Type.Literal(t))), { maxItems: 4, description: 'Applied in order: trim, lower, upper, date (to YYYY-MM-DD)' })),
        required: Type.Optional(Type.Boolean({ description: 'Report users for whom the path yields nothing (default true)' })),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'Where the host field comes from' },
);

export const PolicySchema = Type.Object(
  {
    lifecycle: Type.Object(
      {
        onDelete: Type.Union([Type.Literal('delete'), Type.Literal('deactivate')], {
          default: 'delete',
          description: 'What a SCIM DELETE of a user means for the host: user.deleted (delete), or user.deactivated and the user kept (deactivate)',
        }),
        onDeactivate: Type.Union([Type.Literal('deactivate'), Type.Literal('delete')], {
          default: 'deactivate',
          description: 'What active=false (and leaving the audience, and a passed end date) means for the host: user.deactivated (deactivate) or user.deleted (delete)',
        }),
        purgeAfterDays: Nullable(Type.Integer({ minimum: 0, maximum: 3650 }), 'With onDelete "deactivate": send user.deleted this many days after the SCIM DELETE; null keeps the host\'s user deactivated'),
        deleteInactiveAfterDays: Nullable(Type.Integer({ minimum: 1, maximum: 3650 }), 'Users inactive this long are deleted for the host (user.deleted); null never'),
        startDate: Nullable(Type.String({ minLength: 1 }), 'Attribute path of a start date (e.g. a custom enterprise field): a user whose start date is in the future is held back until that day'),
        endDate: Nullable(Type.String({ minLength: 1 }), 'Attribute path of an end date: once it has passed, the user is deactivated or deleted per onDeactivate'),
      },
      { additionalProperties: false, default: {} },
    ),
    audience: Type.Object(
      {
        include: Nullable(Type.String({ minLength: 1, maxLength: 4096 }), 'SCIM filter: only users it matches are sent to the host; null: everyone'),
        exclude: Nullable(Type.String({ minLength: 1, maxLength: 4096 }), 'SCIM filter: users it matches are not sent to the host'),
        groups: Type.Union([Type.Literal('all'), Type.Literal('none'), Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000 })], {
          default: 'all',
          description: 'Which groups the host is told about: all, none, or those listed (by id, externalId or displayName)',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    mapping: Type.Object(
      {
        fields: Type.Record(Type.String(), MappedField, {
          default: {},
          propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,63}$', description: 'A host field name: letters, digits, _ . -, starting with a letter or _' },
          maxProperties: 200,
          description: "The host's field names and where each comes from; events carry them as data.profile",
        }),
        personalEmails: Type.Boolean({ default: false, description: 'Whether a field mapped to `emails` may take a home address when there is no other' }),
      },
      { additionalProperties: false, default: {} },
    ),
    licenseCap: Nullable(Type.Integer({ minimum: 0 }), 'Most active users in the audience; creations and reactivations beyond it are refused with 403'),
    safeguard: Type.Object(
      {
        maxCount: Type.Union([Type.Null(), Type.Integer({ minimum: 1 })], { default: 100, description: 'Deactivations and deletions within the window beyond this many are held; null: no count limit' }),
        maxPercent: Type.Union([Type.Null(), Type.Number({ minimum: 1, maximum: 100 })], { default: 20, description: 'Or beyond this share of the active users in the audience; null: no share limit' }),
        minCount: Type.Integer({ minimum: 1, default: 10, description: 'The share counts only from this many deactivations and deletions on (so that a small tenant is not held for one or two)' }),
        window: Type.String({ pattern: DURATION_PATTERN, default: '1h', description: 'Sliding window: 30m, 1h, 24h, 7d' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, description: 'A tenant\'s provisioning policy; sections and keys left out take their defaults' },
);

export type Policy = Static<typeof PolicySchema>;
export type Lifecycle = Policy['lifecycle'];
export type Audience = Policy['audience'];
export type Mapping = Policy['mapping'];

/** The policy of a tenant that never set one: the host is told everything, as it happens. */
export const DEFAULT_POLICY: Policy = Object.freeze(withDefaults({})) as Policy;

/** A document with every default filled in (no validation). */
export function withDefaults(doc: unknown): Policy {
  return Value.Default(PolicySchema, structuredClone(doc ?? {})) as Policy;
}

/**
 * Validate a policy document as sent; a 400 invalidValue names every
 * problem: the schema's, then `semantic(policy)`'s (filters that do not
 * parse, paths that name no attribute). Returns it with defaults filled in.
 */
export function parsePolicy(doc: unknown, semantic: (p: Policy) => string[]): Policy {
  const found = problems(PolicySchema, withDefaults(doc), 'policy');
  if (found.length === 0) found.push(...semantic(withDefaults(doc)));
  if (found.length) throw badRequest('invalidValue', `Invalid policy: ${found.join('; ')}`);
  return withDefaults(doc);
}

/** `1h` → 3,600,000. */
export function durationMs(text: string): number {
  const m = /^(\d+)(m|h|d)$/.exec(text)!;
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}

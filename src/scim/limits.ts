/**
 * Input limits, declared once (README.md, "Reliability", "Input limits").
 * Each keeps the work one request can cause bounded: the body size limit
 * (MAX_BODY_BYTES) bounds the bytes, these bound what the bytes may ask for.
 * Over a limit the request is refused with a 4xx naming the limit, and
 * nothing is stored.
 */

/** Custom fields under the enterprise extension URN per user. */
export const MAX_CUSTOM_FIELDS = 200;

/** Characters in a custom field's name. */
export const MAX_CUSTOM_FIELD_NAME_LENGTH = 128;

/** Values of one multi-valued attribute stored in the resource (emails, phoneNumbers, roles, …; not group members, which are rows). */
export const MAX_VALUES_PER_ATTRIBUTE = 1000;

/** Operations in one PATCH request (RFC 7644 §3.5.2 sets none; Entra ID and Okta send a handful). */
export const MAX_PATCH_OPERATIONS = 100;

/**
 * Characters of the string attributes Postgres indexes (userName, externalId,
 * displayName, emails[].value): a btree index entry holds at most 2,704 bytes
 * and a character takes up to 4 bytes in UTF-8, so 512 characters always fit,
 * and no real userName, email address (RFC 5321: 254) or name comes close.
 */
export const MAX_INDEXED_LENGTH = 512;

/** The attributes MAX_INDEXED_LENGTH applies to, per resource type (see migrations/0001_init.ts). */
export const INDEXED_ATTRIBUTES: Record<'User' | 'Group', readonly string[]> = {
  User: ['userName', 'externalId', 'displayName', 'emails.value'],
  Group: ['displayName', 'externalId'],
};

/** The largest startIndex read as given; larger ones read as this (an empty page: no tenant holds two billion resources). */
export const MAX_START_INDEX = 2_000_000_000;

/** Nesting of a JSON body (a Bulk operation's data is about six levels deep). */
export const MAX_JSON_DEPTH = 32;

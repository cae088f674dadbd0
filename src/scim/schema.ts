/**
 * SCIM schemas as data (RFC 7643 §2.2, §7). The same definitions drive input
 * validation, filter validation, PATCH, projection and the /Schemas endpoint,
 * so what Roster advertises is exactly what it enforces.
 */
export type AttributeType =
  | 'string'
  | 'boolean'
  | 'decimal'
  | 'integer'
  | 'dateTime'
  | 'reference'
  | 'complex'
  | 'binary';
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type Returned = 'always' | 'never' | 'default' | 'request';
export type Uniqueness = 'none' | 'server' | 'global';

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: Returned;
  uniqueness: Uniqueness;
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDef[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDef[];
}

export interface ResourceTypeDef {
  /** Resource type name, also the value of meta.resourceType. */
  name: 'User' | 'Group';
  endpoint: '/Users' | '/Groups';
  description: string;
  schema: string;
  schemaExtensions: { schema: string; required: boolean }[];
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
export const BULK_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
export const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

type Opts = Partial<Omit<AttributeDef, 'name' | 'type'>>;

function attr(name: string, type: AttributeType, opts: Opts = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description: '',
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...opts,
  };
}
const str = (name: string, opts: Opts = {}) => attr(name, 'string', opts);
const bool = (name: string, opts: Opts = {}) => attr(name, 'boolean', opts);
const ref = (name: string, referenceTypes: string[], opts: Opts = {}) =>
  attr(name, 'reference', { referenceTypes, caseExact: true, ...opts });
const complex = (name: string, subAttributes: AttributeDef[], opts: Opts = {}) =>
  attr(name, 'complex', { subAttributes, ...opts });

/** The value/display/type/primary shape shared by emails, phoneNumbers, ims, photos, … (RFC 7643 §2.4). */
function multi(name: string, description: string, types: string[], value: AttributeDef = str('value')): AttributeDef {
  return complex(
    name,
    [
      { ...value, description: `${description} value.` },
      str('display', { description: 'A human-readable name, primarily used for display purposes.' }),
      str('type', { description: 'A label indicating the attribute\'s function.', canonicalValues: types }),
      bool('primary', { description: 'Indicates the primary value. At most one value may be primary.' }),
    ],
    { multiValued: true, description },
  );
}

/** RFC 7643 §4.1 and §8.7.1 */
export const userSchema: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', {
      required: true,
      uniqueness: 'server',
      description: 'Unique identifier for the User, typically used by the user to directly authenticate. Compared case-insensitively.',
    }),
    complex(
      'name',
      [
        str('formatted', { description: 'The full name, formatted for display.' }),
        str('familyName', { description: 'The family name of the User.' }),
        str('givenName', { description: 'The given name of the User.' }),
        str('middleName', { description: 'The middle name(s) of the User.' }),
        str('honorificPrefix', { description: 'The honorific prefix(es) of the User.' }),
        str('honorificSuffix', { description: 'The honorific suffix(es) of the User.' }),
      ],
      { description: 'The components of the user\'s real name.' },
    ),
    str('displayName', { description: 'The name of the User, suitable for display to end-users.' }),
    str('nickName', { description: 'The casual way to address the user.' }),
    ref('profileUrl', ['external'], { description: 'A fully qualified URL pointing to a page representing the User\'s online profile.' }),
    str('title', { description: 'The user\'s title, such as "Vice President".' }),
    str('userType', { description: 'Used to identify the relationship between the organization and the user.' }),
    str('preferredLanguage', { description: 'Preferred written or spoken language, e.g. "en-US".' }),
    str('locale', { description: 'Default location for localizing, e.g. "en-US".' }),
    str('timezone', { description: 'Time zone in IANA format, e.g. "America/Los_Angeles".' }),
    bool('active', { description: 'A Boolean value indicating the User\'s administrative status.' }),
    str('password', {
      mutability: 'writeOnly',
      returned: 'never',
      description: 'The User\'s cleartext password. Accepted, never stored in clear and never returned.',
    }),
    multi('emails', 'Email addresses for the user.', ['work', 'home', 'other']),
    multi('phoneNumbers', 'Phone numbers for the User.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multi('ims', 'Instant messaging addresses for the User.', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    multi('photos', 'URLs of photos of the User.', ['photo', 'thumbnail'], ref('value', ['external'])),
    complex(
      'addresses',
      [
        str('formatted', { description: 'The full mailing address, formatted for display.' }),
        str('streetAddress', { description: 'The full street address component.' }),
        str('locality', { description: 'The city or locality component.' }),
        str('region', { description: 'The state or region component.' }),
        str('postalCode', { description: 'The zip code or postal code component.' }),
        str('country', { description: 'The country name component (ISO 3166-1 alpha-2).' }),
        str('type', { description: 'A label indicating the attribute\'s function.', canonicalValues: ['work', 'home', 'other'] }),
        bool('primary', { description: 'Indicates the primary address.' }),
      ],
      { multiValued: true, description: 'A physical mailing address for this User.' },
    ),
    complex(
      'groups',
      [
        str('value', { mutability: 'readOnly', description: 'The identifier of the User\'s group.' }),
        ref('$ref', ['User', 'Group'], { mutability: 'readOnly', description: 'The URI of the corresponding Group resource.' }),
        str('display', { mutability: 'readOnly', description: 'A human-readable name, primarily used for display purposes.' }),
        str('type', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'], description: 'Membership type.' }),
      ],
      { multiValued: true, mutability: 'readOnly', description: 'Groups to which the user belongs, derived from Group memberships.' },
    ),
    multi('entitlements', 'A list of entitlements for the User.', []),
    multi('roles', 'A list of roles for the User.', []),
    complex(
      'x509Certificates',
      [
        attr('value', 'binary', { caseExact: true, description: 'The value of an X.509 certificate.' }),
        str('display', { description: 'A human-readable name.' }),
        str('type', { description: 'A label indicating the attribute\'s function.' }),
        bool('primary', { description: 'Indicates the primary value.' }),
      ],
      { multiValued: true, description: 'A list of certificates issued to the User.' },
    ),
  ],
};

/** RFC 7643 §4.3 and §8.7.1. Further attributes under this URN are tenant custom fields (see customAttribute). */
export const enterpriseUserSchema: SchemaDef = {
  id: ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User. Attributes not listed here are accepted as custom string fields.',
  attributes: [
    str('employeeNumber', { description: 'Numeric or alphanumeric identifier assigned to a person.' }),
    str('costCenter', { description: 'Identifies the name of a cost center.' }),
    str('organization', { description: 'Identifies the name of an organization.' }),
    str('division', { description: 'Identifies the name of a division.' }),
    str('department', { description: 'Identifies the name of a department.' }),
    complex(
      'manager',
      [
        str('value', { description: 'The id of the SCIM resource representing the User\'s manager.' }),
        ref('$ref', ['User'], { description: 'The URI of the SCIM resource representing the User\'s manager.' }),
        str('displayName', { mutability: 'readOnly', description: 'The displayName of the User\'s manager.' }),
      ],
      { description: 'The User\'s manager.' },
    ),
  ],
};

/** RFC 7643 §4.2 and §8.7.1 */
export const groupSchema: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', { required: true, description: 'A human-readable name for the Group.' }),
    complex(
      'members',
      [
        str('value', { mutability: 'immutable', description: 'Identifier of the member of this Group.' }),
        ref('$ref', ['User', 'Group'], { mutability: 'immutable', description: 'The URI of the member resource.' }),
        str('display', { mutability: 'readOnly', description: 'A human-readable name of the member.' }),
        str('type', { mutability: 'immutable', canonicalValues: ['User', 'Group'], description: 'The type of member.' }),
      ],
      { multiValued: true, description: 'A list of members of the Group.' },
    ),
  ],
};

/**
 * Common attributes (RFC 7643 §3.1). They belong to every resource and are not
 * part of any schema's attribute list in /Schemas.
 */
export const commonAttributes: AttributeDef[] = [
  str('id', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server', description: 'Unique identifier assigned by Roster.' }),
  str('externalId', { caseExact: true, description: 'Identifier assigned by the provisioning client.' }),
  complex(
    'meta',
    [
      str('resourceType', { caseExact: true, mutability: 'readOnly' }),
      attr('created', 'dateTime', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', { mutability: 'readOnly' }),
      ref('location', ['uri'], { mutability: 'readOnly' }),
      str('version', { caseExact: true, mutability: 'readOnly' }),
    ],
    { mutability: 'readOnly' },
  ),
];

/**
 * A customer-defined field under the enterprise extension URN
 * (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:<name>`), as
 * Entra ID and the host platforms' help pages use them. Treated as a
 * case-insensitive string attribute for validation and filtering.
 */
export function customAttribute(name: string): AttributeDef {
  return str(name, { description: 'Custom field' });
}

export const userResourceType: ResourceTypeDef = {
  name: 'User',
  endpoint: '/Users',
  description: 'User Account',
  schema: USER_SCHEMA,
  schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
};

export const groupResourceType: ResourceTypeDef = {
  name: 'Group',
  endpoint: '/Groups',
  description: 'Group',
  schema: GROUP_SCHEMA,
  schemaExtensions: [],
};

export const allSchemas: SchemaDef[] = [userSchema, enterpriseUserSchema, groupSchema];
export const resourceTypes: ResourceTypeDef[] = [userResourceType, groupResourceType];

export function schemaById(id: string): SchemaDef | undefined {
  // Ids are case-insensitive URNs, almost always written as defined: compare as written first.
  const exact = allSchemas.find((s) => s.id === id);
  if (exact) return exact;
  const lower = id.toLowerCase();
  return allSchemas.find((s) => s.id.toLowerCase() === lower);
}

/**
 * Attribute lists indexed by name, built on first use. The lists
 * are constants (schemas are data), so an index never goes stale; lookups run
 * for every key of every resource read or written.
 */
const attributeIndex = new WeakMap<readonly AttributeDef[], Map<string, AttributeDef>>();

/** Case-insensitive attribute lookup (RFC 7643 §2.1: attribute names are case-insensitive). */
export function findAttribute(attrs: readonly AttributeDef[], name: string): AttributeDef | undefined {
  if (attrs.length === 0) return undefined;
  let index = attributeIndex.get(attrs);
  if (!index) {
    index = new Map();
    // By the name as written (the usual spelling) and lower-cased; the first of equal names wins, as a linear search would find it.
    for (const a of attrs) {
      for (const key of [a.name, a.name.toLowerCase()]) if (!index.has(key)) index.set(key, a);
    }
    attributeIndex.set(attrs, index);
  }
  return index.get(name) ?? index.get(name.toLowerCase());
}

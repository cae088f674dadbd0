/**
 * Incoming resources (POST RFC 7644 §3.3, PUT §3.5.1, and the result of a
 * PATCH §3.5.2) validated against the schemas and normalised to Roster's
 * stored shape:
 *
 *   - canonical attribute names (the schema's spelling): names in requests are
 *     case-insensitive (RFC 7643 §2.1), so `UserName`, `Emails[].Primary` are
 *     read as `userName`, `emails[].primary`, in every mode;
 *   - core and common attributes at top level, extension attributes under the
 *     extension URN (`urn:…:enterprise:2.0:User`), including tenant custom
 *     fields under the name the client used. Extension attributes may also be
 *     given as flat fully-qualified keys (`"urn:…:enterprise:2.0:User:department": "x"`);
 *   - `schemas` derived: the core schema plus each extension that has a value;
 *   - never stored: `id`, `meta` and other readOnly attributes (ignored on
 *     input, RFC 7644 §3.5.1), `password` (returned separately so the service
 *     decides), a Group's `members` (returned separately as references, they
 *     are rows in group_members), a User's `groups` (readOnly, derived);
 *   - null and empty arrays mean "unassigned" (RFC 7643 §2.5) and are omitted,
 *     as are complex values left without any sub-attribute.
 *
 * Decisions:
 *   - Unknown attributes (and attributes of unknown schema extensions) are
 *     ignored, in every mode: RFC 7644 §3.3 lets a service provider ignore
 *     POSTed content, and Entra ID lists a Microsoft schema URN Roster does
 *     not implement. They are never stored. An unknown attribute named by a
 *     PATCH path is an error (see patch.ts).
 *   - Custom enterprise fields are strings; numbers and booleans given for
 *     them are stored as their JSON text (`42` → `"42"`), since the field has
 *     no declared type. Objects and arrays are rejected.
 *   - canonicalValues are not enforced (RFC 7643 §2.3.1 "SHOULD"), except a
 *     Group member's `type`, which must be User or Group for Roster to
 *     resolve the reference.
 *   - Strict mode follows the RFCs; lenient mode (tenant compatibility
 *     "lenient", for Entra ID and Okta) also accepts the quirks listed in the
 *     "IdP quirks" section below, and nothing else.
 */
import { isDeepStrictEqual } from 'node:util';
import { schemasOf, tryResolveAttrPath, type ResolvedAttr } from './attributes.js';
import { badRequest } from './errors.js';
import { commonAttributes, findAttribute, type AttributeDef, type ResourceTypeDef } from './schema.js';

/** A Group member as requested: the member's id and, when the client said, its resource type. */
export interface MemberRef {
  value: string;
  type?: 'User' | 'Group';
}

export interface NormalizeOptions {
  mode: 'create' | 'replace';
  /** The stored resource being replaced (mode 'replace'); immutable attributes are checked against it. */
  existing?: Record<string, unknown>;
  lenient?: boolean;
}

export interface Normalized {
  /** The stored shape. */
  resource: Record<string, unknown>;
  /**
   * Groups only: the requested member list, deduplicated by value. Undefined
   * when the body has no `members` at all (on PUT the service decides what
   * that means); [] when it asks for no members (`[]` or null).
   */
  members?: MemberRef[];
  /** Users only: the password sent, if any. Never part of `resource`. */
  password?: string;
}

/** Options shared by normalisation and PATCH. */
export interface WriteContext {
  lenient: boolean;
}

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (detail: string) => badRequest('invalidValue', detail);

/** An own member of a JSON object (never one inherited from Object.prototype, like "constructor"). */
export function own(obj: Json, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** A member of a JSON object by case-insensitive name (RFC 7643 §2.1). */
export function getCi(obj: Json, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

// ---------------------------------------------------------------------------
// IdP quirks. What real clients send that the RFCs do not allow, accepted in
// lenient mode only (each function returns "not accepted" in strict mode).
// They are handled here and nowhere else.
// ---------------------------------------------------------------------------

/**
 * Booleans as strings. Microsoft Entra ID, without the aadOptscim062020
 * flag, disables users with `{"op":"Replace","path":"active","value":"False"}`
 * (Microsoft's "Known issues ... SCIM 2.0 protocol compliance" page).
 * RFC 7643 §2.3.2 requires JSON true/false. Only "true"/"false" in any case.
 */
function quirkBooleanString(ctx: WriteContext, v: unknown): boolean | undefined {
  if (!ctx.lenient || typeof v !== 'string') return undefined;
  const lower = v.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

/**
 * A bare id for a complex attribute. Microsoft Entra ID sets the enterprise
 * `manager` (complex, RFC 7643 §4.3) as
 * `{"op":"Add","path":"urn:…:enterprise:2.0:User:manager","value":"<id>"}`
 * (reported by SCIM implementers; Microsoft's published samples do not show
 * it). A string given for a complex attribute that has a `value`
 * sub-attribute is read as `{ value }`.
 */
function quirkComplexFromString(ctx: WriteContext, def: AttributeDef, v: unknown): Json | undefined {
  if (!ctx.lenient || typeof v !== 'string' || !findAttribute(def.subAttributes ?? [], 'value')) return undefined;
  return { value: v };
}

/**
 * A blank `type` (`"type": ""`), as IdP attribute mappings that leave the
 * type unmapped produce. Read as unassigned; strict mode stores the empty
 * string, which is a valid string.
 */
function quirkBlankType(ctx: WriteContext, sub: AttributeDef, v: unknown): boolean {
  return ctx.lenient && sub.name === 'type' && typeof v === 'string' && v.trim() === '';
}

/**
 * One value where a multi-valued attribute needs an array (RFC 7643 §2.4),
 * e.g. `"emails": {"value": "…"}` or a PATCH add of one member object.
 * Wrapped in an array.
 */
function quirkSingleForArray(ctx: WriteContext, v: unknown): unknown[] | undefined {
  return ctx.lenient ? [v] : undefined;
}

/**
 * More than one value marked `"primary": true` (RFC 7643 §2.4 allows at most
 * one). The first keeps it, the others are set to false.
 */
function quirkManyPrimaries(ctx: WriteContext, primaries: Json[]): boolean {
  if (!ctx.lenient) return false;
  for (const e of primaries.slice(1)) e.primary = false;
  return true;
}

/**
 * An extension attribute named without its schema URN, with a one-element
 * array for its single value. Microsoft Entra ID's SCIM tutorial (Example 5)
 * updates the manager with
 * `{"op":"Add","path":"manager","value":[{"$ref":"…","value":"<id>"}]}`.
 * RFC 7644 §3.10 lets clients omit the core schema's URN only. A bare name
 * that is no core or common attribute resolves to the extension attribute of
 * that name if exactly one extension of the resource type declares it
 * (custom fields are never guessed).
 */
export function quirkBareExtensionAttribute(ctx: WriteContext, rt: ResourceTypeDef, path: string): ResolvedAttr | undefined {
  if (!ctx.lenient) return undefined;
  const found = schemasOf(rt)
    .slice(1)
    .map((s) => tryResolveAttrPath(rt, `${s.id}:${path}`))
    .filter((r): r is ResolvedAttr => r !== undefined && !r.custom);
  return found.length === 1 ? found[0] : undefined;
}

/** The one-element array of the same request: its element is the value of a single-valued attribute. */
function quirkSingleElementArray(ctx: WriteContext, def: AttributeDef, v: unknown): unknown {
  return ctx.lenient && !def.multiValued && Array.isArray(v) && v.length === 1 ? v[0] : v;
}

/**
 * A request whose `schemas` is missing or lacks the URN it must contain: a
 * resource body without its core schema (RFC 7643 §3), a PATCH body without
 * the PatchOp message URN (RFC 7644 §3.5.2). The URN is assumed.
 */
export function quirkMissingSchemaUrn(ctx: WriteContext): boolean {
  return ctx.lenient;
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/** xsd:dateTime (RFC 7643 §2.3.5), e.g. 2008-01-23T04:56:22Z. */
const DATE_TIME = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * References (RFC 7643 §2.3.7) are URIs. `external` and `uri` references must
 * be absolute; references to SCIM resources (`User`, `Group`) may also be
 * relative (`/Users/…`, `../Groups/…`).
 */
function checkReference(def: AttributeDef, v: string, where: string): void {
  const absolute = (def.referenceTypes ?? []).some((t) => t === 'external' || t === 'uri');
  const ok = v !== '' && !/\s/.test(v) && (absolute ? URI_SCHEME.test(v) && URL.canParse(v) : URL.canParse(v, 'https://roster.invalid/'));
  if (!ok) {
    throw invalid(`"${where}" must be ${absolute ? 'an absolute URI' : 'a URI'} (RFC 7643 §2.3.7), got ${JSON.stringify(v)}`);
  }
}

/** One value of a single-valued attribute, or one element of a multi-valued one. Undefined means unassigned. */
export function coerceOne(def: AttributeDef, v: unknown, where: string, ctx: WriteContext): unknown {
  if (v === null || v === undefined) return undefined;
  switch (def.type) {
    case 'string':
      if (typeof v === 'string') return v;
      break;
    case 'boolean': {
      if (typeof v === 'boolean') return v;
      const b = quirkBooleanString(ctx, v);
      if (b !== undefined) return b;
      break;
    }
    case 'integer':
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      break;
    case 'decimal':
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      break;
    case 'dateTime':
      if (typeof v === 'string') {
        if (DATE_TIME.test(v) && !Number.isNaN(Date.parse(v))) return v;
        throw invalid(`"${where}" must be an xsd:dateTime such as "2015-09-01T12:00:00Z" (RFC 7643 §2.3.5), got ${JSON.stringify(v)}`);
      }
      break;
    case 'reference':
      if (typeof v === 'string') {
        checkReference(def, v, where);
        return v;
      }
      break;
    case 'binary':
      if (typeof v === 'string') {
        if (BASE64.test(v.replace(/\s+/g, ''))) return v;
        throw invalid(`"${where}" must be base64-encoded binary (RFC 7643 §2.3.6)`);
      }
      break;
    case 'complex': {
      const obj = isObject(v) ? v : quirkComplexFromString(ctx, def, v);
      if (obj) return coerceComplex(def, obj, where, ctx);
      break;
    }
  }
  throw invalid(`"${where}" must be ${def.type === 'complex' ? 'an object' : `a ${def.type}`}, got ${describe(v)}`);
}

/** Sub-attributes of a complex value: canonical names, schema order; unknown and readOnly ones dropped. */
function coerceComplex(def: AttributeDef, v: Json, where: string, ctx: WriteContext): Json | undefined {
  const given = new Map<AttributeDef, unknown>();
  for (const [key, raw] of Object.entries(v)) {
    const sub = findAttribute(def.subAttributes ?? [], key);
    if (!sub || sub.mutability === 'readOnly') continue;
    if (given.has(sub)) throw invalid(`"${where}.${sub.name}" is given more than once`);
    if (quirkBlankType(ctx, sub, raw)) continue;
    given.set(sub, raw);
  }
  const out: Json = {};
  for (const sub of def.subAttributes ?? []) {
    if (!given.has(sub)) continue;
    const value = coerceValue(sub, given.get(sub), `${where}.${sub.name}`, ctx);
    if (value !== undefined) out[sub.name] = value;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The elements of a multi-valued attribute, each coerced; an element left
 * empty (e.g. only readOnly sub-attributes) is undefined, kept in place so
 * callers can name its index.
 */
function coerceElements(def: AttributeDef, v: unknown, where: string, ctx: WriteContext): unknown[] {
  if (v === null || v === undefined) return [];
  const list = Array.isArray(v) ? v : quirkSingleForArray(ctx, v);
  if (!list) throw invalid(`"${where}" is multi-valued and must be an array, got ${describe(v)}`);
  return list.map((e, i) => {
    if (e === null || e === undefined) throw invalid(`"${where}[${i}]" must not be null`);
    return coerceOne(def, e, `${where}[${i}]`, ctx);
  });
}

/**
 * A whole attribute value: for multi-valued attributes an array of elements
 * (at most one of them primary). Undefined means unassigned.
 */
export function coerceValue(def: AttributeDef, v: unknown, where: string, ctx: WriteContext): unknown {
  if (!def.multiValued) return coerceOne(def, quirkSingleElementArray(ctx, def, v), where, ctx);
  const out = coerceElements(def, v, where, ctx).filter((e) => e !== undefined);
  const primaries = out.filter((e): e is Json => isObject(e) && e.primary === true);
  if (primaries.length > 1 && !quirkManyPrimaries(ctx, primaries)) {
    throw invalid(`"${where}" has ${primaries.length} values with "primary": true; at most one is allowed (RFC 7643 §2.4)`);
  }
  return out.length ? out : undefined;
}

/** A tenant custom field (see customAttribute): a string; numbers and booleans stored as their JSON text. */
function coerceCustom(v: unknown, where: string): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw invalid(`"${where}" is a custom field and must be a string, got ${describe(v)}`);
}

/** The value for a resolved attribute (or sub-attribute) path. */
export function coerceFor(r: ResolvedAttr, v: unknown, ctx: WriteContext, where = r.path): unknown {
  if (r.custom) return coerceCustom(v, where);
  return coerceValue(r.sub ?? r.attribute, v, where, ctx);
}

/** Elements of a Group's `members` as member references (RFC 7643 §4.2), deduplicated by value. */
export function memberRefs(def: AttributeDef, v: unknown, ctx: WriteContext, where = 'members'): MemberRef[] {
  const refs = new Map<string, MemberRef>();
  coerceElements(def, v, where, ctx).forEach((element, i) => {
    const e = (element ?? {}) as Json;
    if (typeof e.value !== 'string' || !e.value) throw invalid(`"${where}[${i}].value" (the member's id) is required`);
    const ref: MemberRef = { value: e.value };
    const type = memberType(e, `${where}[${i}]`);
    if (type) ref.type = type;
    refs.set(ref.value, ref);
  });
  return [...refs.values()];
}

function memberType(e: Json, where: string): MemberRef['type'] {
  if (typeof e.type === 'string') {
    const lower = e.type.toLowerCase();
    if (lower === 'user') return 'User';
    if (lower === 'group') return 'Group';
    throw invalid(`"${where}.type" must be "User" or "Group", got ${JSON.stringify(e.type)}`);
  }
  if (typeof e.$ref === 'string') {
    if (/\/Users\/[^/]+\/?$/i.test(e.$ref)) return 'User';
    if (/\/Groups\/[^/]+\/?$/i.test(e.$ref)) return 'Group';
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Stored shape
// ---------------------------------------------------------------------------

/** The object that holds attribute `r` in a stored-shape resource: the resource, or its extension object. */
export function containerOf(resource: Json, r: ResolvedAttr, create: boolean): Json | undefined {
  if (!r.extension) return resource;
  const existing = own(resource, r.schema);
  if (isObject(existing)) return existing;
  if (!create) return undefined;
  const fresh: Json = {};
  resource[r.schema] = fresh;
  return fresh;
}

/** The key of `r` in its container: the canonical name; a custom field keeps the spelling it is stored under. */
export function keyOf(container: Json, r: ResolvedAttr): string {
  if (!r.custom) return r.attribute.name;
  const lower = r.attribute.name.toLowerCase();
  return Object.keys(container).find((k) => k.toLowerCase() === lower) ?? r.attribute.name;
}

/** Attributes that never go into the stored JSON, and how a write treats them. */
export type Special = 'password' | 'members' | undefined;

export function specialAttribute(rt: ResourceTypeDef, r: ResolvedAttr): Special {
  if (r.extension || r.schema !== rt.schema) return undefined;
  if (rt.name === 'User' && r.attribute.name === 'password') return 'password';
  if (rt.name === 'Group' && r.attribute.name === 'members') return 'members';
  return undefined;
}

/**
 * The attribute assignments in a resource body (or a PATCH value without
 * path), in order: `schemas` is skipped, an extension URN key contributes each
 * attribute of its object, any other key is an attribute path (`userName`,
 * `name.givenName`, `urn:…:User:department`). Unknown attributes and readOnly
 * ones are left out (RFC 7644 §3.3, §3.5.1 "Any values provided SHALL be
 * ignored").
 */
export function assignments(rt: ResourceTypeDef, body: Json): { r: ResolvedAttr; value: unknown }[] {
  const out: { r: ResolvedAttr; value: unknown }[] = [];
  const extensions = schemasOf(rt).slice(1);
  const add = (path: string, value: unknown) => {
    const r = tryResolveAttrPath(rt, path);
    if (!r || r.attribute.mutability === 'readOnly' || r.sub?.mutability === 'readOnly') return;
    out.push({ r, value });
  };
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === 'schemas') continue;
    const ext = extensions.find((s) => s.id.toLowerCase() === key.toLowerCase());
    if (!ext) {
      add(key, value);
      continue;
    }
    if (value === null) continue;
    if (!isObject(value)) throw invalid(`"${ext.id}" must be an object of extension attributes, got ${describe(value)}`);
    for (const [sub, v] of Object.entries(value)) add(`${ext.id}:${sub}`, v);
  }
  return out;
}

// ---------------------------------------------------------------------------
// normalizeResource
// ---------------------------------------------------------------------------

export function normalizeResource(rt: ResourceTypeDef, input: unknown, opts: NormalizeOptions): Normalized {
  const ctx: WriteContext = { lenient: opts.lenient === true };
  if (!isObject(input)) throw badRequest('invalidSyntax', `The ${rt.name} must be a JSON object, got ${describe(input)}`);
  checkSchemas(rt, input, ctx);

  const result: Normalized = { resource: {} };
  const out = result.resource;
  for (const { r, value } of assignments(rt, input)) {
    switch (specialAttribute(rt, r)) {
      case 'password': {
        const password = coerceFor(r, value, ctx);
        if (password !== undefined) result.password = password as string;
        break;
      }
      case 'members':
        if (r.sub) throw invalid(`"${r.path}" cannot be set on its own; give whole members`);
        result.members = memberRefs(r.attribute, value, ctx);
        break;
      default:
        assign(out, r, coerceFor(r, value, ctx));
    }
  }
  if (opts.mode === 'replace' && opts.existing) keepImmutables(rt, out, opts.existing);
  checkRequired(rt, out);
  result.resource = canonicalOrder(rt, out);
  return result;
}

/** `schemas` (RFC 7643 §3): an array of URIs that includes the resource type's core schema. */
function checkSchemas(rt: ResourceTypeDef, input: Json, ctx: WriteContext): void {
  const schemas = getCi(input, 'schemas');
  if (schemas !== undefined && schemas !== null) {
    if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string')) {
      throw invalid(`"schemas" must be an array of schema URIs, got ${describe(schemas)}`);
    }
    if (schemas.some((s: string) => s.toLowerCase() === rt.schema.toLowerCase())) return;
  }
  if (quirkMissingSchemaUrn(ctx)) return;
  throw invalid(`"schemas" must contain "${rt.schema}" (RFC 7643 §3)`);
}

/** Put a coerced value in place; the same attribute given twice (e.g. nested and as a flat URN key) is an error. */
function assign(out: Json, r: ResolvedAttr, value: unknown): void {
  if (value === undefined) return;
  const container = containerOf(out, r, true)!;
  const key = keyOf(container, r);
  const twice = () => invalid(`"${r.path}" is given more than once`);
  if (r.sub) {
    if (r.attribute.multiValued) throw invalid(`"${r.path}" names a sub-attribute of multi-valued "${r.attribute.name}"; give whole values`);
    const obj = own(container, key) ?? {};
    if (!isObject(obj) || own(obj, r.sub.name) !== undefined) throw twice();
    obj[r.sub.name] = value;
    container[key] = obj;
    return;
  }
  const prior = own(container, key);
  if (prior === undefined) container[key] = value;
  else if (isObject(prior) && isObject(value) && !r.attribute.multiValued) {
    for (const [k, v] of Object.entries(value)) {
      if (own(prior, k) !== undefined) throw invalid(`"${r.path}.${k}" is given more than once`);
      prior[k] = v;
    }
  } else throw twice();
}

const immutables = new WeakMap<ResourceTypeDef, ResolvedAttr[]>();

/** The immutable attributes and sub-attributes (of singular complex attributes) of a resource type. */
function immutableAttributes(rt: ResourceTypeDef): ResolvedAttr[] {
  let found = immutables.get(rt);
  if (!found) {
    found = declaredAttributes(rt).filter((r) => (r.sub ?? r.attribute).mutability === 'immutable');
    immutables.set(rt, found);
  }
  return found;
}

/** Every declared attribute and sub-attribute of singular complex attributes, resolved. */
function declaredAttributes(rt: ResourceTypeDef): ResolvedAttr[] {
  const paths: string[] = [];
  const collect = (prefix: string, defs: AttributeDef[]) => {
    for (const def of defs) {
      paths.push(prefix + def.name);
      if (def.type === 'complex' && !def.multiValued) for (const sub of def.subAttributes ?? []) paths.push(`${prefix}${def.name}.${sub.name}`);
    }
  };
  const [core, ...extensions] = schemasOf(rt);
  collect('', commonAttributes);
  collect('', core.attributes);
  for (const ext of extensions) collect(`${ext.id}:`, ext.attributes);
  return paths.map((p) => tryResolveAttrPath(rt, p)!);
}

/** The stored value at a resolved path (sub-attributes of singular complex attributes only). */
export function valueAt(resource: Json, r: ResolvedAttr): unknown {
  const container = containerOf(resource, r, false);
  const v = container && own(container, keyOf(container, r));
  if (!r.sub) return v;
  return isObject(v) ? own(v, r.sub.name) : undefined;
}

/**
 * Immutable attributes (RFC 7643 §2.2) may be set once. On replace, a value
 * that differs from the stored one is a 400 `mutability` (RFC 7644 §3.5.1);
 * one left out keeps the stored value.
 */
function keepImmutables(rt: ResourceTypeDef, out: Json, existing: Json): void {
  for (const r of immutableAttributes(rt)) {
    const before = valueAt(existing, r);
    if (before === undefined) continue;
    const after = valueAt(out, r);
    if (after === undefined) assign(out, r, structuredClone(before));
    else if (!isDeepStrictEqual(before, after)) {
      throw badRequest('mutability', `"${r.path}" is immutable and cannot be changed (RFC 7643 §2.2)`);
    }
  }
}

/** Required attributes (RFC 7643 §2.2): userName for Users, displayName for Groups. */
function checkRequired(rt: ResourceTypeDef, out: Json): void {
  const [core, ...extensions] = schemasOf(rt);
  const required = [
    ...core.attributes.filter((a) => a.required).map((a) => a.name),
    ...extensions.flatMap((s) => (isObject(out[s.id]) ? s.attributes.filter((a) => a.required).map((a) => `${s.id}:${a.name}`) : [])),
  ];
  for (const path of required) {
    const r = tryResolveAttrPath(rt, path)!;
    if (specialAttribute(rt, r)) continue;
    const v = valueAt(out, r);
    if (v === undefined || v === '') throw invalid(`Attribute "${r.path}" is required for a ${rt.name}`);
  }
}

/** schemas, then common, core and extension attributes in schema order (custom fields after the declared ones). */
function canonicalOrder(rt: ResourceTypeDef, out: Json): Json {
  const [core, ...extensions] = schemasOf(rt);
  const present = extensions.filter((s) => isObject(own(out, s.id)) && Object.keys(out[s.id] as Json).length > 0);
  const ordered: Json = { schemas: [core.id, ...present.map((s) => s.id)] };
  const copy = (from: Json, to: Json, defs: AttributeDef[]) => {
    for (const def of defs) {
      const v = own(from, def.name);
      if (v === undefined) continue;
      to[def.name] = def.type === 'complex' && isObject(v) ? orderLike(def, v) : v;
    }
  };
  copy(out, ordered, [...commonAttributes, ...core.attributes]);
  for (const s of present) {
    const obj = out[s.id] as Json;
    const target: Json = {};
    copy(obj, target, s.attributes);
    for (const [k, v] of Object.entries(obj)) if (!Object.hasOwn(target, k)) target[k] = v;
    ordered[s.id] = target;
  }
  return ordered;
}

function orderLike(def: AttributeDef, v: Json): Json {
  const o: Json = {};
  for (const sub of def.subAttributes ?? []) if (own(v, sub.name) !== undefined) o[sub.name] = v[sub.name];
  return o;
}

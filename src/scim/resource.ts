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
 *     quirks of src/scim/quirks.ts, and nothing else.
 */
import { isDeepStrictEqual } from 'node:util';
import { schemasOf, tryResolveAttrPath, type ResolvedAttr } from './attributes.js';
import { badRequest } from './errors.js';
import { describe, getCi, invalid, isObject, own, type Json } from './json.js';
import { quirkMissingSchemaUrn, type WriteContext } from './quirks.js';
import { commonAttributes, type AttributeDef, type ResourceTypeDef } from './schema.js';
import { INDEXED_ATTRIBUTES, MAX_CUSTOM_FIELDS, MAX_CUSTOM_FIELD_NAME_LENGTH, MAX_INDEXED_LENGTH } from './limits.js';
import { coerceFor, memberRefs, type MemberRef } from './values.js';

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
  // A scan of the container's keys per custom field made a body of many fields quadratic (20,000
  // fields: 28 s of CPU); an index per container keeps it linear. Keys added to a container by
  // the code that asked here are learnt as they are handed out, deleted ones checked on the way out.
  let index = customKeys.get(container);
  if (!index) {
    index = new Map();
    for (const k of Object.keys(container)) if (!index.has(k.toLowerCase())) index.set(k.toLowerCase(), k);
    customKeys.set(container, index);
  }
  const lower = r.attribute.name.toLowerCase();
  const known = index.get(lower);
  if (known !== undefined && Object.hasOwn(container, known)) return known;
  index.set(lower, r.attribute.name);
  return r.attribute.name;
}

/** Custom field names by lower-cased name, per extension object (see keyOf). */
const customKeys = new WeakMap<Json, Map<string, string>>();

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
  let customFields = 0;
  const add = (path: string, value: unknown) => {
    const r = tryResolveAttrPath(rt, path);
    if (!r || r.attribute.mutability === 'readOnly' || r.sub?.mutability === 'readOnly') return;
    // Checked as they come, so that a body of 20,000 custom fields costs 200 look-ups, not 20,000.
    if (r.custom && ++customFields > MAX_CUSTOM_FIELDS) {
      throw invalid(`A ${rt.name} may have at most ${MAX_CUSTOM_FIELDS} custom fields under "${r.schema}"`);
    }
    if (r.custom && r.attribute.name.length > MAX_CUSTOM_FIELD_NAME_LENGTH) {
      throw invalid(`The custom field name "${r.attribute.name.slice(0, 40)}…" is ${r.attribute.name.length} characters long; at most ${MAX_CUSTOM_FIELD_NAME_LENGTH} are allowed`);
    }
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
  checkIndexedLengths(rt, out);
  result.resource = canonicalOrder(rt, out);
  return result;
}

/** The attributes Postgres indexes fit an index entry (MAX_INDEXED_LENGTH). */
function checkIndexedLengths(rt: ResourceTypeDef, out: Json): void {
  for (const path of INDEXED_ATTRIBUTES[rt.name] ?? []) {
    const [name, sub] = path.split('.') as [string, string | undefined];
    const v = own(out, name);
    const values = sub ? (Array.isArray(v) ? v.map((e) => (isObject(e) ? own(e, sub) : undefined)) : []) : [v];
    for (const value of values) {
      if (typeof value === 'string' && value.length > MAX_INDEXED_LENGTH) {
        throw invalid(`"${path}" is ${value.length} characters long; at most ${MAX_INDEXED_LENGTH} are allowed`);
      }
    }
  }
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

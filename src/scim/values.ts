/**
 * Attribute values of incoming resources and PATCH values, checked against
 * their schema definition (RFC 7643 §2.3) and coerced to the stored form.
 * Undefined means "unassigned" (RFC 7643 §2.5).
 */
import type { ResolvedAttr } from './attributes.js';
import { describe, invalid, isObject, type Json } from './json.js';
import {
  quirkBlankType,
  quirkBooleanString,
  quirkComplexFromString,
  quirkManyPrimaries,
  quirkSingleElementArray,
  type WriteContext,
} from './quirks.js';
import { MAX_VALUES_PER_ATTRIBUTE } from './limits.js';
import { findAttribute, type AttributeDef } from './schema.js';

/** A Group member as requested: the member's id and, when the client said, its resource type. */
export interface MemberRef {
  value: string;
  type?: 'User' | 'Group';
}


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
function coerceElements(def: AttributeDef, v: unknown, where: string, ctx: WriteContext, max = MAX_VALUES_PER_ATTRIBUTE): unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`"${where}" is multi-valued and must be an array, got ${describe(v)}`);
  if (v.length > max) throw invalid(`"${where}" has ${v.length} values; at most ${max} are allowed`);
  return v.map((e, i) => {
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
  // Members are rows, not JSON: as many as the body limit lets a request carry.
  coerceElements(def, v, where, ctx, Infinity).forEach((element, i) => {
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

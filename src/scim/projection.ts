/**
 * Which attributes a response carries: the `attributes` and
 * `excludedAttributes` parameters (RFC 7644 §3.4.2.5, §3.9) applied with the
 * schemas' `returned` characteristic (RFC 7643 §7):
 * - always: returned whatever the parameters say (`id`; `schemas` too);
 * - never: never returned (`password`);
 * - default: returned unless `attributes` is given without naming it, or
 *   `excludedAttributes` names it;
 * - request: returned only when `attributes` names it.
 * Naming a sub-attribute (`name.givenName`, `emails.value`) selects or removes
 * just that sub-attribute. `schemas` is returned as it is, extension URNs
 * included (the RFC does not ask to drop those of empty extensions); an
 * extension object left empty by the projection is dropped.
 */
import type { ResolvedAttr } from './attributes.js';
import { resolveQueryAttr } from './filter.js';
import { isObject, RawJson } from './json.js';
import { commonAttributes, customAttribute, findAttribute, schemaById, type AttributeDef, type ResourceTypeDef } from './schema.js';

export interface ProjectionOptions {
  /** Resolved attributes, or attribute paths as a client would write them. */
  attributes?: readonly (ResolvedAttr | string)[] | undefined;
  excludedAttributes?: readonly (ResolvedAttr | string)[] | undefined;
}

/**
 * Parse a comma-separated `attributes` / `excludedAttributes` value
 * (§3.9: attribute names in §3.10 notation, full URNs accepted). Unknown
 * attributes are a 400 invalidValue naming them.
 */
export function parseAttributeList(rt: ResourceTypeDef, csv: string | undefined): ResolvedAttr[] {
  return splitList(csv ?? '')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => resolveQueryAttr(rt, withoutValueFilter(item), 'invalidValue'));
}

/** Split at commas that are not inside brackets or quoted strings. */
function splitList(csv: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < csv.length; i++) {
    const ch = csv[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '[') depth++;
    else if (ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      items.push(csv.slice(start, i));
      start = i + 1;
    }
  }
  items.push(csv.slice(start));
  return items;
}

/**
 * Microsoft's SCIM validation collection for Entra ID asks for
 * `attributes=emails[type eq "work"]` and `attributes=emails[value eq "emailName357"]`,
 * which §3.10 does not allow; take such an item as the attribute it filters
 * (`emails`, or `emails.value` for `emails[…].value`). See test/scim/projection.test.ts.
 */
function withoutValueFilter(item: string): string {
  const m = /^([^[\]]+)\[.*\](\.[^.[\]]+)?$/s.exec(item);
  return m ? `${m[1]!.trim()}${m[2] ?? ''}` : item;
}

interface Selected {
  whole: boolean;
  /** Lower-cased names of the sub-attributes named. */
  subs: Set<string>;
}

/** Named attributes by `schema|name` (lower case); '' is the schema of common attributes. */
type Selection = Map<string, Selected>;

const keyOf = (schema: string, name: string) => `${schema}|${name}`.toLowerCase();

function selection(rt: ResourceTypeDef, list: ProjectionOptions['attributes']): Selection {
  const out: Selection = new Map();
  for (const entry of list ?? []) {
    for (const a of typeof entry === 'string' ? parseAttributeList(rt, entry) : [entry]) {
      const key = keyOf(a.schema, a.attribute.name);
      const s = out.get(key) ?? { whole: false, subs: new Set<string>() };
      if (a.sub) s.subs.add(a.sub.name.toLowerCase());
      else s.whole = true;
      out.set(key, s);
    }
  }
  return out;
}

interface Plan {
  include: Selection;
  exclude: Selection;
  /** Neither parameter given: only `returned` decides (the common case, taken without building keys). */
  plain: boolean;
}

const PLAIN: Plan = { include: new Map(), exclude: new Map(), plain: true };

/** Extension schemas of a resource type by lower-cased URN. */
const extensionIndex = new WeakMap<ResourceTypeDef, Map<string, string>>();

function extensionOf(rt: ResourceTypeDef, key: string): string | undefined {
  let index = extensionIndex.get(rt);
  if (!index) {
    index = new Map(rt.schemaExtensions.map((e) => [e.schema.toLowerCase(), e.schema]));
    extensionIndex.set(rt, index);
  }
  return index.size === 0 || !key.includes(':') ? undefined : index.get(key.toLowerCase());
}

/**
 * The resource as the response carries it; `resource` is the full
 * representation and is not modified. Values the projection keeps whole are
 * shared with `resource`, not copied.
 */
export function project(rt: ResourceTypeDef, resource: Record<string, unknown>, opts: ProjectionOptions = {}): Record<string, unknown> {
  const plan: Plan =
    (opts.attributes?.length ?? 0) === 0 && (opts.excludedAttributes?.length ?? 0) === 0
      ? PLAIN
      : { include: selection(rt, opts.attributes), exclude: selection(rt, opts.excludedAttributes), plain: false };
  const core = schemaById(rt.schema)!;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(resource)) {
    const value = resource[key];
    const extension = extensionOf(rt, key);
    let projected: unknown;
    if (key === 'schemas') projected = value;
    else if (extension) projected = projectExtension(extension, value, plan);
    else {
      const def = findAttribute(core.attributes, key);
      // A key no schema defines (there should be none) is treated as a default-returned string.
      projected = def ? projectAttribute(core.id, def, value, plan) : projectAttribute('', findAttribute(commonAttributes, key) ?? customAttribute(key), value, plan);
    }
    if (projected !== undefined) out[key] = projected;
  }
  return out;
}

function projectExtension(schema: string, value: unknown, plan: Plan): Record<string, unknown> | undefined {
  if (!isObject(value)) return undefined;
  const attributes = schemaById(schema)!.attributes;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const projected = projectAttribute(schema, findAttribute(attributes, key) ?? customAttribute(key), value[key], plan);
    if (projected !== undefined) out[key] = projected;
  }
  return nonEmpty(out);
}

function projectAttribute(schema: string, def: AttributeDef, value: unknown, plan: Plan): unknown {
  if (plan.plain) {
    if (def.returned === 'never' || def.returned === 'request') return undefined;
    if (def.type !== 'complex') return value;
    if (everySubDefault(def) && (value instanceof RawJson || wholeAsIs(value))) return value;
    return projectComplex(def, value, undefined, undefined);
  }
  const key = keyOf(schema, def.name);
  const include = plan.include.get(key);
  const exclude = plan.exclude.get(key);
  if (!returned(def, plan.include.size > 0, include, exclude)) return undefined;
  if (def.type !== 'complex') return value;
  return projectComplex(def, value, include, exclude);
}

function projectComplex(def: AttributeDef, value: unknown, include: Selected | undefined, exclude: Selected | undefined): unknown {
  if (value instanceof RawJson) {
    // Kept whole or not at all: a caller asking for sub-attributes reads objects instead (src/http/scim/list-params.ts wantsWhole).
    if (include?.subs.size || exclude?.subs.size) throw new Error(`${def.name}: pre-serialized JSON cannot be projected by sub-attribute`);
    return value;
  }
  const keep = (sub: AttributeDef) => returnedSub(sub, include, exclude);
  if (Array.isArray(value)) return nonEmpty(value.map((v) => (isObject(v) ? pickSubs(def, v, keep) : v)).filter((v) => v !== undefined));
  return isObject(value) ? pickSubs(def, value, keep) : value;
}

/** Whether every sub-attribute the schema defines for `def` is returned by default (unknown ones are, as custom fields). */
const subsDefault = new WeakMap<AttributeDef, boolean>();
function everySubDefault(def: AttributeDef): boolean {
  let v = subsDefault.get(def);
  if (v === undefined) {
    v = (def.subAttributes ?? []).every((s) => s.returned === 'default' || s.returned === 'always');
    subsDefault.set(def, v);
  }
  return v;
}

/**
 * Whether projectComplex, keeping every sub-attribute, would give back an
 * equal value: a non-empty object, or a non-empty array none of whose
 * elements is an empty object (those are dropped).
 */
function wholeAsIs(value: unknown): boolean {
  if (Array.isArray(value)) {
    if (value.length === 0) return false;
    for (const v of value) if (isObject(v) && !hasKeys(v)) return false;
    return true;
  }
  return isObject(value) && hasKeys(value);
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** RFC 7643 §7 `returned`, RFC 7644 §3.9: whether an attribute (or some of its sub-attributes) is returned. */
function returned(def: AttributeDef, listed: boolean, include: Selected | undefined, exclude: Selected | undefined): boolean {
  if (def.returned === 'always' || def.returned === 'never') return def.returned === 'always';
  if (exclude?.whole) return false;
  return listed ? include !== undefined : def.returned === 'default';
}

function returnedSub(sub: AttributeDef, include: Selected | undefined, exclude: Selected | undefined): boolean {
  if (sub.returned === 'always' || sub.returned === 'never') return sub.returned === 'always';
  const name = sub.name.toLowerCase();
  if (exclude?.subs.has(name)) return false;
  if (include?.subs.has(name)) return true;
  return sub.returned === 'default' && (!include || include.whole);
}

function pickSubs(def: AttributeDef, value: Record<string, unknown>, keep: (sub: AttributeDef) => boolean): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (keep(findAttribute(def.subAttributes ?? [], key) ?? customAttribute(key))) out[key] = v;
  }
  return nonEmpty(out);
}

function nonEmpty<T extends object>(v: T): T | undefined {
  return Object.keys(v).length > 0 ? v : undefined;
}

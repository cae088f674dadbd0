/**
 * PATCH (RFC 7644 §3.5.2) for Users and Groups: one engine, pure.
 *
 * `applyPatch` takes the stored resource and the PatchOp request body and
 * returns the new stored resource, or throws the first failing operation's
 * ScimError. It works on a copy, so a failure leaves the input untouched
 * ("A PATCH request, regardless of the number of operations, SHALL be
 * treated as atomic", §3.5.2). The result is validated like a PUT
 * (normalizeResource), so a PATCH cannot store what a PUT could not.
 *
 * Semantics per operation:
 *   add (§3.5.2.1)      no path: the value is a partial resource, each
 *                       attribute in it is added. Multi-valued: the values are
 *                       appended (ones already present are not repeated).
 *                       Singular: replaced. Complex: the given sub-attributes
 *                       are set, others kept. A value filter matching nothing
 *                       adds a new value built from the filter's `eq` terms
 *                       (`emails[type eq "work"].value` → {type: "work", value}).
 *   replace (§3.5.2.3)  like add, except that a multi-valued attribute
 *                       without filter is replaced as a whole, and a value
 *                       filter matching nothing is 400 noTarget.
 *   remove (§3.5.2.2)   path required (400 noTarget without). Removes the
 *                       attribute, the filtered values, or a sub-attribute of
 *                       them. A filter matching nothing changes nothing (the
 *                       RFC's own example: "If the user was not a member of
 *                       this group, no changes should be made"). A value given
 *                       with remove on a multi-valued attribute removes those
 *                       values (how Entra ID removes group members).
 *   Errors              readOnly target, changing an immutable one, or
 *                       removing a required one (userName, displayName):
 *                       400 mutability (§3.5.2, §3.5.2.2). Unknown or malformed
 *                       path: 400 invalidPath. Bad value: 400 invalidValue.
 *   primary             Setting `primary: true` on a value sets it false on
 *                       the attribute's other values (§3.5.2.3 example).
 *   A value without path is read like a resource body: readOnly attributes
 *   in it (Okta sends the group `id`) and unknown ones are ignored.
 *
 * Group membership is not JSON (members are rows in group_members): `members`
 * operations are folded into a MemberDelta for the database layer, see below.
 * Members are whole references: filters may select them by id only
 * (`members[value eq "a" or value eq "b"]`, remove only; anything else is
 * 400 invalidFilter), and their sub-attributes are never patched.
 * `changed` lists the JSON attributes that differ (canonical paths, as
 * diff.ts reports them); membership and password are not in it, the caller
 * learns about them from `members` and `password`.
 */
import { changedPaths } from './diff.js';
import { badRequest, ScimError } from './errors.js';
import { matches, type ValidatedFilter } from './filter.js';
import { parsePatchPath, type PatchPath } from './path.js';
import { describe, getCi, isObject, own, type Json } from './json.js';
import { MAX_PATCH_OPERATIONS } from './limits.js';
import { quirkExtensionUrnPath, quirkMissingSchemaUrn, type WriteContext } from './quirks.js';
import { assignments, containerOf, keyOf, normalizeResource, specialAttribute, valueAt } from './resource.js';
import { coerceFor, coerceOne, coerceValue, memberRefs, type MemberRef } from './values.js';
import { PATCH_OP_SCHEMA, type AttributeDef, type ResourceTypeDef, type SchemaDef } from './schema.js';

export type PatchOpName = 'add' | 'remove' | 'replace';

export interface PatchOperation {
  op: PatchOpName;
  /** As sent; validated by parsePatchPath. Undefined when absent or null. */
  path?: unknown;
  value?: unknown;
  /** Whether the operation has a `value` member at all (null counts). */
  hasValue: boolean;
}

/**
 * The net effect of a PATCH on a Group's membership, in one of two forms:
 *
 *   incremental  `{ add, remove }`: add these members, remove these ids,
 *                relative to the current membership. `add` and `remove` are
 *                disjoint; adding a current member or removing a non-member
 *                is a no-op for the database layer to absorb.
 *   absolute     `{ add: [], remove: [], removeAll: true, replaceWith }`: the
 *                membership becomes exactly `replaceWith` (possibly empty).
 *
 * Operations are folded in request order, so the delta means the same as
 * applying them one by one: a remove-all or a replace switches to the
 * absolute form and later adds/removes edit `replaceWith`; in the incremental
 * form the last operation on an id wins (remove then add → add; add then
 * remove → remove). RFC 7644 §3.5.2.2's "remove all members, then add two"
 * example therefore becomes `replaceWith` [those two].
 */
export interface MemberDelta {
  add: MemberRef[];
  remove: string[];
  removeAll?: boolean;
  replaceWith?: MemberRef[];
}

export interface PatchOptions {
  lenient?: boolean;
}

export interface PatchResult {
  /** The new stored resource (a new object; the input is never mutated). */
  resource: Json;
  /** Canonical paths of the JSON attributes that changed; [] when none did. */
  changed: string[];
  /** Groups: set when an operation touched `members`. */
  members?: MemberDelta;
  /** Users: the password an operation set. Never stored; the service decides. */
  password?: string;
}

const noTarget = (detail: string) => badRequest('noTarget', detail);
const mutability = (detail: string) => badRequest('mutability', detail);
const invalidValue = (detail: string) => badRequest('invalidValue', detail);

/** Validate a PatchOp request body (RFC 7644 §3.5.2) into its operations. */
export function parsePatchRequest(body: unknown, ctx: WriteContext): PatchOperation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'A PATCH request body must be a JSON object (RFC 7644 §3.5.2)');
  const schemas = getCi(body, 'schemas');
  const hasUrn = Array.isArray(schemas) && schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase());
  if (!hasUrn && !quirkMissingSchemaUrn(ctx)) {
    throw badRequest('invalidSyntax', `"schemas" must contain "${PATCH_OP_SCHEMA}" (RFC 7644 §3.5.2)`);
  }
  const operations = getCi(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) {
    throw badRequest('invalidSyntax', '"Operations" must be an array of one or more operations (RFC 7644 §3.5.2)');
  }
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw new ScimError(413, `A PATCH request may carry at most ${MAX_PATCH_OPERATIONS} operations; this one has ${operations.length}. Send the changes in several requests`, 'tooMany');
  }
  return operations.map((o, i): PatchOperation => {
    if (!isObject(o)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object`);
    // Operation names are compared case-insensitively: Microsoft Entra ID sends "Add", "Replace", "Remove".
    const name = getCi(o, 'op');
    const op = typeof name === 'string' ? name.toLowerCase() : undefined;
    if (op !== 'add' && op !== 'remove' && op !== 'replace') {
      throw badRequest('invalidSyntax', `Operations[${i}].op must be "add", "remove" or "replace", got ${JSON.stringify(name ?? null)}`);
    }
    const hasValue = Object.keys(o).some((k) => k.toLowerCase() === 'value');
    if (op !== 'remove' && !hasValue) {
      throw invalidValue(`Operations[${i}]: "${op}" requires a "value" (RFC 7644 §3.5.2.1, §3.5.2.3)`);
    }
    const path = getCi(o, 'path');
    return { op, path: path ?? undefined, value: getCi(o, 'value'), hasValue };
  });
}

interface State {
  rt: ResourceTypeDef;
  ctx: WriteContext;
  /** The working copy the operations change. */
  work: Json;
  members: MemberFold;
  password?: string;
  /** valueKey of each element of a multi-valued attribute's array, kept between consecutive adds (appendValues). */
  valueKeys: WeakMap<unknown[], Set<string>>;
}

export function applyPatch(rt: ResourceTypeDef, current: Json, body: unknown, opts: PatchOptions = {}): PatchResult {
  const ctx: WriteContext = { lenient: opts.lenient === true };
  const operations = parsePatchRequest(body, ctx);
  const state: State = { rt, ctx, work: structuredClone(current), members: new MemberFold(), valueKeys: new WeakMap() };
  operations.forEach((op, i) => {
    try {
      applyOperation(state, op);
    } catch (err) {
      throw inOperation(err, i, op);
    }
  });
  const { resource } = normalizeResource(rt, { ...state.work, schemas: [rt.schema] }, { mode: 'replace', existing: current, lenient: ctx.lenient });
  const result: PatchResult = { resource, changed: changedPaths(current, resource) };
  const members = state.members.delta();
  if (members) result.members = members;
  if (state.password !== undefined) result.password = state.password;
  return result;
}

/** The same error, its detail prefixed with the operation it comes from. */
function inOperation(err: unknown, i: number, op: PatchOperation): unknown {
  if (!(err instanceof ScimError)) return err;
  const path = typeof op.path === 'string' ? ` "${op.path}"` : '';
  return new ScimError(err.status, `Operations[${i}] (${op.op}${path}): ${err.message}`, err.scimType, err.headers);
}

function applyOperation(state: State, op: PatchOperation): void {
  const extension = quirkExtensionUrnPath(state.ctx, state.rt, op.path);
  if (extension) return applyExtensionOperation(state, op, extension);
  if (op.path !== undefined) {
    applyAt(state, op.op, parsePatchPath(state.rt, op.path, state.ctx), op.value, op.hasValue);
    return;
  }
  if (op.op === 'remove') throw noTarget('"remove" requires a "path" (RFC 7644 §3.5.2.2)');
  // §3.5.2.1/§3.5.2.3: without path the target is the resource itself and the
  // value holds the attributes, by name, dotted name or fully qualified URN.
  if (!isObject(op.value)) {
    throw invalidValue(`Without a "path", the value of "${op.op}" must be an object of attributes, got ${JSON.stringify(op.value)}`);
  }
  for (const { r, value } of assignments(state.rt, op.value)) {
    applyAt(state, op.op, { text: r.path, attr: r }, value, true);
  }
}

/**
 * An operation whose path is a whole extension (quirkExtensionUrnPath):
 * `remove` (or `replace` with null) clears the extension; `add` and `replace`
 * set the attributes its value names and keep the others, as for a singular
 * complex attribute (RFC 7644 §3.5.2.1, §3.5.2.3).
 */
function applyExtensionOperation(state: State, op: PatchOperation, extension: SchemaDef): void {
  if (op.op === 'remove' || (op.op === 'replace' && op.value === null)) {
    for (const key of Object.keys(state.work)) if (key.toLowerCase() === extension.id.toLowerCase()) delete state.work[key];
    return;
  }
  if (op.value === null) return;
  if (!isObject(op.value)) {
    throw invalidValue(`The value of "${op.op}" on the extension "${extension.id}" must be an object of its attributes, got ${describe(op.value)}`);
  }
  for (const { r, value } of assignments(state.rt, { [extension.id]: op.value })) {
    applyAt(state, op.op, { text: r.path, attr: r }, value, true);
  }
}

function applyAt(state: State, op: PatchOpName, path: PatchPath, value: unknown, hasValue: boolean): void {
  const r = path.attr;
  switch (specialAttribute(state.rt, r)) {
    case 'members':
      return patchMembers(state, op, path, value, hasValue);
    case 'password':
      // writeOnly and never stored (RFC 7643 §4.1.1): removing it changes nothing.
      if (op !== 'remove') {
        const password = coerceFor(r, value, state.ctx);
        if (password !== undefined) state.password = password as string;
      }
      return;
  }
  checkMutability(state.work, op, path, value);
  if (op === 'add' && value === null) return; // null is "unassigned" (RFC 7643 §2.5): nothing to add

  const container = containerOf(state.work, r, op !== 'remove');
  if (!container) return; // removing from an extension that has no values
  const key = keyOf(container, r);
  const target: Target = { state, op, path, container, key, value, hasValue };
  if (path.filter) patchFiltered(target, path.filter);
  else if (r.sub && r.attribute.multiValued) patchEverySub(target, r.sub);
  else if (r.sub) patchSub(target, r.sub);
  else patchWhole(target);
  tidy(container, key);
}

interface Target {
  state: State;
  op: PatchOpName;
  path: PatchPath;
  /** The resource or its extension object. */
  container: Json;
  key: string;
  value: unknown;
  hasValue: boolean;
}

const removes = (op: PatchOpName, value: unknown) => op === 'remove' || (op === 'replace' && value === null);

/** RFC 7643 §2.2 mutability and RFC 7644 §3.5.2/§3.5.2.2: what a PATCH may not touch. */
function checkMutability(work: Json, op: PatchOpName, { attr: r, text, filter }: PatchPath, value: unknown): void {
  const leaf = r.sub ?? r.attribute;
  if (r.attribute.mutability === 'readOnly' || leaf.mutability === 'readOnly') {
    throw mutability(`"${text}" is readOnly and cannot be modified (RFC 7643 §2.2)`);
  }
  if (r.attribute.mutability === 'immutable' || leaf.mutability === 'immutable') {
    // §3.5.2: "a client MAY "add" a value to an "immutable" attribute if the attribute had no previous value".
    const before = r.attribute.multiValued ? valueAt(work, { ...r, sub: undefined }) : valueAt(work, r);
    if (before !== undefined) throw mutability(`"${text}" is immutable and already has a value (RFC 7643 §2.2)`);
    if (op !== 'add') throw mutability(`"${text}" is immutable; it can only be added while it has no value (RFC 7644 §3.5.2)`);
  }
  if (removes(op, value) && !filter && !r.sub && r.attribute.required) {
    throw mutability(`"${text}" is required and cannot be removed (RFC 7644 §3.5.2.2)`);
  }
}

function elementsOf(t: Target): unknown[] {
  const v = own(t.container, t.key);
  return Array.isArray(v) ? v : [];
}

/** The attribute as a whole: `emails`, `active`, `name`, `urn:…:manager`. */
function patchWhole(t: Target): void {
  const r = t.path.attr;
  const def = r.attribute;
  const { state, op, container, key } = t;
  if (op === 'remove') {
    if (def.multiValued && t.hasValue && t.value !== null) removeValues(t, def);
    else delete container[key];
    return;
  }
  const v = coerceFor(r, t.value, state.ctx, t.path.text);
  if (v === undefined) {
    // replace with null, or with no values at all, unassigns; an object with
    // nothing assignable in it ({}, only readOnly sub-attributes) changes nothing.
    if (op === 'replace' && (t.value === null || def.multiValued)) delete container[key];
    return;
  }
  if (def.multiValued) {
    if (op === 'replace') container[key] = v;
    else appendValues(t, v as unknown[]);
  } else if (def.type === 'complex') {
    // Complex: the given sub-attributes are set, the others left unchanged (§3.5.2.1, §3.5.2.3).
    const prior = own(container, key);
    container[key] = { ...(isObject(prior) ? prior : {}), ...(v as Json) };
  } else {
    container[key] = v;
  }
}

/** Add values to a multi-valued attribute; a value already present is not added again (§3.5.2.1). */
function appendValues(t: Target, values: unknown[]): void {
  const current = elementsOf(t);
  const elements = [...current];
  // By a key of each value rather than comparing every pair, and the keys kept for the next add to the
  // same attribute: a PATCH of many adds stays linear.
  const present = t.state.valueKeys.get(current) ?? new Set(elements.map(valueKey));
  const added = new Set<unknown>();
  for (const v of values) {
    const key = valueKey(v);
    if (present.has(key)) continue;
    present.add(key);
    elements.push(v);
    added.add(v);
  }
  // A value that lost its primary flag has another key now: keep no keys then.
  if (!keepOnePrimary(elements, added)) t.state.valueKeys.set(elements, present);
  t.container[t.key] = elements;
}

/** Equal values (deep, sub-attributes in any order) have equal keys. */
function valueKey(v: unknown): string {
  if (!isObject(v)) return JSON.stringify(v);
  return JSON.stringify(Object.keys(v).sort().map((k) => [k, v[k]]));
}

/** `remove` with a value on a multi-valued attribute: drop the elements equal to one of the given values. */
function removeValues(t: Target, def: AttributeDef): void {
  const given = (coerceValue(def, t.value, t.path.text, t.state.ctx) as unknown[] | undefined) ?? [];
  // Given values that name a `value` are looked up by it (linear); the others are compared one by one.
  const valueDef = def.type === 'complex' ? (def.subAttributes ?? []).find((s) => s.name === 'value') : undefined;
  const fold = (v: unknown) => (typeof v === 'string' && valueDef && !valueDef.caseExact ? v.toLowerCase() : v);
  const byValue = new Map<unknown, unknown[]>();
  const rest: unknown[] = [];
  for (const g of given) {
    if (!valueDef || !isObject(g) || g.value === undefined) {
      rest.push(g);
      continue;
    }
    const list = byValue.get(fold(g.value));
    if (list) list.push(g);
    else byValue.set(fold(g.value), [g]);
  }
  const removed = (e: unknown) => {
    const candidates = valueDef && isObject(e) ? (byValue.get(fold(e.value)) ?? []) : [];
    return candidates.some((g) => sameValue(def, e, g)) || rest.some((g) => sameValue(def, e, g));
  };
  t.container[t.key] = elementsOf(t).filter((e) => !removed(e));
}

/** Whether an element matches a given value: every sub-attribute the given value has is equal (strings per caseExact). */
function sameValue(def: AttributeDef, element: unknown, given: unknown): boolean {
  const equal = (d: AttributeDef, a: unknown, b: unknown) =>
    typeof a === 'string' && typeof b === 'string' && !d.caseExact ? a.toLowerCase() === b.toLowerCase() : a === b;
  if (def.type !== 'complex') return equal(def, element, given);
  if (!isObject(element) || !isObject(given)) return false;
  return (def.subAttributes ?? []).every((sub) => given[sub.name] === undefined || equal(sub, element[sub.name], given[sub.name]));
}

/** A sub-attribute of a singular complex attribute: `name.givenName`, `urn:…:manager.value`. */
function patchSub(t: Target, sub: AttributeDef): void {
  const prior = own(t.container, t.key);
  const obj: Json = isObject(prior) ? { ...prior } : {};
  setOrDelete(t, obj, sub);
  t.container[t.key] = obj;
}

/** A sub-attribute of every value of a multi-valued attribute, without filter: `emails.type`. */
function patchEverySub(t: Target, sub: AttributeDef): void {
  const elements = elementsOf(t);
  if (elements.length === 0 && t.op !== 'remove') {
    throw noTarget(`"${t.path.attr.attribute.name}" has no values to set "${sub.name}" on; add whole values or use a value filter`);
  }
  for (const e of elements) if (isObject(e)) setOrDelete(t, e, sub);
}

/** `attr[filter]` and `attr[filter].sub` (§3.5.2 valuePath). */
function patchFiltered(t: Target, filter: ValidatedFilter): void {
  const def = t.path.attr.attribute;
  const sub = t.path.attr.sub;
  const elements = elementsOf(t);
  const hit = elements.filter((e) => isObject(e) && matches(filter, e)) as Json[];
  const hits = new Set<unknown>(hit);

  if (t.op === 'remove') {
    if (sub) hit.forEach((e) => setOrDelete(t, e, sub));
    else t.container[t.key] = elements.filter((e) => !hits.has(e));
    return;
  }
  if (hit.length === 0) {
    if (t.op === 'replace') {
      throw noTarget(`No value of "${def.name}" matches the filter in "${t.path.text}" (RFC 7644 §3.5.2.3)`);
    }
    const added = newValueFromFilter(t, filter);
    const next = [...elements, added];
    t.container[t.key] = next;
    keepOnePrimary(next, new Set([added]));
    return;
  }
  const changed = new Set<unknown>(hit);
  if (sub) {
    hit.forEach((e) => setOrDelete(t, e, sub));
  } else {
    const v = coerceOne(def, t.value, t.path.text, t.state.ctx) as Json | undefined;
    if (v === undefined) {
      // replace with null: the matched values become unassigned.
      if (t.op === 'replace') t.container[t.key] = elements.filter((e) => !hits.has(e));
      return;
    }
    const next = elements.map((e) => {
      if (!hits.has(e)) return e;
      // add merges the given sub-attributes into the value; replace replaces the value (§3.5.2.3).
      const replaced = t.op === 'replace' ? structuredClone(v) : { ...(e as Json), ...structuredClone(v) };
      changed.add(replaced);
      return replaced;
    });
    t.container[t.key] = next;
    keepOnePrimary(next, changed);
    return;
  }
  keepOnePrimary(elements, changed);
}

/**
 * `add` to a filtered path that matches nothing: "If the target location does
 * not exist, the attribute and value are added" (§3.5.2.1). The new value is
 * made of the filter's equality terms plus the given value, so
 * `add emails[type eq "work"].value "x"` adds {type: "work", value: "x"}.
 * A filter that does not describe a value (`value ew "…"`, `or`) cannot.
 */
function newValueFromFilter(t: Target, filter: ValidatedFilter): Json {
  const def = t.path.attr.attribute;
  const sub = t.path.attr.sub;
  const terms = equalityTerms(filter);
  if (!terms) {
    throw noTarget(
      `No value of "${def.name}" matches the filter in "${t.path.text}", and the filter does not describe a new value (only "eq" comparisons joined by "and" can)`,
    );
  }
  const seed = coerceOne(def, terms, t.path.text, t.state.ctx) as Json | undefined;
  const given = sub
    ? { [sub.name]: coerceFor(t.path.attr, t.value, t.state.ctx, t.path.text) }
    : (coerceOne(def, t.value, t.path.text, t.state.ctx) as Json | undefined);
  const element: Json = { ...seed, ...given };
  for (const k of Object.keys(element)) if (element[k] === undefined) delete element[k];
  return element;
}

/** `type eq "work" and primary eq true` → {type: "work", primary: true}; undefined for anything else. */
function equalityTerms(f: ValidatedFilter): Json | undefined {
  if (f.kind === 'compare' && String(f.op).toLowerCase() === 'eq' && f.attr.sub) return { [f.attr.sub.name]: f.value };
  if (f.kind !== 'and') return undefined;
  const out: Json = {};
  for (const part of f.filters) {
    const terms = equalityTerms(part);
    if (!terms) return undefined;
    Object.assign(out, terms);
  }
  return out;
}

/** Set (add/replace) or delete (remove, or a null value) one sub-attribute of a complex value. */
function setOrDelete(t: Target, obj: Json, sub: AttributeDef): void {
  const v = t.op === 'remove' ? undefined : coerceFor(t.path.attr, t.value, t.state.ctx, t.path.text);
  if (v === undefined) delete obj[sub.name];
  else obj[sub.name] = v;
}

/** "primary" is unique (RFC 7643 §2.4): when a changed value became primary, the others stop being primary. */
function keepOnePrimary(elements: unknown[], changed: Set<unknown>): boolean {
  if (![...changed].some((e) => isObject(e) && e.primary === true)) return false;
  let demoted = false;
  for (const e of elements) {
    if (!changed.has(e) && isObject(e) && e.primary === true) {
      e.primary = false;
      demoted = true;
    }
  }
  return demoted;
}

/** Drop values left empty by a removal: empty complex values, then an empty attribute. */
function tidy(container: Json, key: string): void {
  const v = own(container, key);
  if (Array.isArray(v)) {
    const kept = v.filter((e) => !(isObject(e) && Object.keys(e).length === 0));
    if (kept.length === 0) delete container[key];
    else if (kept.length !== v.length) container[key] = kept;
  } else if (isObject(v) && Object.keys(v).length === 0) {
    delete container[key];
  }
}

// ---------------------------------------------------------------------------
// Group members
// ---------------------------------------------------------------------------

/** Folds member operations, in order, into one MemberDelta (see there). */
class MemberFold {
  #touched = false;
  #absolute?: Map<string, MemberRef>;
  #add = new Map<string, MemberRef>();
  #remove = new Set<string>();

  add(refs: MemberRef[]): void {
    this.#touched = true;
    for (const ref of refs) {
      if (this.#absolute) this.#absolute.set(ref.value, ref);
      else {
        this.#remove.delete(ref.value);
        this.#add.set(ref.value, ref);
      }
    }
  }

  remove(ids: string[]): void {
    this.#touched = true;
    for (const id of ids) {
      if (this.#absolute) this.#absolute.delete(id);
      else {
        this.#add.delete(id);
        this.#remove.add(id);
      }
    }
  }

  replace(refs: MemberRef[]): void {
    this.#touched = true;
    this.#absolute = new Map(refs.map((r) => [r.value, r]));
    this.#add.clear();
    this.#remove.clear();
  }

  delta(): MemberDelta | undefined {
    if (!this.#touched) return undefined;
    if (this.#absolute) return { add: [], remove: [], removeAll: true, replaceWith: [...this.#absolute.values()] };
    return { add: [...this.#add.values()], remove: [...this.#remove] };
  }
}

/**
 * `members` operations. Members are references, so only whole members are
 * added, removed or replaced; their sub-attributes (value, type and $ref are
 * immutable, display is readOnly) are never patched. Filters select ids:
 * `members[value eq "a"]`, `members[value eq "a" or value eq "b"]`.
 */
function patchMembers(state: State, op: PatchOpName, path: PatchPath, value: unknown, hasValue: boolean): void {
  const def = path.attr.attribute;
  if (path.attr.sub) {
    throw badRequest('invalidPath', `"${path.text}": a member's sub-attributes cannot be patched; add or remove whole members`);
  }
  if (path.filter) {
    if (op !== 'remove') {
      throw badRequest('invalidPath', `"${path.text}": a filtered members path is supported by "remove" only; use "${op}" on "members"`);
    }
    state.members.remove(memberIdsOf(path.filter, path.text));
    return;
  }
  if (op === 'remove') {
    // Microsoft Entra ID removes members with {"op":"Remove","path":"members","value":[{"value":"<id>"}]}.
    if (hasValue && value !== null) state.members.remove(memberRefs(def, value, state.ctx).map((m) => m.value));
    else state.members.replace([]);
  } else if (op === 'add') {
    state.members.add(memberRefs(def, value, state.ctx));
  } else {
    state.members.replace(memberRefs(def, value, state.ctx));
  }
}

/** Member ids named by `value eq "id"` comparisons joined by `or`; any other member filter is refused. */
function memberIdsOf(filter: ValidatedFilter, text: string): string[] {
  const ids = (f: ValidatedFilter): string[] | undefined => {
    if (f.kind === 'compare') {
      const ok = String(f.op).toLowerCase() === 'eq' && f.attr.sub?.name === 'value' && typeof f.value === 'string';
      return ok ? [f.value as string] : undefined;
    }
    if (f.kind !== 'or') return undefined;
    const all: string[] = [];
    for (const part of f.filters) {
      const some = ids(part);
      if (!some) return undefined;
      all.push(...some);
    }
    return all;
  };
  const found = ids(filter);
  if (!found) {
    throw badRequest(
      'invalidFilter',
      `"${text}": members can be selected only by id, as value eq "<id>" comparisons joined by "or"`,
    );
  }
  return found;
}

/**
 * IdP quirks: what real clients send that the RFCs do not allow, accepted
 * for tenants in lenient compatibility only (each function answers "not
 * accepted" in strict mode). They are handled here and nowhere else; each
 * names the client that sends it and where that is documented.
 */
import { schemasOf, tryResolveAttrPath, type ResolvedAttr } from './attributes.js';
import type { Json } from './json.js';
import { findAttribute, type AttributeDef, type ResourceTypeDef, type SchemaDef } from './schema.js';

/** Options shared by normalisation and PATCH. */
export interface WriteContext {
  lenient: boolean;
}


/**
 * Booleans as strings. Microsoft Entra ID, without the aadOptscim062020
 * flag, disables users with `{"op":"Replace","path":"active","value":"False"}`
 * (Microsoft's "Known issues ... SCIM 2.0 protocol compliance" page).
 * RFC 7643 §2.3.2 requires JSON true/false. Only "true"/"false" in any case.
 */
export function quirkBooleanString(ctx: WriteContext, v: unknown): boolean | undefined {
  if (!ctx.lenient || typeof v !== 'string') return undefined;
  const lower = v.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

/**
 * A bare id for a singular complex attribute. Microsoft Entra ID sets the
 * enterprise `manager` (complex, RFC 7643 §4.3) as
 * `{"op":"Add","path":"urn:…:enterprise:2.0:User:manager","value":"<id>"}`
 * (reported by SCIM implementers; Microsoft's published samples do not show
 * it; test/fixtures/entra/session-*.json "link uNN to manager (bare id)").
 * A string given for a singular complex attribute that has a `value`
 * sub-attribute is read as `{ value }`. Not for multi-valued attributes:
 * `"emails": "x"` is 400 in every mode, no client needs it read otherwise.
 */
export function quirkComplexFromString(ctx: WriteContext, def: AttributeDef, v: unknown): Json | undefined {
  if (!ctx.lenient || def.multiValued || typeof v !== 'string' || !findAttribute(def.subAttributes ?? [], 'value')) return undefined;
  return { value: v };
}

/**
 * A blank `type` (`"type": ""`), as IdP attribute mappings that leave the
 * type unmapped produce. Read as unassigned; strict mode stores the empty
 * string, which is a valid string.
 */
export function quirkBlankType(ctx: WriteContext, sub: AttributeDef, v: unknown): boolean {
  return ctx.lenient && sub.name === 'type' && typeof v === 'string' && v.trim() === '';
}

/**
 * More than one value marked `"primary": true` (RFC 7643 §2.4 allows at most
 * one). The first keeps it, the others are set to false.
 */
export function quirkManyPrimaries(ctx: WriteContext, primaries: Json[]): boolean {
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
export function quirkSingleElementArray(ctx: WriteContext, def: AttributeDef, v: unknown): unknown {
  return ctx.lenient && !def.multiValued && Array.isArray(v) && v.length === 1 ? v[0] : v;
}

/**
 * A PATCH path that is a whole extension schema URN
 * (`"path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`),
 * outside RFC 7644 §3.10's attrPath grammar. python-scim's scim2-tester sends
 * `remove` of it and reports a refusal as a deviation
 * (test/fixtures/clients/scim2-tester-remove-extension-root.json); clients
 * that build PATCHes from a resource's JSON send `add`/`replace` with the
 * extension's object. Read as the extension, see applyExtensionOperation in
 * src/scim/patch.ts.
 */
export function quirkExtensionUrnPath(ctx: WriteContext, rt: ResourceTypeDef, path: unknown): SchemaDef | undefined {
  if (!ctx.lenient || typeof path !== 'string') return undefined;
  const lower = path.trim().toLowerCase();
  return schemasOf(rt)
    .slice(1)
    .find((s) => s.id.toLowerCase() === lower);
}

/**
 * A request whose `schemas` is missing or lacks the URN it must contain: a
 * resource body without its core schema (RFC 7643 §3), a PATCH body without
 * the PatchOp message URN (RFC 7644 §3.5.2). The URN is assumed.
 */
export function quirkMissingSchemaUrn(ctx: WriteContext): boolean {
  return ctx.lenient;
}

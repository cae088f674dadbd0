/**
 * Resolving attribute paths (RFC 7644 §3.10 `attrPath`) against a resource
 * type's schemas. Used by filters, PATCH paths, sorting and the
 * attributes/excludedAttributes parameters.
 *
 *   userName                                   → core attribute
 *   name.givenName                             → core sub-attribute
 *   urn:ietf:params:scim:schemas:core:2.0:User:userName → fully qualified core
 *   urn:…:enterprise:2.0:User:department       → extension attribute
 *   urn:…:enterprise:2.0:User:manager.value    → extension sub-attribute
 *   urn:…:enterprise:2.0:User:customfield      → tenant custom field (string)
 *   meta.lastModified, id, externalId          → common attributes (RFC 7643 §3.1)
 */
import { badRequest, type ScimType } from './errors.js';
import {
  commonAttributes,
  customAttribute,
  ENTERPRISE_USER_SCHEMA,
  findAttribute,
  schemaById,
  type AttributeDef,
  type ResourceTypeDef,
  type SchemaDef,
} from './schema.js';

export interface ResolvedAttr {
  /** URN of the schema that defines the attribute; '' for common attributes (id, externalId, meta). */
  schema: string;
  /** True when the attribute lives in an extension schema (stored under resource[schema]). */
  extension: boolean;
  /** The top-level attribute. */
  attribute: AttributeDef;
  /** The sub-attribute, when the path names one (`name.givenName`, `emails.value`). */
  sub?: AttributeDef;
  /** A customer-defined enterprise field not in RFC 7643's schema. */
  custom: boolean;
  /** Canonical path: schema-relative for the core schema, `urn:…:attr[.sub]` for extensions. */
  path: string;
}

/** The attribute that a resolved path finally names (the sub-attribute if any). */
export function leaf(r: ResolvedAttr): AttributeDef {
  return r.sub ?? r.attribute;
}

/** Schemas a resource type can carry: core first, then extensions. */
export function schemasOf(rt: ResourceTypeDef): SchemaDef[] {
  return [rt.schema, ...rt.schemaExtensions.map((e) => e.schema)].map((id) => schemaById(id)!);
}

/**
 * Split `urn:…:User:department.sub` into schema URN and remainder, if `path`
 * starts with one of the resource type's schema URNs (case-insensitive).
 */
export function splitSchemaPrefix(rt: ResourceTypeDef, path: string): { schema: string; rest: string } | undefined {
  // Schema URNs contain colons and attribute names cannot (RFC 7643 §2.1): most paths stop here.
  if (!path.includes(':')) return undefined;
  const lower = path.toLowerCase();
  for (const s of schemasOf(rt)) {
    const id = s.id.toLowerCase();
    if (lower.startsWith(id + ':')) return { schema: s.id, rest: path.slice(id.length + 1) };
  }
  return undefined;
}

/**
 * Resolve a dotted attribute path. Throws a 400 with the given scimType
 * (invalidFilter for filters, invalidPath for PATCH, invalidValue elsewhere)
 * naming the unknown part.
 */
export function resolveAttrPath(rt: ResourceTypeDef, path: string, scimType: ScimType = 'invalidFilter'): ResolvedAttr {
  const resolved = tryResolveAttrPath(rt, path);
  if (!resolved) throw badRequest(scimType, `Unknown attribute "${path}" for resource type ${rt.name}`);
  return resolved;
}

export function tryResolveAttrPath(rt: ResourceTypeDef, path: string): ResolvedAttr | undefined {
  if (!path) return undefined;
  const prefixed = splitSchemaPrefix(rt, path);
  const core = schemaById(rt.schema)!;
  let schema: SchemaDef;
  let rest: string;
  if (prefixed) {
    schema = schemaById(prefixed.schema)!;
    rest = prefixed.rest;
  } else {
    schema = core;
    rest = path;
  }
  const extension = schema.id !== core.id;
  const dot = rest.indexOf('.');
  const name = dot < 0 ? rest : rest.slice(0, dot);
  const subName = dot < 0 ? undefined : rest.slice(dot + 1);
  if (!name || subName === '' || subName?.includes('.')) return undefined;

  let attribute = findAttribute(schema.attributes, name);
  let owner = schema.id;
  let custom = false;
  if (!attribute && !extension) {
    attribute = findAttribute(commonAttributes, name);
    owner = '';
  }
  if (!attribute && schema.id === ENTERPRISE_USER_SCHEMA && /^[A-Za-z][\w-]*$/.test(name) && subName === undefined) {
    attribute = customAttribute(name);
    custom = true;
  }
  if (!attribute) return undefined;

  let sub: AttributeDef | undefined;
  if (subName !== undefined) {
    if (attribute.type !== 'complex') return undefined;
    sub = findAttribute(attribute.subAttributes ?? [], subName);
    if (!sub) return undefined;
  }
  const canonical = sub ? `${attribute.name}.${sub.name}` : attribute.name;
  const result: ResolvedAttr = {
    schema: owner,
    extension,
    attribute,
    custom,
    path: extension ? `${schema.id}:${canonical}` : canonical,
  };
  if (sub) result.sub = sub;
  return result;
}

/**
 * Resolve a sub-attribute name relative to a multi-valued complex attribute,
 * as used inside value filters: `emails[type eq "work"]` → emails.type.
 * A complex multi-valued attribute without sub-attributes of its own is
 * not filterable this way.
 */
export function resolveSubAttr(parent: ResolvedAttr, name: string): ResolvedAttr | undefined {
  const sub = findAttribute(parent.attribute.subAttributes ?? [], name);
  if (!sub) return undefined;
  const canonical = `${parent.attribute.name}.${sub.name}`;
  return {
    schema: parent.schema,
    extension: parent.extension,
    attribute: parent.attribute,
    sub,
    custom: false,
    path: parent.extension ? `${parent.schema}:${canonical}` : canonical,
  };
}

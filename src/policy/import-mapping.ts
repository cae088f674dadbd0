/**
 * The column mapping of file imports (README "Importing files"), declared
 * once: the TypeBox schema is the type, the admin API's validation and its
 * OpenAPI document. Pure: a CSV row in, a SCIM user (stored shape) or the
 * reasons it is rejected out; no SQL, no Fastify.
 */
import { Type, type Static } from 'typebox';
import { tryResolveAttrPath, type ResolvedAttr } from '../scim/attributes.js';
import { badRequest, ScimError } from '../scim/errors.js';
import { isObject, type Json } from '../scim/json.js';
import { normalizeResource } from '../scim/resource.js';
import { PATCH_OP_SCHEMA, USER_SCHEMA, userResourceType as RT } from '../scim/schema.js';

/** At most this many data rows per file (the header not counted). */
export const IMPORT_MAX_ROWS = 1_000_000;
/** At most this many bytes per file. */
export const IMPORT_MAX_BYTES = 512 * 1024 * 1024;
/** A row's email (key or mapped column) must look like an address: something@domain.tld, no spaces. */
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@.]+$/;
/** The type a multi-valued attribute's entry gets (emails, phoneNumbers, addresses). */
const ENTRY_TYPE = 'work';

export const ImportMappingSchema = Type.Object(
  {
    key: Type.Union([Type.Literal('externalId'), Type.Literal('email')], {
      description: 'How a row finds its user: the column mapped to externalId, or to emails (compared case-insensitively)',
    }),
    columns: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
      description:
        'CSV column → SCIM attribute path: userName, name.givenName, emails (the work address), phoneNumbers, title, urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department, …:User:<custom field>. Columns not named are ignored',
    }),
    status: Type.Optional(
      Type.Object(
        {
          column: Type.String({ minLength: 1 }),
          active: Type.Array(Type.String(), { minItems: 1, description: 'Values meaning active (case-insensitive)' }),
          inactive: Type.Array(Type.String(), { description: 'Values meaning inactive (case-insensitive); any other value rejects the row' }),
        },
        { additionalProperties: false, description: 'The status column; without it every row of the file is an active user' },
      ),
    ),
    missing: Type.Optional(
      Type.Union([Type.Literal('deactivate'), Type.Literal('delete')], { description: 'What happens to users missing from the file: deactivate (default) or delete' }),
    ),
    ownsMissing: Type.Optional(
      Type.Boolean({ description: 'Users missing from the file are deactivated (or deleted) even if an IdP created them over SCIM; default false: only users a file created' }),
    ),
    autoApply: Type.Optional(
      Type.Boolean({ description: 'Files from the watched directory (IMPORT_WATCH_DIR) are applied at once; default false: they wait for review' }),
    ),
    owns: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'The attributes the file owns: only these are written when a user is updated (default: every mapped attribute, and active)',
      }),
    ),
  },
  { additionalProperties: false },
);

export type ImportMapping = Static<typeof ImportMappingSchema>;

interface Target {
  column: string;
  attr: ResolvedAttr;
}

/** A mapping checked against the user schema and the file's header. */
export interface CompiledMapping {
  mapping: ImportMapping;
  targets: Target[];
  /** Canonical paths written on update (changedPaths' granularity). */
  owned: Set<string>;
  /** Header index of each mapped column. */
  index: Map<string, number>;
}

/** The path changedPaths (src/scim/diff.ts) reports for a change of `r`. */
function ownedPath(r: ResolvedAttr): string {
  if (r.extension) return `${r.schema}:${r.attribute.name}`;
  return r.sub && !r.attribute.multiValued ? `${r.attribute.name}.${r.sub.name}` : r.attribute.name;
}

function resolve(path: string, where: string): ResolvedAttr {
  const r = tryResolveAttrPath(RT, path);
  if (!r) throw badRequest('invalidValue', `${where}: "${path}" is not an attribute of a User`);
  if (r.attribute.mutability === 'readOnly' || r.attribute.name === 'password' || r.attribute.name === 'groups') {
    throw badRequest('invalidValue', `${where}: "${path}" cannot be written by a file`);
  }
  if (r.attribute.type === 'complex' && !r.sub && !r.attribute.subAttributes?.some((s) => s.name === 'value')) {
    throw badRequest('invalidValue', `${where}: "${path}" is complex; name one of its sub-attributes (e.g. name.givenName)`);
  }
  return r;
}

/** Check a mapping alone (a saved one): every path resolves, the key column is mapped. */
export function checkMapping(mapping: ImportMapping): { targets: Target[]; owned: Set<string> } {
  const targets = Object.entries(mapping.columns).map(([column, path]) => ({ column, attr: resolve(path, `columns["${column}"]`) }));
  const keyMapped = targets.some((t) => (mapping.key === 'email' ? t.attr.attribute.name === 'emails' : t.attr.attribute.name === 'externalId'));
  if (!keyMapped) throw badRequest('invalidValue', `key is ${mapping.key}, but no column is mapped to ${mapping.key === 'email' ? 'emails' : 'externalId'}`);
  const owned = mapping.owns ? new Set(mapping.owns.map((p, i) => ownedPath(resolve(p, `owns[${i}]`)))) : new Set([...targets.map((t) => ownedPath(t.attr)), 'active']);
  return { targets, owned };
}

/** The mapping against the file's header: every mapped column (and the status column) must be in it. */
export function compileMapping(mapping: ImportMapping, header: string[]): CompiledMapping {
  const { targets, owned } = checkMapping(mapping);
  const index = new Map<string, number>();
  const names = header.map((h) => h.trim());
  for (const column of [...targets.map((t) => t.column), ...(mapping.status ? [mapping.status.column] : [])]) {
    const i = names.indexOf(column.trim());
    if (i < 0) throw badRequest('invalidValue', `The mapping's column "${column}" is not in the file's header (${names.map((n) => `"${n}"`).join(', ')})`);
    index.set(column, i);
  }
  return { mapping, targets, owned, index };
}

export type MappedRow = { ok: true; key: string; resource: Json } | { ok: false; key: string | null; reason: string };

/** A cell as the attribute's type: booleans and numbers written as text become values; anything else is left for the schema to reject. */
function typed(attr: ResolvedAttr, text: string): unknown {
  const type = (attr.sub ?? attr.attribute).type;
  if (type === 'boolean' && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  if ((type === 'integer' || type === 'decimal') && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function place(body: Json, attr: ResolvedAttr, value: unknown): void {
  const holder = attr.extension ? ((body[attr.schema] ??= {}) as Json) : body;
  const name = attr.attribute.name;
  if (attr.attribute.multiValued) {
    // One work entry per attribute; columns naming its sub-attributes fill the same entry.
    const list = ((holder[name] ??= [{ type: ENTRY_TYPE, primary: true }]) as Json[])[0]!;
    list[attr.sub?.name ?? 'value'] = value;
  } else if (attr.attribute.type === 'complex') {
    ((holder[name] ??= {}) as Json)[attr.sub?.name ?? 'value'] = value;
  } else {
    holder[name] = value;
  }
}

/** Why the cell cannot be stored, if it cannot. */
function badText(text: string): string | undefined {
  if (text.includes('\uFFFD')) return 'is not valid UTF-8 (save the file as UTF-8)';
  if (text.includes('\u0000')) return 'contains a NUL character';
  return undefined;
}

/** One data row → the user it describes (stored shape, validated by normalizeResource), or why it is rejected. */
export function mapRow(c: CompiledMapping, header: string[], fields: string[], lenient: boolean): MappedRow {
  if (fields.length !== header.length) return { ok: false, key: null, reason: `has ${fields.length} fields, the header has ${header.length}` };
  const body: Json = { schemas: [USER_SCHEMA] };
  // The key as written, so that a row rejected for another reason still says whose it is.
  const keyTarget = c.targets.find((t) => (c.mapping.key === 'email' ? t.attr.attribute.name === 'emails' && (t.attr.sub?.name ?? 'value') === 'value' : t.attr.attribute.name === 'externalId'));
  let key: string | null = (keyTarget && fields[c.index.get(keyTarget.column)!]?.trim()) || null;
  for (const { column, attr } of c.targets) {
    const text = fields[c.index.get(column)!]!.trim();
    if (text === '') continue;
    const bad = badText(text);
    if (bad) return { ok: false, key, reason: `column "${column}" ${bad}` };
    if (attr.attribute.name === 'emails' && (attr.sub?.name ?? 'value') === 'value' && !EMAIL_RE.test(text)) {
      return { ok: false, key, reason: `column "${column}": "${text}" is not an email address` };
    }
    place(body, attr, typed(attr, text));
  }
  const status = c.mapping.status;
  if (status) {
    const v = fields[c.index.get(status.column)!]!.trim();
    const is = (list: string[]) => list.some((s) => s.trim().toLowerCase() === v.toLowerCase());
    if (is(status.active)) body.active = true;
    else if (is(status.inactive)) body.active = false;
    else return { ok: false, key, reason: `column "${status.column}": "${v}" is neither active (${status.active.join(', ')}) nor inactive (${status.inactive.join(', ') || 'none'})` };
  } else {
    body.active = true;
  }
  const email = Array.isArray(body.emails) ? (body.emails as Json[])[0]?.value : undefined;
  key = c.mapping.key === 'email' ? (typeof email === 'string' ? email.toLowerCase() : null) : typeof body.externalId === 'string' ? body.externalId : null;
  if (key === null) return { ok: false, key, reason: `missing key: no ${c.mapping.key === 'email' ? 'email' : 'externalId'}` };
  // Without a userName column, the email names the user (the key when the key is the email).
  if (body.userName === undefined && typeof email === 'string') body.userName = email;
  try {
    return { ok: true, key, resource: normalizeResource(RT, body, { mode: 'create', lenient }).resource };
  } catch (err) {
    if (err instanceof ScimError) return { ok: false, key, reason: err.message };
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Update: only the attributes the file owns
// ---------------------------------------------------------------------------

/** The value at a changedPaths path: `a`, `a.b`, `urn:…:User:a`. */
export function valueAt(resource: Json, path: string): unknown {
  if (path.startsWith('urn:')) {
    const i = path.lastIndexOf(':');
    const ext = resource[path.slice(0, i)];
    return isObject(ext) ? ext[path.slice(i + 1)] : undefined;
  }
  const [a, b] = path.split('.') as [string, string | undefined];
  const v = resource[a];
  return b === undefined ? v : isObject(v) ? v[b] : undefined;
}

function setAt(resource: Json, path: string, value: unknown): void {
  if (path.startsWith('urn:')) {
    const i = path.lastIndexOf(':');
    const urn = path.slice(0, i);
    const ext = isObject(resource[urn]) ? { ...(resource[urn] as Json) } : {};
    if (value === undefined) delete ext[path.slice(i + 1)];
    else ext[path.slice(i + 1)] = value;
    resource[urn] = ext;
    return;
  }
  const [a, b] = path.split('.') as [string, string | undefined];
  if (b === undefined) {
    if (value === undefined) delete resource[a];
    else resource[a] = value;
    return;
  }
  const sub = isObject(resource[a]) ? { ...(resource[a] as Json) } : {};
  if (value === undefined) delete sub[b];
  else sub[b] = value;
  resource[a] = sub;
}

/** The existing user with the owned attributes taken from the file, normalised as a PUT would be. */
export function overlay(existing: Json, fromFile: Json, owned: Iterable<string>, lenient: boolean): Json {
  const merged = structuredClone(existing);
  for (const path of owned) setAt(merged, path, structuredClone(valueAt(fromFile, path)));
  return normalizeResource(RT, merged, { mode: 'replace', existing, lenient }).resource;
}

/** A PATCH (RFC 7644 §3.5.2) writing exactly the changed paths to their values in `target`. */
export function patchFor(target: Json, changed: string[]): Json {
  return {
    schemas: [PATCH_OP_SCHEMA],
    Operations: changed.map((path) => {
      const value = valueAt(target, path);
      return value === undefined ? { op: 'remove', path } : { op: 'replace', path, value };
    }),
  };
}

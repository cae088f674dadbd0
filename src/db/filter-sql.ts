/**
 * Compiling validated SCIM filters (RFC 7644 §3.4.2.2) and sort keys
 * (§3.4.2.3) to SQL over `users as u` and `groups as g`. Values are always
 * bound parameters. Semantics match `matches()` in src/scim/filter.ts:
 * - attributes with a column are compared on the column, so the indexes of
 *   migrations/0001_init.ts apply (userName via lower(user_name), externalId,
 *   emails through the email_values GIN index);
 * - everything else reads the resource JSONB; text is compared under
 *   COLLATE "C" and case-insensitive attributes through lower(), which under
 *   "C" folds ASCII letters only, on every server and on PGlite alike;
 * - absent values never satisfy a comparison (except `ne`, the negation of
 *   `eq`), and negations use `is not true` so that NULL never leaks through.
 */
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { leaf, resolveSubAttr, type ResolvedAttr } from '../scim/attributes.js';
import { badRequest } from '../scim/errors.js';
import { asciiLower, isElementAttr, type CompareOp, type ValidatedFilter } from '../scim/filter.js';
import type { AttributeDef } from '../scim/schema.js';

type Expr = RawBuilder<unknown>;

/** One value of an attribute, as an SQL expression of a known kind. */
type Scalar =
  | { kind: 'text' | 'uuid' | 'bool' | 'time' | 'json'; sql: Expr }
  /** Not stored in a way SQL can reach (e.g. meta.location depends on the request's base URL). */
  | { kind: 'none' };

/** The values of a multi-valued attribute: rows to range over, and how to read an element. */
interface Elements {
  from: Expr;
  /** Joins the rows to the resource (relations); JSON arrays need none. */
  where?: Expr;
  /** A sub-attribute of the element, or the element itself (multi-valued simple attributes). */
  field(sub: AttributeDef | undefined): Scalar;
  /** The sort key of the attribute (§3.4.2.3), given the key of one element. */
  pick(key: Expr): Expr;
}

interface Table {
  alias: 'u' | 'g';
  /** Column-backed attributes, by ResolvedAttr.path. */
  columns: Record<string, Scalar>;
  /** Multi-valued attributes kept in rows rather than in the resource JSON (a user's groups, a group's members). */
  relations: Record<string, Elements>;
}

const ref = (column: string): Expr => sql.ref(column);
const constText = (value: string): Scalar => ({ kind: 'text', sql: sql`(${value}::text) collate "C"` });
const NOT_IN_SQL: Scalar = { kind: 'none' };

const UUID_EXACT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function metaColumns(alias: 'u' | 'g', resourceType: string): Record<string, Scalar> {
  return {
    id: { kind: 'uuid', sql: ref(`${alias}.id`) },
    externalId: { kind: 'text', sql: ref(`${alias}.external_id`) },
    'meta.created': { kind: 'time', sql: ref(`${alias}.created`) },
    'meta.lastModified': { kind: 'time', sql: ref(`${alias}.last_modified`) },
    'meta.resourceType': constText(resourceType),
    // etagOf() in src/scim/representation.ts
    'meta.version': { kind: 'text', sql: sql`('W/"' || ${ref(`${alias}.version`)} || '"') collate "C"` },
    'meta.location': NOT_IN_SQL,
  };
}

function relation(from: Expr, where: Expr, fields: Record<string, Scalar>): Elements {
  return {
    from,
    where,
    field: (sub) => (sub && fields[sub.name]) || NOT_IN_SQL,
    pick: (key) => sql`(select min((${key})::text) from ${from} where ${where})`,
  };
}

const USERS: Table = {
  alias: 'u',
  columns: {
    ...metaColumns('u', 'User'),
    userName: { kind: 'text', sql: ref('u.user_name') },
    displayName: { kind: 'text', sql: ref('u.display_name') },
    'name.givenName': { kind: 'text', sql: ref('u.given_name') },
    'name.familyName': { kind: 'text', sql: ref('u.family_name') },
    active: { kind: 'bool', sql: ref('u.active') },
  },
  relations: {
    // RFC 7643 §4.1.2: derived from group memberships; see groupsOfRow in src/db/users.ts.
    groups: relation(
      sql`group_members as m`,
      sql`m.tenant_id = u.tenant_id and m.member_id = u.id and m.member_type = 'User'`,
      {
        value: { kind: 'uuid', sql: sql`m.group_id` },
        display: { kind: 'text', sql: sql`(select gg.display_name from groups as gg where gg.tenant_id = m.tenant_id and gg.id = m.group_id)` },
        type: constText('direct'),
      },
    ),
  },
};

const GROUPS: Table = {
  alias: 'g',
  columns: {
    ...metaColumns('g', 'Group'),
    displayName: { kind: 'text', sql: ref('g.display_name') },
  },
  relations: {
    members: relation(sql`group_members as m`, sql`m.tenant_id = g.tenant_id and m.group_id = g.id`, {
      value: { kind: 'uuid', sql: sql`m.member_id` },
      type: { kind: 'text', sql: sql`m.member_type collate "C"` },
    }),
  },
};

/** WHERE condition for `select … from users as u`. */
export function userFilterSql(f: ValidatedFilter): RawBuilder<SqlBool> {
  return compile(f, USERS) as RawBuilder<SqlBool>;
}

/** WHERE condition for `select … from groups as g`. */
export function groupFilterSql(f: ValidatedFilter): RawBuilder<SqlBool> {
  return compile(f, GROUPS) as RawBuilder<SqlBool>;
}

/** ORDER BY key for sortBy on users (§3.4.2.3); userName gives lower(u.user_name), the users_user_name index. */
export function userSortSql(attr: ResolvedAttr): RawBuilder<unknown> {
  return sortSql(attr, USERS);
}

/** ORDER BY key for sortBy on groups (§3.4.2.3). */
export function groupSortSql(attr: ResolvedAttr): RawBuilder<unknown> {
  return sortSql(attr, GROUPS);
}

/** Attributes whose `eq` an index answers with at most a handful of rows (migrations: unique or near-unique btrees). */
const KEY_ATTRIBUTES = { users: new Set(['id', 'userName', 'externalId']), groups: new Set(['id', 'displayName', 'externalId']) };

/**
 * Whether a filter is an identity look-up, the query an IdP makes before
 * every write (Entra ID and Okta `userName eq "…"`, Entra ID's group check
 * `id eq "…" and members[value eq "…"]`, `externalId eq "…"`,
 * `emails[type eq "work"].value eq "…"`): an `eq` on a key attribute, alone
 * or in an `and` of at most three conditions, or a users' emails value path
 * made only of `eq`s with a `value eq` (the GIN probe, withEmailProbes).
 *
 * Such a listing's plan is the key's index whatever the values, so it is
 * sent as a named prepared statement (src/db/prepared.ts); any other filter
 * is planned for its values on every request.
 */
export function isKeyLookup(f: ValidatedFilter, table: 'users' | 'groups'): boolean {
  if (f.kind === 'and') return f.filters.length <= 3 && f.filters.some((c) => isKeyEquality(c, table));
  if (isKeyEquality(f, table)) return true;
  return table === 'users' && f.kind === 'valuePath' && emailProbeValues(f, USERS).length > 0 && onlyEqualities(f.filter);
}

function isKeyEquality(f: ValidatedFilter, table: 'users' | 'groups'): boolean {
  return f.kind === 'compare' && f.op === 'eq' && typeof f.value === 'string' && KEY_ATTRIBUTES[table].has(f.attr.path);
}

function onlyEqualities(f: ValidatedFilter): boolean {
  if (f.kind === 'and') return f.filters.length <= 3 && f.filters.every(onlyEqualities);
  return f.kind === 'compare' && f.op === 'eq';
}

// ---------------------------------------------------------------------------
// Filters

function compile(f: ValidatedFilter, t: Table, el?: Elements): Expr {
  switch (f.kind) {
    case 'and':
      return sql`(${sql.join(f.filters.map((c) => compile(c, t, el)), sql` and `)})`;
    case 'or':
      return sql`(${sql.join(anyOf(f.filters, t, el), sql` or `)})`;
    case 'not':
      return sql`((${compile(f.filter, t, el)}) is not true)`;
    case 'valuePath': {
      const els = elementsOf(f.attr, t);
      return withEmailProbes(f, t, exists(els, compile(f.filter, t, els)));
    }
    case 'present':
      if (f.attr.attribute.multiValued && !f.attr.sub) return exists(elementsOf(f.attr, t), sql`true`);
      return present(usable(operand(f.attr, t, el), f.attr, 'filters'));
    case 'compare': {
      const value = f.value as string | number | boolean;
      if (f.attr.attribute.multiValued && !f.attr.sub) {
        const els = elementsOf(f.attr, t);
        return exists(els, compare(f.op, usable(els.field(undefined), f.attr, 'filters'), leaf(f.attr), value));
      }
      return compare(f.op, usable(operand(f.attr, t, el), f.attr, 'filters'), leaf(f.attr), value);
    }
  }
}

/**
 * The terms of an `or`, with equalities on one text column merged into one
 * `= any(array[…])`: Postgres hashes such a list, so a filter of 100
 * `userName eq` alternatives costs one probe per row instead of 100
 * (bench/hostile.ts, "filter-max"). NULL and case handling are those of `=`.
 */
function anyOf(filters: ValidatedFilter[], t: Table, el?: Elements): Expr[] {
  const keyOf = (c: ValidatedFilter): string | undefined =>
    c.kind === 'compare' && c.op === 'eq' && typeof c.value === 'string' && !c.attr.attribute.multiValued && !isElementAttr(c.attr) && t.columns[c.attr.path]?.kind === 'text'
      ? c.attr.path
      : undefined;
  const lists = new Map<string, string[]>();
  for (const c of filters) {
    const key = keyOf(c);
    if (!key || c.kind !== 'compare') continue;
    const list = lists.get(key) ?? [];
    list.push(leaf(c.attr).caseExact ? (c.value as string) : asciiLower(c.value as string));
    lists.set(key, list);
  }
  const out: Expr[] = [];
  const merged = new Set<string>();
  for (const c of filters) {
    const key = keyOf(c);
    const values = key ? lists.get(key)! : [];
    if (!key || values.length < 2 || c.kind !== 'compare') {
      out.push(compile(c, t, el));
      continue;
    }
    // The whole list where its first term stood.
    if (merged.has(key)) continue;
    merged.add(key);
    const text = textOf(t.columns[key] as Exclude<Scalar, { kind: 'none' }>);
    out.push(sql`(${leaf(c.attr).caseExact ? text : sql`lower(${text})`} = any(${values}::text[]))`);
  }
  return out;
}

const exists = (els: Elements, cond: Expr): Expr =>
  sql`exists (select 1 from ${els.from} where ${els.where ? sql`${els.where} and ` : sql``}${cond})`;

/**
 * `emails[… value eq X …]` on users: add `email_values @> array[X]`, which
 * the GIN index users_email_values answers, next to the exact JSONB check.
 * email_values holds toLowerCase() of every emails[].value (src/db/users.ts);
 * two values equal in ASCII-case-insensitive terms are equal after
 * toLowerCase() too, so the probe never drops a match.
 */
function withEmailProbes(f: { attr: ResolvedAttr; filter: ValidatedFilter }, t: Table, cond: Expr): Expr {
  const probes = emailProbeValues(f, t).map((v) => sql`u.email_values @> array[${v.toLowerCase()}]::text[]`);
  return probes.length ? sql`(${sql.join([...probes, cond], sql` and `)})` : cond;
}

/** The values a users' `emails[…]` value path requires, each probed in users_email_values; none for other paths. */
function emailProbeValues(f: { attr: ResolvedAttr; filter: ValidatedFilter }, t: Table): string[] {
  return t === USERS && !f.attr.extension && f.attr.attribute.name === 'emails' ? requiredValues(f.filter) : [];
}

/** Values that `value eq …` conjuncts at the top of a value filter require. */
function requiredValues(f: ValidatedFilter): string[] {
  if (f.kind === 'and') return f.filters.flatMap(requiredValues);
  if (f.kind === 'compare' && f.op === 'eq' && f.attr.sub?.name === 'value' && typeof f.value === 'string') return [f.value];
  return [];
}

function usable(s: Scalar, attr: ResolvedAttr, where: 'filters' | 'sortBy'): Exclude<Scalar, { kind: 'none' }> {
  if (s.kind !== 'none') return s;
  const scimType = where === 'filters' ? 'invalidFilter' : 'invalidValue';
  throw badRequest(scimType, `"${attr.path}" cannot be used in ${where}`);
}

/** The attribute's value at resource level, or (for sub-attributes of multi-valued ones) in the current element. */
function operand(attr: ResolvedAttr, t: Table, el: Elements | undefined): Scalar {
  if (isElementAttr(attr)) {
    if (!el) throw new Error(`${attr.path} outside a value path`);
    return el.field(attr.sub);
  }
  return t.columns[attr.path] ?? { kind: 'json', sql: jsonNode(attr, t) };
}

function elementsOf(attr: ResolvedAttr, t: Table): Elements {
  return (!attr.extension && t.relations[attr.attribute.name]) || jsonElements(jsonNode({ ...attr, sub: undefined }, t));
}

/** The JSON value of a (sub-)attribute in `<alias>.resource`; extensions live under their URN. */
function jsonNode(attr: ResolvedAttr, t: Table): Expr {
  const resource = ref(`${t.alias}.resource`);
  const holder = attr.extension ? sql`(${resource} -> ${attr.schema}::text)` : resource;
  const node = attr.custom ? customField(holder, attr.attribute.name) : sql`(${holder} -> ${attr.attribute.name}::text)`;
  return attr.sub ? sql`(${node} -> ${attr.sub.name}::text)` : node;
}

/**
 * A custom enterprise field is stored under the name the client used;
 * attribute names are case-insensitive (RFC 7643 §2.1), so look it up so.
 */
function customField(holder: Expr, name: string): Expr {
  return sql`(select kv.value from jsonb_each(case when jsonb_typeof(${holder}) = 'object' then ${holder} else '{}'::jsonb end) as kv
    where lower(kv.key collate "C") = ${asciiLower(name)} order by kv.key = ${name} desc limit 1)`;
}

function jsonElements(array: Expr): Elements {
  const from = sql`jsonb_array_elements(case when jsonb_typeof(${array}) = 'array' then ${array} else '[]'::jsonb end) with ordinality as e(v, n)`;
  return {
    from,
    field: (sub) => ({ kind: 'json', sql: sub ? sql`(e.v -> ${sub.name}::text)` : sql`e.v` }),
    // §3.4.2.3: a multi-valued attribute sorts by its primary value, else its first.
    pick: (key) => sql`(select ${key} from ${from} order by coalesce(e.v -> 'primary' = 'true'::jsonb, false) desc, e.n limit 1)`,
  };
}

function present(s: Exclude<Scalar, { kind: 'none' }>): Expr {
  switch (s.kind) {
    case 'text':
      return sql`(${s.sql} is not null and ${s.sql} <> '')`;
    case 'json':
      return sql`(${s.sql} is not null and ${s.sql} not in ('null'::jsonb, '""'::jsonb, '[]'::jsonb, '{}'::jsonb))`;
    default:
      return sql`(${s.sql} is not null)`;
  }
}

const OPERATORS: Record<'eq' | 'gt' | 'ge' | 'lt' | 'le', Expr> = {
  eq: sql`=`,
  gt: sql`>`,
  ge: sql`>=`,
  lt: sql`<`,
  le: sql`<=`,
};

function compare(op: CompareOp, s: Exclude<Scalar, { kind: 'none' }>, def: AttributeDef, value: string | number | boolean): Expr {
  if (op === 'ne') return sql`((${compare('eq', s, def, value)}) is not true)`;
  switch (def.type) {
    case 'boolean':
      return s.kind === 'json' ? sql`(${s.sql} = to_jsonb(${value}::boolean))` : sql`(${s.sql} = ${value})`;
    case 'integer':
    case 'decimal':
      return sql`(jsonb_typeof(${s.sql}) = 'number' and ${s.sql} ${OPERATORS[op as keyof typeof OPERATORS]} to_jsonb(${value}::numeric))`;
    case 'dateTime': {
      // Written by Roster and validated on the way in, so the cast cannot fail.
      const time = s.kind === 'json' ? sql`(${s.sql} #>> '{}')::timestamptz` : s.sql;
      return sql`(${time} ${OPERATORS[op as keyof typeof OPERATORS]} ${value}::timestamptz)`;
    }
    default:
      return compareText(op, s, def.caseExact, value as string);
  }
}

function compareText(op: Exclude<CompareOp, 'ne'>, s: Exclude<Scalar, { kind: 'none' }>, caseExact: boolean, value: string): Expr {
  if (s.kind === 'uuid' && op === 'eq') {
    // Probe the uuid column (and its index) only with a well-formed uuid; anything else matches nothing.
    return (caseExact ? UUID_EXACT : UUID_ANY_CASE).test(value) ? sql`(${s.sql} = ${value}::uuid)` : sql`false`;
  }
  const text = textOf(s);
  const lhs = caseExact ? text : sql`lower(${text})`;
  const v = caseExact ? value : asciiLower(value);
  switch (op) {
    case 'co':
      return sql`(${lhs} like ${`%${escapeLike(v)}%`})`;
    case 'sw':
      return sql`(${lhs} like ${`${escapeLike(v)}%`})`;
    case 'ew':
      return sql`(${lhs} like ${`%${escapeLike(v)}`})`;
    default:
      return sql`(${lhs} ${OPERATORS[op]} ${v})`;
  }
}

/** LIKE pattern for a literal string; backslash is LIKE's default escape character. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, '\\$&');
}

/** A value as text under COLLATE "C" (columns are declared so). */
function textOf(s: Exclude<Scalar, { kind: 'none' }>): Expr {
  if (s.kind === 'json') return sql`((${s.sql} #>> '{}') collate "C")`;
  return s.kind === 'text' ? s.sql : sql`(${s.sql}::text collate "C")`;
}

// ---------------------------------------------------------------------------
// Sorting

function sortSql(attr: ResolvedAttr, t: Table): Expr {
  if (!attr.attribute.multiValued) return sortKey(usable(operand(attr, t, undefined), attr, 'sortBy'), leaf(attr));
  // A complex multi-valued attribute sorts by its "value" (emails → emails.value).
  const target = attr.sub || attr.attribute.type !== 'complex' ? attr : resolveSubAttr(attr, 'value') ?? attr;
  const els = elementsOf(attr, t);
  return els.pick(sortKey(usable(els.field(target.sub), attr, 'sortBy'), leaf(target)));
}

function sortKey(s: Exclude<Scalar, { kind: 'none' }>, def: AttributeDef): Expr {
  const textual = def.type === 'string' || def.type === 'reference' || def.type === 'binary';
  if (!textual || s.kind === 'uuid') return s.sql;
  return def.caseExact ? textOf(s) : sql`lower(${textOf(s)})`;
}

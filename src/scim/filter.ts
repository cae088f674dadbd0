/**
 * SCIM filters (RFC 7644 §3.4.2.2): parsing, validation against a resource
 * type's schemas into a typed AST, and in-memory evaluation.
 *
 * Parsing uses scim2-parse-filter's recursive-descent parser, fed with tokens
 * of our own, because its tokenizer
 * - does not decode JSON strings (`"a\\b"` stays two backslashes, `"\u00e9"`
 *   stays six characters, `"a\\"` fails), while §3.4.2.2 says compValue is JSON;
 * - turns `emails[type eq "work"].value eq "x"` into
 *   `emails[type eq "work"] and emails.value eq "x"`, which can match two
 *   different emails; we rewrite it to `emails[(type eq "work") and value eq "x"]`;
 * - cannot take the unquoted values Entra ID's test collection sends (see bareValue).
 *
 * Semantics chosen where the RFC leaves room:
 * - A comparison on a sub-attribute of a multi-valued attribute
 *   (`emails.value eq "x"`) matches if any value matches (§3.4.2.2); it is
 *   represented as the value path `emails[value eq "x"]`. So
 *   `emails.value ne "x"` matches a user having some email other than "x".
 * - `ne` is the negation of `eq` on one value: an absent single-valued
 *   attribute is "not equal" to anything.
 * - caseExact=false strings compare case-insensitively in ASCII letters only,
 *   like Postgres' lower() under COLLATE "C" (which the SQL side uses, so that
 *   both agree on every backend); ordering (gt/lt) is by code point.
 * - `eq null` is `not pr`, `ne null` is `pr`; `pr` means present and not
 *   empty (null, "", [] and {} are absent).
 */
import { parseFilter as parseTokens, Tokens, type Token } from 'scim2-parse-filter/lib/src/parser.js';
import type { Filter } from 'scim2-parse-filter';
import { leaf, resolveAttrPath, resolveSubAttr, type ResolvedAttr } from './attributes.js';
import { badRequest, type ScimType } from './errors.js';
import type { AttributeDef, ResourceTypeDef } from './schema.js';

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type ValidatedFilter =
  | { kind: 'compare'; op: CompareOp; attr: ResolvedAttr; value: string | number | boolean | null }
  | { kind: 'present'; attr: ResolvedAttr }
  | { kind: 'and' | 'or'; filters: ValidatedFilter[] }
  | { kind: 'not'; filter: ValidatedFilter }
  // attr is a multi-valued complex attribute; inner filter's attrs are its sub-attributes (resolveSubAttr)
  | { kind: 'valuePath'; attr: ResolvedAttr; filter: ValidatedFilter };

export const MAX_FILTER_LENGTH = 4096;
/** Comparisons, logical operators and value paths together. */
export const MAX_FILTER_NODES = 200;

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const ORDER_OPS = new Set<CompareOp>(['gt', 'ge', 'lt', 'le']);
const SUBSTRING_OPS = new Set<CompareOp>(['co', 'sw', 'ew']);

const invalid = (detail: string) => badRequest('invalidFilter', detail);

// ---------------------------------------------------------------------------
// Attribute resolution

/**
 * `schemas` (RFC 7643 §3): on every resource, always returned, and filterable
 * (RFC 7644 §3.4.2.2 example `schemas eq "urn:…:enterprise:2.0:User"`).
 * resolveAttrPath leaves it out so that PATCH cannot target it.
 */
export const SCHEMAS_ATTR: ResolvedAttr = {
  schema: '',
  extension: false,
  custom: false,
  path: 'schemas',
  attribute: {
    name: 'schemas',
    type: 'reference',
    multiValued: true,
    description: 'URIs of the schemas the resource conforms to.',
    required: true,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'always',
    uniqueness: 'none',
    referenceTypes: ['uri'],
  },
};

/** resolveAttrPath plus `schemas`: the attribute paths of filter, attributes and excludedAttributes. */
export function resolveQueryAttr(rt: ResourceTypeDef, path: string, scimType: ScimType): ResolvedAttr {
  return path.toLowerCase() === 'schemas' ? SCHEMAS_ATTR : resolveAttrPath(rt, path, scimType);
}

/** A sub-attribute of a multi-valued attribute, read from one element (inside a value path). */
export function isElementAttr(attr: ResolvedAttr): boolean {
  return attr.attribute.multiValued && attr.sub !== undefined;
}

// ---------------------------------------------------------------------------
// Tokens

const EOT: Token = { type: 'EOT', literal: '' };
const bracket = (literal: string): Token => ({ type: 'Bracket', literal });
const word = (literal: string): Token => ({ type: 'Word', literal });
const quoted = (value: string): Token => ({ type: 'Quoted', literal: JSON.stringify(value) });

const JSON_STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
const BARE = /[^\s()[\]"]+/y;
const SPACE = /\s+/y;

function matchAt(re: RegExp, text: string, pos: number): string | undefined {
  re.lastIndex = pos;
  return re.exec(text)?.[0];
}

/** Split filter text into the parser's tokens; strings are decoded as JSON (§3.4.2.2). */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < text.length) {
    const ch = text[pos]!;
    let lexeme: string | undefined;
    if ((lexeme = matchAt(SPACE, text, pos))) {
      // skip
    } else if ('()[]'.includes(ch)) {
      lexeme = ch;
      tokens.push(bracket(ch));
    } else if (ch === '"') {
      lexeme = matchAt(JSON_STRING, text, pos);
      if (!lexeme) throw invalid(`Invalid filter: unterminated or badly escaped string at position ${pos + 1}`);
      tokens.push(quoted(JSON.parse(lexeme) as string));
    } else {
      lexeme = matchAt(BARE, text, pos)!;
      tokens.push(afterComparison(tokens) ? bareValue(lexeme) : word(lexeme));
    }
    pos += lexeme.length;
  }
  return tokens;
}

/** Whether the next token is a comparison value: it follows `attrPath op`. */
function afterComparison(tokens: Token[]): boolean {
  const op = tokens[tokens.length - 1];
  const attr = tokens[tokens.length - 2];
  return op?.type === 'Word' && COMPARE_OPS.has(op.literal.toLowerCase()) && attr?.type === 'Word';
}

/**
 * A comparison value without quotes. JSON numbers and true/false/null are
 * what RFC 7644 allows; anything else is taken as a string because
 * Microsoft's SCIM validation collection for Entra ID sends
 * `userName sw O`, `name.FamilyName eq Employee` and
 * `meta.Created gt 2015-10-10T14:38:21.8617979-07:00` (see test/scim/filter.test.ts).
 */
function bareValue(text: string): Token {
  if (JSON_NUMBER.test(text)) return { type: 'Number', literal: text };
  const lower = text.toLowerCase();
  if (lower === 'true' || lower === 'false' || lower === 'null') return word(lower);
  return quoted(text);
}

/**
 * `attr[f].sub op v` → `attr[(f) and sub op v]`: one element must satisfy
 * both, which is what Entra ID means by `emails[type eq "work"].value eq "x"`.
 */
function inlineValuePathSubAttributes(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const sub = tokens[i + 1];
    const open = t.literal === ']' && sub?.type === 'Word' && sub.literal.startsWith('.') ? matchingOpen(out) : -1;
    if (open < 0) {
      out.push(t);
      continue;
    }
    const op = tokens[i + 2];
    const tail = op && op.literal.toLowerCase() !== 'pr' ? tokens.slice(i + 2, i + 4) : tokens.slice(i + 2, i + 3);
    out.splice(open + 1, 0, bracket('('));
    out.push(bracket(')'), word('and'), word(sub!.literal.slice(1)), ...tail, bracket(']'));
    i += 1 + tail.length;
  }
  return out;
}

function matchingOpen(tokens: Token[]): number {
  let depth = 0;
  for (let i = tokens.length - 1; i >= 0; i--) {
    const l = tokens[i]!.literal;
    if (l === ']') depth++;
    if (l === '[' && depth-- === 0) return i;
  }
  return -1;
}

function parseText(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw invalid(`Filter is longer than ${MAX_FILTER_LENGTH} characters`);
  if (text.trim() === '') throw invalid('Filter is empty');
  const tokens = tokenize(text);
  checkBalanced(tokens);
  const list = new Tokens([...inlineValuePathSubAttributes(tokens), EOT]);
  let ast: Filter;
  try {
    ast = parseTokens(list);
  } catch (e) {
    throw invalid(`Invalid filter "${text}": ${(e as Error).message}`);
  }
  if (list.peek().type !== 'EOT') throw invalid(`Invalid filter "${text}": unexpected "${list.peek().literal}"`);
  if (countNodes(ast) > MAX_FILTER_NODES) throw invalid(`Filter has more than ${MAX_FILTER_NODES} expressions`);
  return ast;
}

const CLOSING: Record<string, string> = { '(': ')', '[': ']' };

function checkBalanced(tokens: Token[]): void {
  const open: string[] = [];
  for (const { literal } of tokens) {
    // Compared, not looked up in CLOSING: a look-up would hash every quoted value.
    if (literal === '(' || literal === '[') open.push(literal);
    else if (literal === ')' || literal === ']') {
      const last = open.pop();
      if (!last || CLOSING[last] !== literal) throw invalid(`Invalid filter: unexpected "${literal}"`);
    }
  }
  if (open.length) throw invalid(`Invalid filter: missing "${CLOSING[open[open.length - 1]!]}"`);
}

function countNodes(f: Filter): number {
  switch (f.op) {
    case 'and':
    case 'or':
      return 1 + f.filters.reduce((n, c) => n + countNodes(c), 0);
    case 'not':
      return 1 + countNodes(f.filter);
    case '[]':
      return 1 + countNodes(f.valFilter);
    default:
      return 1;
  }
}

// ---------------------------------------------------------------------------
// Validation

interface Scope {
  resolve(path: string): ResolvedAttr;
  /** Set inside a value path: the multi-valued attribute whose elements are filtered. */
  parent?: ResolvedAttr;
}

function resourceScope(rt: ResourceTypeDef): Scope {
  return { resolve: (path) => resolveQueryAttr(rt, path, 'invalidFilter') };
}

function elementScope(parent: ResolvedAttr): Scope {
  return {
    parent,
    resolve(name) {
      const attr = resolveSubAttr(parent, name);
      if (!attr) throw invalid(`Unknown sub-attribute "${name}" of "${parent.path}" in value filter`);
      return attr;
    },
  };
}

/** Parse and validate a filter for a resource type. Throws 400 invalidFilter (§3.4.2.2, §3.12). */
export function parseFilter(text: string, rt: ResourceTypeDef): ValidatedFilter {
  return validate(parseText(text), resourceScope(rt));
}

/** Parse the inside of a value path (`type eq "work"` of `emails[type eq "work"]`), relative to parent. */
export function parseValueFilter(text: string, parent: ResolvedAttr): ValidatedFilter {
  if (!parent.attribute.multiValued || parent.attribute.type !== 'complex' || parent.sub) {
    throw invalid(`"${parent.path}" is not a multi-valued complex attribute`);
  }
  return validate(parseText(text), elementScope(parent));
}

function validate(f: Filter, scope: Scope): ValidatedFilter {
  switch (f.op) {
    case 'and':
    case 'or':
      return { kind: f.op, filters: f.filters.map((c) => validate(c, scope)) };
    case 'not':
      return { kind: 'not', filter: validate(f.filter, scope) };
    case '[]':
      return validateValuePath(f.attrPath, f.valFilter, scope);
    case 'pr':
      return atResource(scope, scope.resolve(f.attrPath), (attr) => ({ kind: 'present', attr }));
    default:
      return validateCompare(f.op, f.attrPath, f.compValue, scope);
  }
}

function validateValuePath(path: string, inner: Filter, scope: Scope): ValidatedFilter {
  if (scope.parent) throw invalid(`Value filters cannot be nested ("${path}[…]" inside "${scope.parent.path}[…]")`);
  const attr = scope.resolve(path);
  if (!attr.attribute.multiValued || attr.attribute.type !== 'complex' || attr.sub) {
    throw invalid(`"${attr.path}" is not a multi-valued complex attribute, so "${path}[…]" does not apply`);
  }
  return { kind: 'valuePath', attr, filter: validate(inner, elementScope(attr)) };
}

/**
 * At resource level, a comparison on a sub-attribute of a multi-valued
 * attribute becomes a value path (`emails.value eq "x"` → `emails[value eq "x"]`),
 * so evaluators only ever read such sub-attributes from one element (isElementAttr).
 */
function atResource(scope: Scope, attr: ResolvedAttr, make: (attr: ResolvedAttr) => ValidatedFilter): ValidatedFilter {
  if (scope.parent || !isElementAttr(attr)) return make(attr);
  const { sub: _sub, ...parent } = attr;
  parent.path = parent.extension ? `${parent.schema}:${parent.attribute.name}` : parent.attribute.name;
  return { kind: 'valuePath', attr: parent, filter: make(attr) };
}

function validateCompare(rawOp: string, path: string, value: unknown, scope: Scope): ValidatedFilter {
  const op = rawOp as CompareOp;
  let attr = scope.resolve(path);
  if (!attr.sub && attr.attribute.type === 'complex') {
    // §3.4.2.2 example `emails co "example.com"`: a complex attribute stands for its "value" sub-attribute.
    const value = resolveSubAttr(attr, 'value');
    if (!value) throw invalid(`"${attr.path}" is complex; compare one of its sub-attributes`);
    attr = value;
  }
  if (value === null) {
    if (op !== 'eq' && op !== 'ne') throw invalid(`"${path} ${op} null": null can only be compared with eq or ne`);
    const present = atResource(scope, attr, (a) => ({ kind: 'present', attr: a }));
    return op === 'ne' ? present : { kind: 'not', filter: present };
  }
  const checked = checkValue(op, leaf(attr), path, value as string | number | boolean);
  return atResource(scope, attr, (a) => ({ kind: 'compare', op, attr: a, value: checked }));
}

/** Type-check a comparison value against the attribute (RFC 7644 §3.4.2.2); returns the value to compare with. */
function checkValue(op: CompareOp, def: AttributeDef, path: string, value: string | number | boolean): string | number | boolean {
  const what = `"${path} ${op} ${JSON.stringify(value)}"`;
  const expect = (ok: boolean, wanted: string) => {
    if (!ok) throw invalid(`${what}: "${path}" is ${def.type} and needs ${wanted}`);
  };
  const allow = (ops: Set<CompareOp>, allowed: boolean) => {
    if (ops.has(op) && !allowed) throw invalid(`${what}: operator "${op}" does not apply to ${def.type} attribute "${path}"`);
  };
  switch (def.type) {
    case 'boolean':
      allow(ORDER_OPS, false);
      allow(SUBSTRING_OPS, false);
      expect(typeof value === 'boolean', 'true or false');
      return value;
    case 'integer':
    case 'decimal':
      allow(SUBSTRING_OPS, false);
      expect(typeof value === 'number' && (def.type === 'decimal' || Number.isInteger(value)), `a${def.type === 'integer' ? 'n integer' : ' number'}`);
      return value;
    case 'dateTime': {
      allow(SUBSTRING_OPS, false);
      const normalized = typeof value === 'string' ? normalizeDateTime(value) : undefined;
      expect(normalized !== undefined, 'an ISO 8601 date and time such as "2011-05-13T04:42:34Z"');
      return normalized!;
    }
    case 'binary':
      allow(ORDER_OPS, false);
      expect(typeof value === 'string', 'a string');
      return value;
    default:
      expect(typeof value === 'string', 'a string');
      return value;
  }
}

// ---------------------------------------------------------------------------
// dateTime (xsd:dateTime, RFC 7643 §2.3.5)

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/i;

/**
 * The dateTime with an explicit zone (UTC when none is given), or undefined
 * if it is not a valid date and time. Postgres parses the result as timestamptz.
 */
export function normalizeDateTime(text: string): string | undefined {
  if (dateTimeMicros(text) === undefined) return undefined;
  return /(?:Z|[+-]\d{2}:\d{2})$/i.test(text) ? text : `${text}Z`;
}

/** Microseconds since the epoch (the precision of timestamptz), or undefined if not a valid dateTime. */
export function dateTimeMicros(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const zone = m[8]?.toUpperCase() ?? 'Z';
  const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const daysInMonth = new Date(Date.UTC(2000, mo, 0)).getUTCDate() - (mo === 2 && !isLeap(y) ? 1 : 0);
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59 || Math.abs(offset) > 14 * 60 || Number(zone.slice(4, 6)) > 59) {
    return undefined;
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  const fraction = m[7] ? Math.round(Number(`0.${m[7]}`) * 1e6) : 0;
  return (date.getTime() - offset * 60_000) * 1000 + fraction;
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

// ---------------------------------------------------------------------------
// In-memory evaluation

/** ASCII-only lower case: what Postgres' lower() does under COLLATE "C". */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * Evaluate a validated filter on a resource in its SCIM shape (core
 * attributes at top level, extensions under their URN, id/meta/groups/members
 * included when they are to be matched) or, for parseValueFilter results, on
 * one element of the multi-valued attribute.
 */
export function matches(filter: ValidatedFilter, resource: Record<string, unknown>): boolean {
  switch (filter.kind) {
    case 'and':
      return filter.filters.every((f) => matches(f, resource));
    case 'or':
      return filter.filters.some((f) => matches(f, resource));
    case 'not':
      return !matches(filter.filter, resource);
    case 'valuePath':
      return asArray(valueOf(resource, filter.attr)).some((e) => isObject(e) && matches(filter.filter, e));
    case 'present':
      return isPresent(valueOf(resource, filter.attr));
    case 'compare': {
      const actual = valueOf(resource, filter.attr);
      const values = filter.attr.attribute.multiValued && !filter.attr.sub ? asArray(actual) : [actual];
      return values.some((v) => compareOne(filter.op, leaf(filter.attr), filter.value as string | number | boolean, v));
    }
  }
}

function valueOf(obj: Record<string, unknown>, attr: ResolvedAttr): unknown {
  if (isElementAttr(attr)) return field(obj, attr.sub!.name);
  const holder = attr.extension ? field(obj, attr.schema) : obj;
  const value = field(holder, attr.attribute.name);
  return attr.sub ? field(value, attr.sub.name) : value;
}

/** Attribute names are case-insensitive (RFC 7643 §2.1); stored resources use the canonical spelling. */
function field(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function isPresent(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  return !isObject(v) || Object.keys(v).length > 0;
}

function compareOne(op: CompareOp, def: AttributeDef, expected: string | number | boolean, actual: unknown): boolean {
  if (op === 'ne') return !compareOne('eq', def, expected, actual);
  switch (def.type) {
    case 'boolean':
      return actual === expected;
    case 'integer':
    case 'decimal':
      return typeof actual === 'number' && order(op, actual - (expected as number));
    case 'dateTime': {
      const a = typeof actual === 'string' ? dateTimeMicros(actual) : undefined;
      return a !== undefined && order(op, a - dateTimeMicros(expected as string)!);
    }
    default:
      return compareText(op, def.caseExact, expected as string, actual);
  }
}

function compareText(op: CompareOp, caseExact: boolean, expected: string, actual: unknown): boolean {
  if (typeof actual !== 'string' && typeof actual !== 'number' && typeof actual !== 'boolean') return false;
  const fold = caseExact ? (s: string) => s : asciiLower;
  const a = fold(String(actual));
  const e = fold(expected);
  if (op === 'co') return a.includes(e);
  if (op === 'sw') return a.startsWith(e);
  if (op === 'ew') return a.endsWith(e);
  return order(op, codePointCompare(a, e));
}

/** eq/gt/ge/lt/le from a three-way comparison result. */
function order(op: CompareOp, diff: number): boolean {
  switch (op) {
    case 'gt':
      return diff > 0;
    case 'ge':
      return diff >= 0;
    case 'lt':
      return diff < 0;
    case 'le':
      return diff <= 0;
    default:
      return diff === 0;
  }
}

/** Code point order, which is the byte order of UTF-8 and so of COLLATE "C". */
function codePointCompare(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

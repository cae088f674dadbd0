/**
 * PATCH paths (RFC 7644 §3.5.2):
 *
 *   PATH = attrPath / valuePath [subAttr]
 *
 *   emails                                   → attribute
 *   name.givenName                           → sub-attribute
 *   urn:…:enterprise:2.0:User:department     → extension attribute (also custom fields)
 *   urn:…:enterprise:2.0:User:manager.value  → extension sub-attribute
 *   members[value eq "2819c223…"]            → elements selected by a value filter
 *   emails[type eq "work"].value             → sub-attribute of the selected elements
 *
 * The attribute part is resolved with `tryResolveAttrPath` (RFC 7644 §3.10) and
 * the filter with `parseValueFilter`, relative to the filtered attribute.
 * Anything malformed or unknown is a 400 `invalidPath`; a malformed filter
 * is the filter parser's 400 `invalidFilter`.
 */
import { resolveSubAttr, tryResolveAttrPath, type ResolvedAttr } from './attributes.js';
import { badRequest } from './errors.js';
import { parseValueFilter, type ValidatedFilter } from './filter.js';
import { quirkBareExtensionAttribute, type WriteContext } from './quirks.js';
import type { ResourceTypeDef } from './schema.js';

export interface PatchPath {
  /** The path as sent. */
  text: string;
  /**
   * The attribute the operation targets. `attr.sub` is set for
   * `name.givenName` and for the sub-attribute after a filter
   * (`emails[type eq "work"].value`).
   */
  attr: ResolvedAttr;
  /** Value filter selecting elements of the multi-valued complex attribute `attr.attribute`. */
  filter?: ValidatedFilter;
}

const invalidPath = (text: string, why: string) => badRequest('invalidPath', `Invalid path "${text}": ${why}`);

export function parsePatchPath(rt: ResourceTypeDef, raw: unknown, ctx: WriteContext = { lenient: false }): PatchPath {
  if (typeof raw !== 'string') throw badRequest('invalidPath', `"path" must be a string, got ${raw === null ? 'null' : typeof raw}`);
  const text = raw.trim();
  if (!text) throw badRequest('invalidPath', '"path" must not be empty');

  const resolve = (path: string) => tryResolveAttrPath(rt, path) ?? quirkBareExtensionAttribute(ctx, rt, path);
  const open = text.indexOf('[');
  if (open < 0) {
    const attr = resolve(text);
    if (!attr) throw invalidPath(text, `no such attribute on ${rt.name}`);
    return { text, attr };
  }

  // valuePath: attrPath "[" valFilter "]" [subAttr]
  const head = text.slice(0, open);
  const close = closingBracket(text, open);
  if (close < 0) throw invalidPath(text, 'the value filter has no closing "]"');
  const inner = text.slice(open + 1, close);
  const tail = text.slice(close + 1);

  const parent = resolve(head);
  if (!parent) throw invalidPath(text, `no such attribute "${head}" on ${rt.name}`);
  if (parent.sub || !parent.attribute.multiValued || parent.attribute.type !== 'complex') {
    throw invalidPath(text, `a value filter applies only to a multi-valued complex attribute, and "${parent.path}" is not one`);
  }
  if (!inner.trim()) throw badRequest('invalidFilter', `Invalid path "${text}": the value filter is empty`);
  const filter = parseValueFilter(inner, parent);

  if (tail === '') return { text, attr: parent, filter };
  if (!tail.startsWith('.')) throw invalidPath(text, `unexpected "${tail}" after the value filter`);
  const attr = resolveSubAttr(parent, tail.slice(1));
  if (!attr) throw invalidPath(text, `"${parent.attribute.name}" has no sub-attribute "${tail.slice(1)}"`);
  return { text, attr, filter };
}

/** Index of the "]" closing the "[" at `open`, skipping over quoted strings (which may contain "]"). */
function closingBracket(text: string, open: number): number {
  let inString = false;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === ']') {
      return i;
    }
  }
  return -1;
}

/** Small helpers for SCIM JSON bodies, shared by normalisation, values and PATCH. */
import { randomUUID } from 'node:crypto';
import { badRequest } from './errors.js';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export const invalid = (detail: string) => badRequest('invalidValue', detail);

/** An own member of a JSON object (never one inherited from Object.prototype, like "constructor"). */
export function own(obj: Json, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** A member of a JSON object by case-insensitive name (RFC 7643 §2.1). */
export function getCi(obj: Json, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** A value's kind in words, for error details: `an object`, `string "x"`. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * The first problem a parsed JSON body has that no attribute check would
 * catch, as a 400: nesting deeper than `maxDepth` (SCIM bodies are a few
 * levels deep; deeper ones would make recursive code overflow its stack), or
 * a string or key Postgres cannot store (U+0000, or an unpaired UTF-16
 * surrogate, which `\ud800` escapes produce). Iterative, linear in the body.
 */
export function checkJsonBody(body: unknown, maxDepth: number): void {
  // Paths are only spelt out for the error: each node keeps its parent and key.
  interface Node {
    v: unknown;
    parent: Node | undefined;
    key: string | number;
    depth: number;
  }
  const pathOf = (n: Node | undefined): string => {
    const parts: string[] = [];
    for (let x = n; x && x.parent; x = x.parent) parts.push(typeof x.key === 'number' ? `[${x.key}]` : `.${x.key}`);
    return parts.reverse().join('').replace(/^\./, '');
  };
  const stack: Node[] = [{ v: body, parent: undefined, key: '', depth: 0 }];
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.v;
    if (typeof v === 'string') {
      if (!storable(v)) checkString(v, pathOf(node) || 'the body');
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (node.depth >= maxDepth) throw badRequest('invalidSyntax', `The body is nested more than ${maxDepth} levels deep (at ${pathOf(node) || 'the top'})`);
    const depth = node.depth + 1;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], parent: node, key: i, depth });
      continue;
    }
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      const child: Node = { v: (v as Json)[k], parent: node, key: k, depth };
      if (!storable(k)) checkString(k, `the name of ${JSON.stringify(pathOf(child).slice(0, 80))}`);
      stack.push(child);
    }
  }
}

/** Whether Postgres can store the string (see checkString, which says why not). */
const storable = (s: string) => !s.includes('\u0000') && !LONE_SURROGATE.test(s);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string Postgres can store: no U+0000, no unpaired surrogate. */
export function checkString(s: string, where: string): void {
  if (s.includes('\u0000')) throw badRequest('invalidValue', `"${where}" contains the character U+0000 (NUL), which cannot be stored`);
  if (LONE_SURROGATE.test(s)) throw badRequest('invalidValue', `"${where}" contains an unpaired UTF-16 surrogate (an escape such as \\ud800 without its pair), which cannot be stored`);
}

/**
 * A value already serialized as JSON text (a large group's members, built by
 * Postgres), written into a response as it is by stringifyJson rather than
 * parsed into objects only to be serialized again. Only for values nothing
 * reads before the response: projection keeps it whole or drops it.
 */
export class RawJson {
  constructor(readonly text: string) {}

  toJSON(): unknown {
    if (!collecting) return JSON.parse(this.text); // serialized by something else (a log line): correct, if slow
    collecting.push(this.text);
    return `${RAW_MARK}${collecting.length - 1}`;
  }
}

/** Set while stringifyJson runs; JSON.stringify is synchronous, so no other serialization interleaves. */
let collecting: string[] | undefined;
// A NUL (which no stored string has: Postgres refuses it) and a per-process nonce, so no data can forge the mark.
const RAW_MARK = `\u0000raw-json:${randomUUID()}:`;
const RAW_PLACEHOLDER = new RegExp(`"${JSON.stringify(RAW_MARK).slice(1, -1).replaceAll('\\', '\\\\')}(\\d+)"`, 'g');

/** JSON.stringify, with each RawJson's text in its place. */
export function stringifyJson(value: unknown): string {
  const raws: string[] = [];
  collecting = raws;
  let text: string;
  try {
    text = JSON.stringify(value);
  } finally {
    collecting = undefined;
  }
  return raws.length === 0 ? text : text.replace(RAW_PLACEHOLDER, (_, i: string) => raws[Number(i)]!);
}

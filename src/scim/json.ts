/** Small helpers for SCIM JSON bodies, shared by normalisation, values and PATCH. */
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

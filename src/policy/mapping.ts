/**
 * Field mapping: the host platform's field names, each taken from a SCIM
 * attribute path of the user (policy.mapping). Events carry the result as
 * `data.profile`; a mapped field that yields nothing for a user is reported
 * (`data.profileMissing`), never silently empty.
 *
 * Paths read as PATCH paths do (src/scim/path.ts): `title`,
 * `name.givenName`, `emails[type eq "work"].value`,
 * `addresses[type eq "work"].locality`, `urn:…:enterprise:2.0:User:department`,
 * a custom field, `manager.value`. A multi-valued attribute gives one value:
 * among the values the filter selects (all without one), the primary, else
 * the first. `emails` without a filter follows the email priority rule:
 * primary, then work, then others, and a home address only when
 * `personalEmails` is true (Eletive's "Primary > Work > … > Personal").
 */
import { matches } from '../scim/filter.js';
import { isObject, type Json } from '../scim/json.js';
import type { PatchPath } from '../scim/path.js';
import type { CompiledPolicy, Transform } from './compiled.js';

export type ProfileValue = string | number | boolean;

export interface Profile {
  profile: Record<string, ProfileValue | null>;
  /** Mapped fields (required ones) that yielded nothing, or a value a transform could not take. */
  missing: string[];
}

/** The attribute's value in a resource's SCIM shape (extensions under their URN, names as stored). */
function attributeOf(view: Json, path: PatchPath): unknown {
  const r = path.attr;
  const holder = r.extension ? view[r.schema] : view;
  if (!isObject(holder)) return undefined;
  if (Object.hasOwn(holder, r.attribute.name)) return holder[r.attribute.name];
  const lower = r.attribute.name.toLowerCase();
  const key = Object.keys(holder).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : holder[key];
}

const EMAIL_RANK = (e: Json, personal: boolean): number => {
  const type = typeof e.type === 'string' ? e.type.toLowerCase() : '';
  if (type === 'home' && !personal) return -1;
  if (e.primary === true && type !== 'home') return 0;
  if (type === 'work') return 1;
  if (type === 'home') return 3;
  return 2;
};

/** One element of a multi-valued attribute, per the path's filter and the rules above. */
function pick(elements: Json[], path: PatchPath, personalEmails: boolean): Json | undefined {
  const selected = path.filter ? elements.filter((e) => matches(path.filter!, e)) : elements;
  if (!path.filter && path.attr.attribute.name === 'emails' && !path.attr.extension) {
    const ranked = selected.map((e) => ({ e, rank: EMAIL_RANK(e, personalEmails) })).filter((x) => x.rank >= 0);
    ranked.sort((a, b) => a.rank - b.rank);
    return ranked[0]?.e;
  }
  return selected.find((e) => e.primary === true) ?? selected[0];
}

/** The value a path yields for a user: a string, number or boolean; undefined when nothing. */
export function pathValue(view: Json, path: PatchPath, personalEmails = false): unknown {
  const v = attributeOf(view, path);
  const sub = path.attr.sub;
  if (path.attr.attribute.multiValued) {
    const elements = (Array.isArray(v) ? v : []).filter(isObject);
    const chosen = pick(elements, path, personalEmails);
    if (!chosen) return undefined;
    // `emails` alone stands for its value, as in filters (RFC 7644 §3.4.2.2).
    return chosen[sub?.name ?? 'value'];
  }
  if (sub) return isObject(v) ? v[sub.name] : undefined;
  return isObject(v) ? v.value : v;
}

function transform(v: ProfileValue, steps: Transform[]): ProfileValue | undefined {
  let out: ProfileValue | undefined = v;
  for (const step of steps) {
    if (typeof out !== 'string') return out;
    switch (step) {
      case 'trim':
        out = out.trim();
        break;
      case 'lower':
        out = out.toLowerCase();
        break;
      case 'upper':
        out = out.toUpperCase();
        break;
      case 'date': {
        const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(out) ? `${out}T00:00:00Z` : out);
        out = Number.isNaN(t) ? undefined : new Date(t).toISOString().slice(0, 10);
        break;
      }
    }
  }
  return out;
}

/** The host's profile of a user. */
export function profileOf(p: CompiledPolicy, view: Json): Profile {
  const profile: Record<string, ProfileValue | null> = {};
  const missing: string[] = [];
  for (const field of p.fields) {
    const raw = pathValue(view, field.path, p.policy.mapping.personalEmails);
    const value = typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? transform(raw, field.transform) : undefined;
    profile[field.name] = value === undefined || value === '' ? null : value;
    if (profile[field.name] === null && field.required) missing.push(field.name);
  }
  return { profile, missing };
}

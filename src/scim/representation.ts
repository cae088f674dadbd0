/**
 * Turning stored resources into SCIM representations (RFC 7643 §3.1 common
 * attributes and `meta`), and the weak ETags derived from versions
 * (RFC 7644 §3.14).
 */
import type { ResourceTypeDef } from './schema.js';

export interface StoredResource {
  id: string;
  resource: Record<string, unknown>;
  version: number;
  created: Date;
  lastModified: Date;
}

export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/**
 * Parse an If-Match / If-None-Match header into the versions it names.
 * `*` matches any version. Weak and strong forms are treated alike (§3.14
 * uses weak ETags).
 */
export function parseETagList(header: string): { any: boolean; versions: number[] } {
  const out = { any: false, versions: [] as number[] };
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*') out.any = true;
    const m = /^(?:W\/)?"(\d+)"$/.exec(tag);
    if (m) out.versions.push(Number(m[1]));
  }
  return out;
}

/** Full representation: schemas, id, externalId, stored attributes, extra derived attributes, meta last. */
export function toScim(
  rt: ResourceTypeDef,
  stored: StoredResource,
  location: string,
  derived: Record<string, unknown> = {},
): Record<string, unknown> {
  // One copy of the stored attributes (this runs for every resource read or written).
  const r = stored.resource;
  const out: Record<string, unknown> = { schemas: Array.isArray(r.schemas) ? r.schemas : [rt.schema], id: stored.id };
  for (const key of Object.keys(r)) if (key !== 'schemas') out[key] = r[key];
  for (const key of Object.keys(derived)) out[key] = derived[key];
  out.meta = {
    resourceType: rt.name,
    created: stored.created.toISOString(),
    lastModified: stored.lastModified.toISOString(),
    location,
    version: etagOf(stored.version),
  };
  return out;
}

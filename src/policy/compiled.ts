/**
 * A policy checked against the SCIM schemas and compiled once: filters
 * parsed, attribute paths resolved. What the rules (host-state.ts,
 * mapping.ts) evaluate on every write.
 */
import { parseFilter, type ValidatedFilter } from '../scim/filter.js';
import type { Json } from '../scim/json.js';
import { parsePatchPath, type PatchPath } from '../scim/path.js';
import { groupResourceType, userResourceType } from '../scim/schema.js';
import { ScimError } from '../scim/errors.js';
import type { Policy } from './policy.js';

export type Transform = 'trim' | 'lower' | 'upper' | 'date';

export interface MappedField {
  name: string;
  path: PatchPath;
  transform: Transform[];
  required: boolean;
}

export interface CompiledPolicy {
  policy: Policy;
  include?: ValidatedFilter | undefined;
  exclude?: ValidatedFilter | undefined;
  startDate?: PatchPath | undefined;
  endDate?: PatchPath | undefined;
  fields: MappedField[];
  /** 'all', 'none', or the lower-cased ids, externalIds and displayNames of the groups synced. */
  groups: 'all' | 'none' | Set<string>;
}

// Paths name attributes as IdPs do (`manager.value` for the enterprise manager): read leniently.
const PATHS = { lenient: true };

/** The filter's attributes that the policy cannot evaluate on a user's own attributes. */
function unsupportedAttributes(f: ValidatedFilter): string[] {
  switch (f.kind) {
    case 'and':
    case 'or':
      return f.filters.flatMap(unsupportedAttributes);
    case 'not':
      return unsupportedAttributes(f.filter);
    case 'valuePath':
      return f.attr.attribute.name === 'groups' ? ['groups'] : unsupportedAttributes(f.filter);
    default:
      return f.attr.attribute.name === 'groups' || f.attr.path === 'meta.location' || f.attr.path === 'meta.version' ? [f.attr.path] : [];
  }
}

/** Compile; with `collect`, problems are pushed there and the part is skipped, else the first one throws. */
export function compilePolicy(policy: Policy, collect?: string[]): CompiledPolicy {
  const attempt = <T>(where: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ScimError) || !collect) throw err;
      collect.push(`${where}: ${err.message}`);
      return undefined;
    }
  };
  const filter = (where: string, text: string | null) =>
    text === null
      ? undefined
      : attempt(where, () => {
          const f = parseFilter(text, userResourceType);
          const bad = unsupportedAttributes(f);
          if (bad.length) {
            throw new ScimError(400, `the audience cannot filter on ${[...new Set(bad)].join(', ')} (a user's own attributes only; group membership is not one)`, 'invalidFilter');
          }
          return f;
        });
  const path = (where: string, text: string | null) => (text === null ? undefined : attempt(where, () => parsePatchPath(userResourceType, text, PATHS)));
  const fields: MappedField[] = [];
  for (const [name, spec] of Object.entries(policy.mapping.fields)) {
    const text = typeof spec === 'string' ? spec : spec.path;
    const resolved = path(`policy.mapping.fields.${name}`, text);
    if (resolved) fields.push({ name, path: resolved, transform: typeof spec === 'string' ? [] : (spec.transform ?? []), required: typeof spec === 'string' ? true : spec.required !== false });
  }
  const g = policy.audience.groups;
  return {
    policy,
    include: filter('policy.audience.include', policy.audience.include),
    exclude: filter('policy.audience.exclude', policy.audience.exclude),
    startDate: path('policy.lifecycle.startDate', policy.lifecycle.startDate),
    endDate: path('policy.lifecycle.endDate', policy.lifecycle.endDate),
    fields,
    groups: g === 'all' || g === 'none' ? g : new Set(g.map((x) => x.toLowerCase())),
  };
}

/** What is wrong with a policy beyond its shape (for parsePolicy): filters, paths. */
export function policyProblems(policy: Policy): string[] {
  const found: string[] = [];
  compilePolicy(policy, found);
  const { onDelete, purgeAfterDays } = policy.lifecycle;
  if (purgeAfterDays !== null && onDelete !== 'deactivate') found.push('policy.lifecycle.purgeAfterDays applies only with onDelete "deactivate"');
  return found;
}

/** Whether the host is told about a group. */
export function groupSynced(p: CompiledPolicy, group: { id: string; resource: Json }): boolean {
  if (p.groups === 'all') return true;
  if (p.groups === 'none') return false;
  const names = [group.id, group.resource.externalId, group.resource.displayName];
  return names.some((n) => typeof n === 'string' && (p.groups as Set<string>).has(n.toLowerCase()));
}

export { groupResourceType };

/**
 * Validation of the JSON documents an administrator sends (tenant settings,
 * the provisioning policy, admin API bodies) against their one TypeBox
 * schema, with every problem named in words an administrator can act on:
 * `settings.compatibility must be one of "lenient", "strict"` rather than
 * the validator's "must match a schema in anyOf".
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Settings } from 'typebox/system';

// TypeBox stops after 8 errors by default (alternatives of a union count); an administrator wants them all.
Settings.Set({ maxErrors: 1000 });

type Schema = Record<string, unknown>;

const validators = new WeakMap<TSchema, ReturnType<typeof Compile>>();

function validator(schema: TSchema): ReturnType<typeof Compile> {
  let v = validators.get(schema);
  if (!v) validators.set(schema, (v = Compile(schema)));
  return v;
}

/** `/mapping/fields/0` → `mapping.fields[0]`, under `root` when given. */
export function pointerToPath(pointer: string, root = ''): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  let out = root;
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(the document)';
}

/** The sub-schema at a JSON pointer, following properties, items and additionalProperties. */
function schemaAt(schema: Schema, pointer: string): Schema | undefined {
  let s: Schema | undefined = schema;
  for (const raw of pointer.split('/').slice(1)) {
    if (!s) return undefined;
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const props = s.properties as Record<string, Schema> | undefined;
    if (props && Object.hasOwn(props, key)) s = props[key];
    else if (s.items && typeof s.items === 'object') s = s.items as Schema;
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') s = s.additionalProperties as Schema;
    else if (Array.isArray(s.anyOf)) s = (s.anyOf as Schema[]).map((a) => schemaAt(a, `/${raw}`)).find(Boolean);
    else return undefined;
  }
  return s;
}

const range = (s: Schema, min: string, max: string, unit = '') => {
  const lo = s[min] as number | undefined;
  const hi = s[max] as number | undefined;
  if (lo !== undefined && hi !== undefined) return ` from ${lo} to ${hi}${unit}`;
  if (lo !== undefined) return ` of at least ${lo}${unit}`;
  if (hi !== undefined) return ` of at most ${hi}${unit}`;
  return '';
};

/** What a value must be, in words: `an integer from 1 to 100`, `one of "a", "b"`, `null or a string`. */
export function describeSchema(s: Schema): string {
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return `one of ${(s.enum as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (Array.isArray(s.anyOf)) {
    const alts = s.anyOf as Schema[];
    if (alts.every((a) => 'const' in a)) return `one of ${alts.map((a) => JSON.stringify(a.const)).join(', ')}`;
    return alts.map(describeSchema).join(' or ');
  }
  switch (s.type) {
    case 'string': {
      const format = typeof s.format === 'string' ? ` in ${s.format} format` : '';
      const pattern = typeof s.pattern === 'string' ? ` matching ${s.pattern}${typeof s.description === 'string' ? ` (${s.description})` : ''}` : '';
      return `a string${format}${pattern}${range(s, 'minLength', 'maxLength', ' characters')}`;
    }
    case 'integer':
      return `an integer${range(s, 'minimum', 'maximum')}`;
    case 'number':
      return `a number${range(s, 'minimum', 'maximum')}`;
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array':
      return `an array${range(s, 'minItems', 'maxItems', ' items')}`;
    case 'object':
      return 'an object';
  }
  return 'a valid value';
}

/**
 * Every problem of `value` against `schema`, one sentence each, paths
 * written from `root` (e.g. `settings`). Empty when the value is valid.
 */
export function problems(schema: TSchema, value: unknown, root = ''): string[] {
  const v = validator(schema);
  if (v.Check(value)) return [];
  const errors = [...v.Errors(value)];
  const out: string[] = [];
  const handled = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'additionalProperties') continue;
    const names = (e.params as { additionalProperties?: string[] }).additionalProperties ?? [];
    for (const name of names) {
      const pointer = `${e.instancePath}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      handled.add(pointer);
      out.push(`${pointerToPath(pointer, root)} is not a known field`);
    }
    handled.add(`${e.instancePath}#additional`);
  }
  const byPath = new Map<string, typeof errors>();
  for (const e of errors) {
    if (e.keyword === 'additionalProperties' || handled.has(e.instancePath)) continue;
    if (e.keyword === 'required') {
      const missing = (e.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      for (const name of missing) out.push(`${pointerToPath(`${e.instancePath}/${name}`, root)} is required`);
      continue;
    }
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  for (const [pointer, list] of byPath) {
    // A deeper error says more than its parent's "must match a schema in anyOf".
    if ([...byPath.keys()].some((p) => p !== pointer && p.startsWith(`${pointer}/`))) continue;
    const sub = schemaAt(schema as Schema, pointer);
    out.push(`${pointerToPath(pointer, root)} ${sub ? `must be ${describeSchema(sub)}` : list[list.length - 1]!.message}`);
  }
  return out;
}

/**
 * /Bulk (RFC 7644 §3.7): many operations in one request, each run through
 * the same User and Group services as a single request would be, each in its
 * own transaction (the RFC does not make a bulk request atomic; §3.7 "The
 * service provider MUST continue performing as many changes as possible").
 *
 * - bulkId (§3.7.2): a POST's bulkId names the resource it creates; any
 *   string `"bulkId:<id>"` anywhere in another operation's data (a member
 *   value, a manager value, …) or in its path (`/Users/bulkId:qwerty`)
 *   becomes that resource's id. An operation runs once every bulkId it
 *   references is resolved, so references may point forwards; operations run
 *   in request order otherwise.
 * - Circular references (§3.7.1): when every remaining operation waits on
 *   another, a POST /Groups whose unresolved references are all member
 *   values is created without those members, and they are added (a member
 *   add, with its own version and event) once their operations have run —
 *   the RFC's Group A / Group B example. A cycle that cannot be broken so is
 *   409 for each operation in it (§3.7.1 allows that).
 * - A reference to a bulkId whose operation failed: that operation is 409.
 *   A reference to a bulkId no POST in the request defines: 400 invalidValue.
 * - failOnErrors (§3.7.3): processing stops once that many operations have
 *   failed; the response lists the operations processed so far.
 * - version (§3.7): If-Match for that operation (412 on mismatch).
 * - Results (§3.7.3) are in request order: method, bulkId, location (except
 *   for a failed POST), version (the new ETag), status as a string, and for
 *   failures the error body as `response`. Successful operations carry no
 *   response body (§3.7.3 lets the service provider omit it). PATCH answers
 *   200 or 204 as the tenant's patchResponse setting says for the resource
 *   type, as a single PATCH without Prefer or attributes would
 *   (patchAnswersNoContent: by default Users 200, Groups 204).
 * - Limits (§3.7.4): more than maxOperations operations is 413 (scimType
 *   tooMany) before anything runs; a body over maxPayloadSize is 413 from the
 *   HTTP layer before it is parsed.
 */
import type { FastifyBaseLogger } from 'fastify';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/errors.js';
import { errorBody, ScimError, badRequest } from '../scim/errors.js';
import { BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA } from '../scim/schema.js';
import { etagOf } from '../scim/representation.js';
import type { ScimContext } from './context.js';
import type { GroupService } from './groups.js';
import { patchAnswersNoContent } from '../policy/settings.js';
import type { UserService } from './users.js';

export interface BulkLimits {
  maxOperations: number;
  maxPayloadSize: number;
}

type Method = 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Endpoint = 'Users' | 'Groups';

export interface BulkOperationResult {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string;
  response?: unknown;
}

export interface BulkResponse {
  schemas: [typeof BULK_RESPONSE_SCHEMA];
  Operations: BulkOperationResult[];
}

interface Op {
  index: number;
  method: string;
  bulkId?: string;
  /** Set when the operation is malformed: it fails with this as soon as its turn comes. */
  invalid?: ScimError;
  endpoint: Endpoint;
  /** Resource id (or `bulkId:…` reference) for PUT/PATCH/DELETE. */
  id?: string;
  version?: string;
  data?: unknown;
  /** bulkIds this operation references. */
  refs: string[];
}

/** Members still to add to a group created while breaking a cycle. */
interface FollowUp {
  op: Op;
  groupId: string;
  refs: string[];
}

const BULK_REF = /^bulkId:(.+)$/i;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function getCi(obj: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Every bulkId referenced by strings in `v`. */
function collectRefs(v: unknown, out: Set<string>): Set<string> {
  if (typeof v === 'string') {
    const m = BULK_REF.exec(v);
    if (m) out.add(m[1]!);
  } else if (Array.isArray(v)) for (const e of v) collectRefs(e, out);
  else if (isObject(v)) for (const e of Object.values(v)) collectRefs(e, out);
  return out;
}

/** A copy of `v` with every `bulkId:<id>` string replaced by the created resource's id. */
function substitute(v: unknown, ids: Map<string, string>): unknown {
  if (typeof v === 'string') {
    const m = BULK_REF.exec(v);
    return m && ids.has(m[1]!) ? ids.get(m[1]!) : v;
  }
  if (Array.isArray(v)) return v.map((e) => substitute(e, ids));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, substitute(e, ids)]));
  return v;
}

/** The `members` key of a group body, whatever its case. */
const membersKey = (data: Record<string, unknown>) => Object.keys(data).find((k) => k.toLowerCase() === 'members');

function parsePath(path: unknown): { endpoint: Endpoint; id?: string } | undefined {
  if (typeof path !== 'string') return undefined;
  const m = /^\/?(Users|Groups)(?:\/([^/?#]+))?\/?$/i.exec(path.trim());
  if (!m) return undefined;
  const endpoint: Endpoint = m[1]!.toLowerCase() === 'users' ? 'Users' : 'Groups';
  return m[2] ? { endpoint, id: decodeURIComponent(m[2]) } : { endpoint };
}

function parseOperation(raw: unknown, index: number): Op {
  const fail = (scimType: 'invalidSyntax' | 'invalidValue', detail: string, op: Partial<Op> = {}): Op => ({
    index,
    method: op.method ?? (isObject(raw) && typeof getCi(raw, 'method') === 'string' ? String(getCi(raw, 'method')).toUpperCase() : ''),
    endpoint: 'Users',
    refs: [],
    ...op,
    invalid: badRequest(scimType, `Operations[${index}]: ${detail}`),
  });
  if (!isObject(raw)) return fail('invalidSyntax', 'an operation must be an object');
  const methodRaw = getCi(raw, 'method');
  const method = typeof methodRaw === 'string' ? methodRaw.toUpperCase() : '';
  const bulkIdRaw = getCi(raw, 'bulkId');
  const bulkId = typeof bulkIdRaw === 'string' && bulkIdRaw !== '' ? bulkIdRaw : undefined;
  const base = bulkId !== undefined ? { method, bulkId } : { method };
  if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
    return fail('invalidSyntax', `"method" must be POST, PUT, PATCH or DELETE (RFC 7644 §3.7), got ${JSON.stringify(methodRaw ?? null)}`, base);
  }
  if (bulkIdRaw !== undefined && bulkIdRaw !== null && bulkId === undefined) return fail('invalidSyntax', '"bulkId" must be a non-empty string', base);
  const path = parsePath(getCi(raw, 'path'));
  if (!path) {
    return fail('invalidValue', `"path" must be /Users or /Groups (with a resource id except for POST), got ${JSON.stringify(getCi(raw, 'path') ?? null)}`, base);
  }
  if ((method === 'POST') !== (path.id === undefined)) {
    const why = method === 'POST' ? 'a POST path is the resource endpoint, /Users or /Groups' : `a ${method} path names one resource, /${path.endpoint}/<id>`;
    return fail('invalidValue', `"path": ${why}`, { ...base, ...path });
  }
  if (method === 'POST' && bulkId === undefined) return fail('invalidSyntax', '"bulkId" is required for POST (RFC 7644 §3.7)', { ...base, ...path });
  const versionRaw = getCi(raw, 'version');
  if (versionRaw !== undefined && versionRaw !== null && typeof versionRaw !== 'string') return fail('invalidSyntax', '"version" must be an ETag string', { ...base, ...path });
  const data = getCi(raw, 'data');
  if (method !== 'DELETE' && (data === undefined || data === null)) return fail('invalidSyntax', `"data" is required for ${method} (RFC 7644 §3.7)`, { ...base, ...path });
  const refs = collectRefs(data, new Set());
  if (path.id !== undefined) collectRefs(path.id, refs);
  const op: Op = { index, ...base, ...path, refs: [...refs] };
  if (typeof versionRaw === 'string') op.version = versionRaw;
  if (method !== 'DELETE') op.data = data;
  return op;
}

export class BulkService {
  constructor(
    private readonly users: UserService,
    private readonly groups: GroupService,
    readonly limits: BulkLimits,
  ) {}

  async run(ctx: ScimContext, body: unknown, log?: FastifyBaseLogger): Promise<BulkResponse> {
    if (!isObject(body)) throw badRequest('invalidSyntax', 'A BulkRequest body must be a JSON object (RFC 7644 §3.7)');
    const schemas = getCi(body, 'schemas');
    const named = Array.isArray(schemas) && schemas.some((s) => typeof s === 'string' && s.toLowerCase() === BULK_REQUEST_SCHEMA.toLowerCase());
    if (!named && !ctx.lenient) throw badRequest('invalidSyntax', `"schemas" must contain "${BULK_REQUEST_SCHEMA}" (RFC 7644 §3.7)`);
    const operations = getCi(body, 'Operations');
    if (!Array.isArray(operations)) throw badRequest('invalidSyntax', '"Operations" must be an array of operations (RFC 7644 §3.7)');
    if (operations.length > this.limits.maxOperations) {
      throw new ScimError(413, `The bulk request has ${operations.length} operations, more than maxOperations (${this.limits.maxOperations}) (RFC 7644 §3.7.4)`, 'tooMany');
    }
    const failOnErrorsRaw = getCi(body, 'failOnErrors');
    if (failOnErrorsRaw !== undefined && failOnErrorsRaw !== null && !(Number.isInteger(failOnErrorsRaw) && (failOnErrorsRaw as number) >= 1)) {
      throw badRequest('invalidValue', `"failOnErrors" must be a positive integer, got ${JSON.stringify(failOnErrorsRaw)}`);
    }
    const failOnErrors = typeof failOnErrorsRaw === 'number' ? failOnErrorsRaw : Infinity;

    const ops = operations.map(parseOperation);
    const defined = new Map<string, Op>();
    for (const op of ops) {
      if (op.method !== 'POST' || op.invalid || op.bulkId === undefined) continue;
      if (defined.has(op.bulkId)) throw badRequest('invalidValue', `bulkId "${op.bulkId}" is used by more than one POST operation`);
      defined.set(op.bulkId, op);
    }
    for (const op of ops) {
      const unknown = op.invalid ? undefined : op.refs.find((r) => !defined.has(r));
      if (unknown !== undefined) op.invalid = badRequest('invalidValue', `Operations[${op.index}]: "bulkId:${unknown}" refers to no POST operation of this request`);
      if (!op.invalid && op.bulkId !== undefined && op.refs.includes(op.bulkId) && op.method === 'POST') {
        op.invalid = new ScimError(409, `Operations[${op.index}]: the operation refers to its own bulkId "${op.bulkId}"`);
      }
    }

    return new BulkRun(this.users, this.groups, ctx, ops, failOnErrors, log).execute();
  }
}

/** The state of one bulk request while it runs. */
class BulkRun {
  readonly #results = new Map<number, BulkOperationResult>();
  /** bulkId → created resource id. */
  readonly #created = new Map<string, string>();
  readonly #failed = new Set<string>();
  #errors = 0;

  constructor(
    private readonly users: UserService,
    private readonly groups: GroupService,
    private readonly ctx: ScimContext,
    private readonly ops: Op[],
    private readonly failOnErrors: number,
    private readonly log?: FastifyBaseLogger,
  ) {}

  get #stopped(): boolean {
    return this.#errors >= this.failOnErrors;
  }

  async execute(): Promise<BulkResponse> {
    const pending: Op[] = [...this.ops];
    const followUps: FollowUp[] = [];
    const waiting = (refs: string[]) => refs.some((r) => !this.#created.has(r) && !this.#failed.has(r));

    while ((pending.length || followUps.length) && !this.#stopped) {
      const f = followUps.findIndex((x) => !waiting(x.refs));
      if (f >= 0) {
        await this.#finishFollowUp(followUps.splice(f, 1)[0]!);
        continue;
      }
      const i = pending.findIndex((op) => op.invalid || !waiting(op.refs));
      if (i >= 0) {
        await this.#runOne(pending.splice(i, 1)[0]!);
        continue;
      }
      // Everything left waits on something else left: a cycle (§3.7.1).
      const j = pending.findIndex((op) => this.#breakable(op));
      if (j >= 0) {
        const op = pending.splice(j, 1)[0]!;
        const followUp = await this.#runWithoutPendingMembers(op);
        if (followUp) followUps.push(followUp);
        continue;
      }
      for (const op of pending.splice(0)) {
        if (this.#stopped) break;
        const refs = op.refs.filter((r) => !this.#created.has(r)).map((r) => `bulkId:${r}`);
        this.#fail(op, new ScimError(409, `Operations[${op.index}]: circular bulkId references (${refs.join(', ')}) could not be resolved (RFC 7644 §3.7.1)`));
      }
    }
    // Groups created while breaking a cycle whose members could not be added because processing stopped.
    for (const x of followUps) {
      this.#fail(x.op, new ScimError(409, `Operations[${x.op.index}]: the group was created without members ${x.refs.map((r) => `bulkId:${r}`).join(', ')}: processing stopped (failOnErrors) before they were resolved`), true);
    }
    const Operations = [...this.#results.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    return { schemas: [BULK_RESPONSE_SCHEMA], Operations };
  }

  #location(endpoint: Endpoint, id: string): string {
    return `${this.ctx.baseUrl}/${endpoint}/${id}`;
  }

  #resolveId(op: Op): string | undefined {
    if (op.id === undefined) return undefined;
    const m = BULK_REF.exec(op.id);
    return m ? this.#created.get(m[1]!) : op.id;
  }

  #fail(op: Op, err: ScimError, keepLocation = false): void {
    this.#errors++;
    if (op.method === 'POST' && op.bulkId !== undefined) this.#failed.add(op.bulkId);
    const prior = this.#results.get(op.index);
    const result: BulkOperationResult = { method: op.method, status: String(err.status) };
    if (op.bulkId !== undefined) result.bulkId = op.bulkId;
    const id = this.#resolveId(op);
    if (keepLocation && prior?.location) result.location = prior.location;
    else if (op.method !== 'POST' && id !== undefined && !op.invalid) result.location = this.#location(op.endpoint, id);
    result.response = errorBody(err.status, err.message, err.scimType);
    this.#results.set(op.index, result);
  }

  #succeed(op: Op, status: number, id: string, version?: number): void {
    const result: BulkOperationResult = { method: op.method, status: String(status) };
    if (op.bulkId !== undefined) result.bulkId = op.bulkId;
    result.location = this.#location(op.endpoint, id);
    if (version !== undefined) result.version = etagOf(version);
    this.#results.set(op.index, result);
    if (op.method === 'POST' && op.bulkId !== undefined) this.#created.set(op.bulkId, id);
  }

  async #guard(op: Op, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof ScimError) return this.#fail(op, err);
      if (isDatabaseUnavailable(err)) return this.#fail(op, new ScimError(503, `Operations[${op.index}]: ${databaseUnavailable().message}`));
      this.log?.error({ err, operation: op.index }, 'bulk operation failed');
      this.#fail(op, new ScimError(500, `Operations[${op.index}]: internal server error`));
    }
  }

  async #runOne(op: Op): Promise<void> {
    if (op.invalid) return this.#fail(op, op.invalid);
    const failedRef = op.refs.find((r) => this.#failed.has(r));
    if (failedRef !== undefined) {
      return this.#fail(op, new ScimError(409, `Operations[${op.index}]: "bulkId:${failedRef}" refers to an operation that failed`));
    }
    await this.#guard(op, () => this.#execute(op, substitute(op.data, this.#created)));
  }

  async #execute(op: Op, data: unknown): Promise<void> {
    const ctx = this.ctx;
    const id = this.#resolveId(op)!;
    const users = op.endpoint === 'Users';
    const quiet = { withMembers: false };
    switch (op.method as Method) {
      case 'POST': {
        const r = users ? await this.users.create(ctx, data) : await this.groups.create(ctx, data, quiet);
        return this.#succeed(op, 201, r.stored.id, r.stored.version);
      }
      case 'PUT': {
        const r = users ? await this.users.replace(ctx, id, data, op.version) : await this.groups.replace(ctx, id, data, op.version, quiet);
        return this.#succeed(op, 200, r.stored.id, r.stored.version);
      }
      case 'PATCH': {
        const r = users ? await this.users.patch(ctx, id, data, op.version) : await this.groups.patch(ctx, id, data, op.version, quiet);
        return this.#succeed(op, patchAnswersNoContent(ctx.settings, users ? 'User' : 'Group') ? 204 : 200, r.stored.id, r.stored.version);
      }
      case 'DELETE':
        if (users) await this.users.delete(ctx, id, op.version);
        else await this.groups.delete(ctx, id, op.version);
        return this.#succeed(op, 204, id);
    }
  }

  /** A POST /Groups whose only unresolved references are member values. */
  #breakable(op: Op): boolean {
    if (op.invalid || op.method !== 'POST' || op.endpoint !== 'Groups' || !isObject(op.data)) return false;
    const key = membersKey(op.data);
    if (!key) return false;
    const { [key]: _members, ...rest } = op.data;
    return [...collectRefs(rest, new Set())].every((r) => this.#created.has(r));
  }

  /** Create the group with the members that can be resolved now; the rest are added by a follow-up. */
  async #runWithoutPendingMembers(op: Op): Promise<FollowUp | undefined> {
    const data = op.data as Record<string, unknown>;
    const key = membersKey(data)!;
    const members = Array.isArray(data[key]) ? (data[key] as unknown[]) : [];
    const later = new Set<string>();
    const now = members.filter((m) => {
      const v = isObject(m) ? getCi(m, 'value') : undefined;
      const ref = typeof v === 'string' ? BULK_REF.exec(v)?.[1] : undefined;
      if (ref !== undefined && !this.#created.has(ref)) {
        later.add(ref);
        return false;
      }
      return true;
    });
    let followUp: FollowUp | undefined;
    await this.#guard(op, async () => {
      await this.#execute(op, substitute({ ...data, [key]: now }, this.#created));
      const groupId = this.#created.get(op.bulkId!)!;
      const refs = [...later];
      followUp = { op, groupId, refs };
    });
    return followUp;
  }

  async #finishFollowUp(x: FollowUp): Promise<void> {
    const failedRef = x.refs.find((r) => this.#failed.has(r));
    if (failedRef !== undefined) {
      return this.#fail(
        x.op,
        new ScimError(409, `Operations[${x.op.index}]: the group was created, but member "bulkId:${failedRef}" refers to an operation that failed`),
        true,
      );
    }
    const data = x.op.data as Record<string, unknown>;
    const members = (data[membersKey(data)!] as unknown[]).filter((m) => {
      const v = isObject(m) ? getCi(m, 'value') : undefined;
      const ref = typeof v === 'string' ? BULK_REF.exec(v)?.[1] : undefined;
      return ref !== undefined && x.refs.includes(ref);
    });
    const refs = (substitute(members, this.#created) as Record<string, unknown>[]).map((m) => {
      const type = String(getCi(m, 'type') ?? '').toLowerCase();
      const value = String(getCi(m, 'value'));
      return type === 'user' ? { value, type: 'User' } : type === 'group' ? { value, type: 'Group' } : { value };
    });
    try {
      const r = await this.groups.addMembers(this.ctx, x.groupId, refs as { value: string; type?: 'User' | 'Group' }[], { withMembers: false });
      const prior = this.#results.get(x.op.index);
      if (prior) prior.version = etagOf(r.stored.version);
    } catch (err) {
      if (!(err instanceof ScimError)) {
        this.log?.error({ err, operation: x.op.index }, 'bulk member add failed');
        err = new ScimError(500, `Operations[${x.op.index}]: internal server error`);
      }
      const e = err as ScimError;
      this.#fail(x.op, new ScimError(e.status, `Operations[${x.op.index}]: the group was created, but its members could not be added: ${e.message}`, e.scimType), true);
    }
  }
}

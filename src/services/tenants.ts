/**
 * Tenants (customer organisations) and their SCIM bearer tokens.
 *
 * Tokens are 256-bit random secrets shown once; only their SHA-256 hash is
 * stored (a fast hash is right for high-entropy secrets). Authentication
 * results are cached for a few seconds per process, so a revoked token stops
 * working at once on the replica that revoked it and within TOKEN_CACHE_MS on
 * the others.
 */
import * as crypto from 'node:crypto';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { TENANT_ID, TENANT_ID_RULE } from '../config.js';
import type { Db } from '../db/index.js';
import { isUniqueViolation } from '../db/errors.js';
import * as repo from '../db/tenants.js';
import type { TenantRecord, TokenRecord } from '../db/tenants.js';
import { effectiveSettings, parseSettings, type TenantMode, type TenantSettings } from '../policy/settings.js';
import { ScimError, badRequest, notFound } from '../scim/errors.js';
import { parseScopes, SCIM_SCOPES } from './scopes.js';

export type { TenantRecord, TokenRecord };
export type { TenantSettings };

/** Per tenant record (records are replaced, never changed, when settings change; a cached one serves many requests). */
const settingsByRecord = new WeakMap<TenantRecord, TenantSettings>();

export function settingsOf(t: TenantRecord): TenantSettings {
  let settings = settingsByRecord.get(t);
  if (!settings) {
    settings = effectiveSettings(t.settings);
    settingsByRecord.set(t, settings);
  }
  return settings;
}

export const TOKEN_PREFIX = 'rst_';
/** How long a process trusts a token look-up (and the tenant record that came with it). */
export const TOKEN_CACHE_MS = 5_000;
const TOKEN_CACHE_MAX = 10_000;
const TOUCH_INTERVAL_MS = 60_000;

export function hashToken(token: string): string {
  // crypto.hash (Node ≥ 20.12): the one-shot form, without a Hash object per request.
  return oneShotHash ? oneShotHash('sha256', token, 'hex') : createHash('sha256').update(token, 'utf8').digest('hex');
}
// Read from the namespace, not imported by name: on Node 20 before 20.12 there is no such export to link against.
const oneShotHash: typeof crypto.hash | undefined = crypto.hash;

/** A live SCIM token and the tenant it opens. */
export interface Credential {
  token: TokenRecord;
  tenant: TenantRecord;
}

/** A cached token look-up's verdict for a tenant's base URL: the live token and its tenant, or undefined. */
function accepted(
  entry: { token: TokenRecord | undefined; tenant: TenantRecord | undefined },
  tenantId: string,
  now: number,
): Credential | undefined {
  const { token, tenant } = entry;
  if (!token || !tenant || tenant.id !== tenantId) return undefined;
  if (token.expiresAt && token.expiresAt.getTime() <= now) return undefined;
  return { token, tenant };
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** What the token list shows of a token (`rst_` and six characters), to recognise it by. */
export function displayPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}

export interface IssuedToken {
  token: TokenRecord;
  /** The secret itself: returned once, never stored. */
  secret: string;
}

interface CacheEntry {
  token: TokenRecord | undefined;
  tenant: TenantRecord | undefined;
  until: number;
}

export class TenantService {
  readonly #cache = new Map<string, CacheEntry>();
  readonly #touched = new Map<string, number>();

  constructor(private readonly db: Db) {}

  async create(input: { id: string; name?: string | undefined; settings?: unknown; mode?: TenantMode | undefined }): Promise<TenantRecord> {
    if (typeof input.id !== 'string' || !TENANT_ID.test(input.id)) {
      throw badRequest('invalidValue', `Tenant id ${TENANT_ID_RULE}`);
    }
    const settings = parseSettings(input.settings);
    try {
      return await repo.insertTenant(this.db, { id: input.id, name: input.name ?? input.id, settings, mode: input.mode ?? 'live' });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ScimError(409, `Tenant "${input.id}" already exists`, 'uniqueness');
      throw err;
    }
  }

  async get(id: string): Promise<TenantRecord> {
    const t = await repo.findTenant(this.db, id);
    if (!t) throw notFound(`Tenant "${id}" not found`);
    return t;
  }

  find(id: string): Promise<TenantRecord | undefined> {
    return repo.findTenant(this.db, id);
  }

  list(opts: { after?: string | undefined; limit: number }): Promise<TenantRecord[]> {
    return repo.listTenants(this.db, opts);
  }

  /** Rename, change settings, or switch to dryRun (going live is GoLiveService's: the host must be told). */
  async update(id: string, patch: { name?: string | undefined; settings?: unknown; mode?: 'dryRun' | undefined }): Promise<TenantRecord> {
    const current = await this.get(id);
    const settings = patch.settings === undefined ? undefined : { ...current.settings, ...parseSettings(patch.settings) };
    const t = await repo.updateTenant(this.db, id, { name: patch.name, settings, mode: patch.mode });
    if (!t) throw notFound(`Tenant "${id}" not found`);
    this.#cache.clear();
    return t;
  }

  /** Forget every cached look-up (a tenant changed in a way its cached record does not show). */
  forget(): void {
    this.#cache.clear();
  }

  async delete(id: string): Promise<void> {
    if (!(await repo.deleteTenant(this.db, id))) throw notFound(`Tenant "${id}" not found`);
    this.#cache.clear();
  }

  async issueToken(tenantId: string, opts: { name?: string | undefined; expiresAt?: Date | null; secret?: string; scopes?: string[] | undefined } = {}): Promise<IssuedToken> {
    await this.get(tenantId);
    const secret = opts.secret ?? generateToken();
    const token = await repo.insertToken(this.db, {
      id: randomUUID(),
      tenantId,
      name: opts.name ?? 'default',
      hash: hashToken(secret),
      prefix: displayPrefix(secret),
      expiresAt: opts.expiresAt ?? null,
      scopes: parseScopes(opts.scopes, SCIM_SCOPES, 'a SCIM token') ?? null,
    });
    return { token, secret };
  }

  async listTokens(tenantId: string): Promise<TokenRecord[]> {
    await this.get(tenantId);
    return repo.listTokens(this.db, tenantId);
  }

  async revokeToken(tenantId: string, tokenId: string): Promise<TokenRecord> {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(tokenId);
    const t = uuid ? await repo.revokeToken(this.db, tenantId, tokenId) : undefined;
    if (!t) throw notFound(`Token "${tokenId}" not found for tenant "${tenantId}"`);
    this.#cache.clear();
    return t;
  }

  /**
   * Ensure a tenant exists and (optionally) that a given token is valid for it.
   * Idempotent; safe to call from several replicas at once.
   */
  async ensure(tenantId: string, token?: string): Promise<{ tenant: TenantRecord; created: boolean }> {
    let created = false;
    let tenant = await repo.findTenant(this.db, tenantId);
    if (!tenant) {
      try {
        tenant = await repo.insertTenant(this.db, { id: tenantId, name: tenantId, settings: {} });
        created = true;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        tenant = await this.get(tenantId);
      }
    }
    if (token) {
      const existing = await repo.findActiveTokenByHash(this.db, hashToken(token));
      if (existing && existing.tenantId !== tenantId) {
        throw new Error(`BOOTSTRAP_TOKEN is already in use by another tenant`);
      }
      if (!existing) {
        try {
          await this.issueToken(tenantId, { name: 'bootstrap', secret: token });
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
        }
      }
    }
    return { tenant, created };
  }

  /**
   * authenticate() answered from memory, without a promise, when it can be:
   * the token's cache entry is fresh and its last-used time is not due for
   * an update. Returns the credential, undefined (refused), or null: not
   * known here, ask authenticate().
   */
  authenticateCached(tenantId: string, secret: string): Credential | undefined | null {
    const now = Date.now();
    const entry = this.#cache.get(hashToken(secret));
    if (!entry || entry.until < now) return null;
    const verdict = accepted(entry, tenantId, now);
    if (!verdict) return undefined;
    return now - (this.#touched.get(verdict.token.id) ?? 0) > TOUCH_INTERVAL_MS ? null : verdict;
  }

  /**
   * The token and its tenant, if the token is live and belongs to
   * `tenantId`. Unknown tenant and wrong token look the same to callers.
   */
  async authenticate(tenantId: string, secret: string): Promise<Credential | undefined> {
    const hash = hashToken(secret);
    const now = Date.now();
    let entry = this.#cache.get(hash);
    if (!entry || entry.until < now) {
      const token = await repo.findActiveTokenByHash(this.db, hash);
      const tenant = token ? await repo.findTenant(this.db, token.tenantId) : undefined;
      entry = { token, tenant, until: now + TOKEN_CACHE_MS };
      if (this.#cache.size >= TOKEN_CACHE_MAX) this.#cache.clear();
      this.#cache.set(hash, entry);
    }
    const verdict = accepted(entry, tenantId, now);
    if (!verdict) return undefined;
    const { token, tenant } = verdict;
    const last = this.#touched.get(token.id) ?? 0;
    if (now - last > TOUCH_INTERVAL_MS) {
      this.#touched.set(token.id, now);
      await repo.touchToken(this.db, token.id, new Date(now));
    }
    return { token, tenant };
  }
}

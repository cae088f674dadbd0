/**
 * Who may use the admin API: ADMIN_TOKEN when it is set; otherwise the token
 * Roster generated for itself on an embedded database (stored only as its
 * SHA-256 hash in server_secrets, shown once at the start that made it).
 * Both have every scope. Beside them, named admin keys (AdminKeyService):
 * scoped, optionally bound to one tenant, revocable one by one.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import * as repo from '../db/admin-keys.js';
import type { AdminKeyRecord } from '../db/admin-keys.js';
import type { Db } from '../db/index.js';
import { ensureSecret, readSecret } from '../db/secrets.js';
import { findTenant } from '../db/tenants.js';
import { badRequest, notFound, ScimError } from '../scim/errors.js';
import { ADMIN_TOKEN_ACTOR, type Actor } from './actor.js';
import { ADMIN_SCOPES, grants, parseScopes } from './scopes.js';
import { TtlCache, UseRecorder } from './ttl-cache.js';

export type { AdminKeyRecord };

/** server_secrets row holding the hex SHA-256 of the generated admin token. */
export const GENERATED_ADMIN_TOKEN_SECRET = 'generated_admin_token_sha256';
export const ADMIN_TOKEN_PREFIX = 'rsta_';

export interface AdminKeys {
  /** SHA-256 digests of the bearer tokens that open the admin API; none means it is disabled. */
  digests: Buffer[];
}

export const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The keys configuration alone gives: ADMIN_TOKEN. */
export const configuredAdminKeys = (config: Pick<Config, 'adminToken'>): AdminKeys => ({ digests: config.adminToken ? [sha256(config.adminToken)] : [] });

/** ADMIN_TOKEN, or else the generated token's stored hash. */
export async function loadAdminKeys(config: Pick<Config, 'adminToken'>, db: Db): Promise<AdminKeys> {
  if (config.adminToken) return configuredAdminKeys(config);
  const stored = await readSecret(db, GENERATED_ADMIN_TOKEN_SECRET);
  return { digests: stored ? [Buffer.from(stored, 'hex')] : [] };
}

/**
 * Generate the admin token if there is none yet; returns it when this call
 * made it (the one time it can be shown), undefined when one existed.
 */
export async function generateAdminToken(db: Db): Promise<string | undefined> {
  const token = ADMIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const hash = sha256(token).toString('hex');
  const stored = await ensureSecret(db, GENERATED_ADMIN_TOKEN_SECRET, () => hash);
  return stored === hash ? token : undefined;
}

// ------------------------------------------------------------ named admin keys

/** Prefix of named admin keys (README "Authentication"). */
export const ADMIN_KEY_PREFIX = 'rsak_';

/** Who calls the admin API, what it may do and where. */
export interface AdminPrincipal {
  actor: Actor;
  /** src/services/scopes.ts ADMIN_SCOPES. */
  scopes: readonly string[];
  /** A key bound to one tenant opens only that tenant's routes; null: every tenant. */
  tenant: string | null;
}

export const ADMIN_TOKEN_PRINCIPAL: AdminPrincipal = Object.freeze({ actor: ADMIN_TOKEN_ACTOR, scopes: Object.freeze(['all']), tenant: null });

export interface IssuedAdminKey {
  key: AdminKeyRecord;
  /** The key itself: returned once, never stored. */
  secret: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long a process trusts an admin key look-up; revoking clears this process's cache at once. */
export const ADMIN_KEY_CACHE_MS = 5_000;

export class AdminKeyService {
  readonly #cache = new TtlCache<AdminKeyRecord | undefined>(ADMIN_KEY_CACHE_MS);
  readonly #uses = new UseRecorder();

  constructor(private readonly db: Db) {}

  /** A new key: `scopes` never beyond the creator's, bound to `tenant` (which must exist) when given. */
  async create(by: AdminPrincipal, input: { name: string; scopes: string[]; tenant?: string | undefined }): Promise<IssuedAdminKey> {
    const scopes = parseScopes(input.scopes, ADMIN_SCOPES, 'an admin key')!;
    const beyond = scopes.find((s) => !grants(by.scopes, s));
    if (beyond) throw new ScimError(403, `An admin key cannot grant the scope "${beyond}", which its creator lacks`);
    const tenant = input.tenant ?? by.tenant;
    if (by.tenant !== null && tenant !== by.tenant) throw new ScimError(403, 'A key bound to a tenant can only create keys bound to the same tenant');
    if (tenant !== null && !(await findTenant(this.db, tenant))) throw notFound(`Tenant "${tenant}" not found`);
    if (!input.name.trim()) throw badRequest('invalidValue', 'name must not be empty');
    const secret = ADMIN_KEY_PREFIX + randomBytes(32).toString('base64url');
    const key = await repo.insertAdminKey(this.db, { id: randomUUID(), name: input.name, hash: sha256(secret).toString('hex'), prefix: secret.slice(0, ADMIN_KEY_PREFIX.length + 6), scopes, tenantId: tenant });
    return { key, secret };
  }

  /** Keys visible to `by`: all of them, or those bound to its tenant. */
  list(by: AdminPrincipal): Promise<AdminKeyRecord[]> {
    return repo.listAdminKeys(this.db, by.tenant ?? undefined);
  }

  async revoke(by: AdminPrincipal, id: string): Promise<AdminKeyRecord> {
    const existing = UUID.test(id) ? await repo.findAdminKey(this.db, id) : undefined;
    if (!existing || (by.tenant !== null && existing.tenantId !== by.tenant)) throw notFound(`Admin key "${id}" not found`);
    const revoked = await repo.revokeAdminKey(this.db, id);
    this.#cache.clear();
    return revoked ?? existing;
  }

  /** Whether a key (by id) is still accepted: a console session made with it lasts only as long. */
  async isActive(id: string): Promise<boolean> {
    const key = UUID.test(id) ? await repo.findAdminKey(this.db, id) : undefined;
    return !!key && key.revokedAt === null;
  }

  /** From memory when this process looked the key up moments ago: the principal, undefined (refused), or null (ask authenticate). */
  authenticateCached(secret: string): AdminPrincipal | undefined | null {
    const hit = this.#cache.get(sha256(secret).toString('hex'));
    if (!hit) return null;
    if (!hit.value) return undefined;
    return this.#uses.isDue(hit.value.id) ? null : principalOf(hit.value);
  }

  async authenticate(secret: string): Promise<AdminPrincipal | undefined> {
    const hash = sha256(secret).toString('hex');
    let hit = this.#cache.get(hash);
    if (!hit) {
      hit = { value: await repo.findActiveAdminKeyByHash(this.db, hash) };
      this.#cache.set(hash, hit.value);
    }
    const key = hit.value;
    if (!key) return undefined;
    if (this.#uses.due(key.id)) await repo.touchAdminKey(this.db, key.id, new Date());
    return principalOf(key);
  }
}

const principalOf = (k: AdminKeyRecord): AdminPrincipal => ({ actor: { type: 'adminKey', id: k.id, name: k.name }, scopes: k.scopes, tenant: k.tenantId });

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) for SCIM: per-tenant clients
 * (secret shown once, SHA-256 stored), short-lived JWT access tokens
 * (RFC 9068 profile: `typ: at+jwt`, `aud` = the tenant's SCIM base URL)
 * signed with Roster's own ES256 keys, published at /.well-known/jwks.json.
 *
 * Rotation without downtime: rotating adds a new key and retires the old
 * one, which stays published and verifiable for the token lifetime plus a
 * margin (replicas may sign with it until their key cache refreshes).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import type { Db } from '../db/index.js';
import * as repo from '../db/oauth.js';
import type { OAuthClientRecord, OAuthSigningKeyRecord } from '../db/oauth.js';
import { findTenant } from '../db/tenants.js';
import { badRequest, notFound } from '../scim/errors.js';
import type { ScimPrincipal } from './credentials.js';
import { grantsAll, parseScopes, SCIM_SCOPES } from './scopes.js';
import { TtlCache, UseRecorder } from './ttl-cache.js';

export type { OAuthClientRecord };

export const OAUTH_ALG = 'ES256';
export const CLIENT_ID_PREFIX = 'rsc_';
export const CLIENT_SECRET_PREFIX = 'rscs_';
/** Signing keys a process reuses before looking for a rotation by another replica. */
const KEY_CACHE_MS = 60_000;
/** How long a retired key stays published beyond the token lifetime (covers KEY_CACHE_MS and clock skew). */
const RETIRED_MARGIN_MS = 5 * 60_000;
const CLIENT_CACHE_MS = 5_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const digest = (s: string) => createHash('sha256').update(s).digest();

/** RFC 6749 §5.2 error of the token endpoint. */
export class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope',
    readonly description: string,
  ) {
    super(description);
  }
}

export interface IssuedClient {
  client: OAuthClientRecord;
  secret: string;
}

export interface AccessToken {
  accessToken: string;
  expiresIn: number;
  scope: string[];
}

interface Keys {
  signing: { kid: string; key: Awaited<ReturnType<typeof importJWK>> };
  verify: Map<string, OAuthSigningKeyRecord>;
  until: number;
}

export class OAuthService {
  readonly #clients = new TtlCache<OAuthClientRecord | undefined>(CLIENT_CACHE_MS);
  readonly #uses = new UseRecorder();
  #keys: Promise<Keys> | undefined;
  #forcedAt = 0;
  /** A dummy digest compared when the client does not exist, so timing does not tell. */
  readonly #dummy = digest(randomBytes(16).toString('hex'));

  constructor(
    private readonly db: Db,
    private readonly opts: { publicUrl: string; ttlSeconds: number; clockSkewSeconds: number },
  ) {}

  /** The `iss` of Roster's access tokens and of its RFC 8414 metadata. */
  get issuer(): string {
    return this.opts.publicUrl.replace(/\/+$/, '');
  }

  audienceOf(tenantId: string): string {
    return `${this.issuer}/scim/v2/${tenantId}`;
  }

  // -------------------------------------------------------------- clients

  async createClient(tenantId: string, input: { name?: string | undefined; scopes?: string[] | undefined; expiresAt?: Date | null | undefined }): Promise<IssuedClient> {
    if (!(await findTenant(this.db, tenantId))) throw notFound(`Tenant "${tenantId}" not found`);
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw badRequest('invalidValue', 'expiresAt must be in the future');
    const secret = CLIENT_SECRET_PREFIX + randomBytes(32).toString('base64url');
    const client = await repo.insertClient(this.db, {
      id: randomUUID(),
      tenantId,
      clientId: CLIENT_ID_PREFIX + randomBytes(16).toString('base64url'),
      name: input.name ?? 'oauth client',
      secretHash: digest(secret).toString('hex'),
      scopes: parseScopes(input.scopes, SCIM_SCOPES, 'an OAuth client') ?? [...SCIM_SCOPES],
      expiresAt: input.expiresAt ?? null,
    });
    return { client, secret };
  }

  async listClients(tenantId: string): Promise<OAuthClientRecord[]> {
    if (!(await findTenant(this.db, tenantId))) throw notFound(`Tenant "${tenantId}" not found`);
    return repo.listClients(this.db, tenantId);
  }

  async revokeClient(tenantId: string, id: string): Promise<OAuthClientRecord> {
    const c = UUID.test(id) ? await repo.revokeClient(this.db, tenantId, id) : undefined;
    if (!c) throw notFound(`OAuth client "${id}" not found for tenant "${tenantId}"`);
    this.#clients.clear();
    return c;
  }

  async #client(clientId: string): Promise<OAuthClientRecord | undefined> {
    const hit = this.#clients.get(clientId);
    if (hit) return hit.value;
    const c = await repo.findClient(this.db, clientId);
    this.#clients.set(clientId, c);
    return c;
  }

  #live(c: OAuthClientRecord | undefined, now: number): c is OAuthClientRecord {
    return !!c && c.revokedAt === null && (c.expiresAt === null || c.expiresAt.getTime() > now);
  }

  // -------------------------------------------------------------- token endpoint

  /** The client credentials grant: authenticate the client, issue an access token. */
  async token(clientId: string, secret: string, requestedScope: string | undefined): Promise<AccessToken> {
    const client = await repo.findClient(this.db, clientId);
    const presented = digest(secret);
    const ok = timingSafeEqual(presented, client ? Buffer.from(client.secretHash, 'hex') : this.#dummy);
    const now = Date.now();
    // Unknown, wrong secret, revoked or expired: one answer (nothing tells which).
    if (!ok || !this.#live(client, now)) throw new OAuthError('invalid_client', 'Client authentication failed');
    let scope = client.scopes;
    if (requestedScope !== undefined) {
      const asked = [...new Set(requestedScope.split(' ').filter(Boolean))].sort();
      if (asked.length === 0 || !asked.every((s) => (SCIM_SCOPES as readonly string[]).includes(s)) || !grantsAll(client.scopes, asked)) {
        throw new OAuthError('invalid_scope', `The requested scope exceeds what this client may have: ${client.scopes.join(' ')}`);
      }
      scope = asked;
    }
    if (this.#uses.due(client.id, now)) await repo.touchClient(this.db, client.id, new Date(now));
    const { signing } = await this.#loadKeys();
    const iat = Math.floor(now / 1000);
    const accessToken = await new SignJWT({ scope: scope.join(' '), client_id: client.clientId })
      .setProtectedHeader({ alg: OAUTH_ALG, typ: 'at+jwt', kid: signing.kid })
      .setIssuer(this.issuer)
      .setSubject(client.clientId)
      .setAudience(this.audienceOf(client.tenantId))
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.opts.ttlSeconds)
      .setJti(randomUUID())
      .sign(signing.key);
    return { accessToken, expiresIn: this.opts.ttlSeconds, scope };
  }

  /** An access token of ours for `tenantId`'s base URL: the principal, or undefined. */
  async verify(tenantId: string, token: string): Promise<ScimPrincipal | undefined> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return undefined;
    }
    if (!kid) return undefined;
    let keys = await this.#loadKeys();
    // A kid this process has not seen: another replica may have rotated (looked for at most every 5 s).
    if (!keys.verify.has(kid) && Date.now() - this.#forcedAt > 5_000) {
      this.#forcedAt = Date.now();
      keys = await this.#loadKeys(true);
    }
    const rec = keys.verify.get(kid);
    if (!rec) return undefined;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await importJWK(rec.publicJwk as JWK, rec.alg), {
        issuer: this.issuer,
        audience: this.audienceOf(tenantId),
        algorithms: [OAUTH_ALG],
        typ: 'at+jwt',
        clockTolerance: this.opts.clockSkewSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch {
      return undefined;
    }
    const client = await this.#client(String(payload.sub));
    if (!this.#live(client, Date.now()) || client.tenantId !== tenantId) return undefined;
    const tenant = await findTenant(this.db, tenantId);
    if (!tenant) return undefined;
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    return { tenant, actor: { type: 'oauthClient', id: client.id, name: client.name }, scopes };
  }

  // -------------------------------------------------------------- signing keys

  /** Make a new signing key the one that signs; the old one stays verifiable until its tokens have expired. */
  async rotate(): Promise<{ kid: string }> {
    const key = await newKey();
    await repo.addSigningKey(this.db, key, true);
    this.#keys = undefined;
    return { kid: key.kid };
  }

  /** Public keys to publish (JWKS), creating the first signing key if there is none. */
  async publicKeys(): Promise<Record<string, unknown>[]> {
    const keys = await this.#loadKeys();
    return [...keys.verify.values()].map((k) => k.publicJwk);
  }

  #loadKeys(fresh = false): Promise<Keys> {
    const p = this.#keys;
    if (p && !fresh) {
      return p.then((k) => (k.until > Date.now() ? k : this.#loadKeys(true)));
    }
    const next = (async (): Promise<Keys> => {
      const since = () => new Date(Date.now() - this.opts.ttlSeconds * 1000 - RETIRED_MARGIN_MS);
      let all = await repo.verifiableSigningKeys(this.db, since());
      if (!all.some((k) => k.retiredAt === null)) {
        await repo.addSigningKey(this.db, await newKey(), false);
        all = await repo.verifiableSigningKeys(this.db, since());
      }
      const active = all.find((k) => k.retiredAt === null)!;
      return {
        signing: { kid: active.kid, key: await importJWK(active.privateJwk as JWK, active.alg) },
        verify: new Map(all.map((k) => [k.kid, k])),
        until: Date.now() + KEY_CACHE_MS,
      };
    })();
    next.catch(() => {
      if (this.#keys === next) this.#keys = undefined;
    });
    this.#keys = next;
    return next;
  }
}

async function newKey(): Promise<{ kid: string; alg: string; privateJwk: Record<string, unknown>; publicJwk: Record<string, unknown> }> {
  const { privateKey, publicKey } = await generateKeyPair(OAUTH_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = `oauth-${await calculateJwkThumbprint(publicJwk)}`;
  return {
    kid,
    alg: OAUTH_ALG,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: OAUTH_ALG },
    publicJwk: { ...publicJwk, kid, alg: OAUTH_ALG, use: 'sig' },
  };
}

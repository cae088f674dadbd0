/**
 * External JWTs (README "Authentication"): per tenant, issuers whose JWTs
 * open that tenant's SCIM base URL after full validation: signature against
 * the issuer's JWKS (fetched and cached by jose), `iss`, `aud`, `exp`/`nbf`/
 * `iat` with JWT_CLOCK_SKEW_SECONDS, an algorithm allow-list of asymmetric
 * algorithms (never `none` nor HMAC: the JWKS is public), and optionally a
 * claim that must name the tenant. A JWKS that cannot be fetched refuses
 * the token (fail closed) with a 401 saying so.
 */
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Db } from '../db/index.js';
import { isUniqueViolation } from '../db/errors.js';
import { findTenant } from '../db/tenants.js';
import * as repo from '../db/trusted-issuers.js';
import type { TrustedIssuerRecord } from '../db/trusted-issuers.js';
import { badRequest, notFound, ScimError } from '../scim/errors.js';
import { CredentialRefused, type ScimPrincipal } from './credentials.js';
import { grants, parseScopes, SCIM_SCOPES } from './scopes.js';
import { TtlCache } from './ttl-cache.js';

export type { TrustedIssuerRecord };

export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const DEFAULT_JWT_ALGORITHMS = ['RS256', 'ES256'];
/** After a JWKS fetch, an unknown `kid` (the IdP rotated) fetches again only after this long. */
export const JWKS_COOLDOWN_MS = 5_000;
/** How long fetched keys are used before the JWKS is fetched again. */
const JWKS_MAX_AGE_MS = 10 * 60_000;
const ISSUERS_CACHE_MS = 5_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface IssuerInput {
  name?: string | undefined;
  issuer: string;
  audience: string;
  jwksUrl: string;
  algorithms?: string[] | undefined;
  tenantClaim?: string | undefined;
  scopes?: string[] | undefined;
}

/** https, or http to this host only (development, tests). */
function checkJwksUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badRequest('invalidValue', 'jwksUrl must be an absolute URL');
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw badRequest('invalidValue', 'jwksUrl must use https (http only on loopback)');
  return u.toString();
}

export class TrustedIssuerService {
  readonly #issuers = new TtlCache<TrustedIssuerRecord[]>(ISSUERS_CACHE_MS);
  readonly #jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  constructor(
    private readonly db: Db,
    private readonly opts: { clockSkewSeconds: number; jwksTimeoutMs: number },
  ) {}

  async create(tenantId: string, input: IssuerInput): Promise<TrustedIssuerRecord> {
    if (!(await findTenant(this.db, tenantId))) throw notFound(`Tenant "${tenantId}" not found`);
    const algorithms = [...new Set(input.algorithms ?? DEFAULT_JWT_ALGORITHMS)];
    const bad = algorithms.find((a) => !(JWT_ALGORITHMS as readonly string[]).includes(a));
    if (bad !== undefined || algorithms.length === 0) throw badRequest('invalidValue', `algorithms: ${bad ?? '(none)'} is not allowed; one or more of ${JWT_ALGORITHMS.join(', ')}`);
    if (!input.issuer || !input.audience) throw badRequest('invalidValue', 'issuer and audience must not be empty');
    try {
      const rec = await repo.insertIssuer(this.db, {
        id: randomUUID(),
        tenantId,
        name: input.name ?? input.issuer,
        issuer: input.issuer,
        audience: input.audience,
        jwksUrl: checkJwksUrl(input.jwksUrl),
        algorithms,
        tenantClaim: input.tenantClaim ?? null,
        scopes: parseScopes(input.scopes, SCIM_SCOPES, 'a trusted issuer') ?? [...SCIM_SCOPES],
      });
      this.#issuers.clear();
      return rec;
    } catch (err) {
      if (isUniqueViolation(err)) throw new ScimError(409, `Tenant "${tenantId}" already trusts issuer "${input.issuer}"`, 'uniqueness');
      throw err;
    }
  }

  async list(tenantId: string): Promise<TrustedIssuerRecord[]> {
    if (!(await findTenant(this.db, tenantId))) throw notFound(`Tenant "${tenantId}" not found`);
    return repo.listIssuers(this.db, tenantId);
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!UUID.test(id) || !(await repo.deleteIssuer(this.db, tenantId, id))) throw notFound(`Trusted issuer "${id}" not found for tenant "${tenantId}"`);
    this.#issuers.clear();
  }

  async #forTenant(tenantId: string): Promise<TrustedIssuerRecord[]> {
    const hit = this.#issuers.get(tenantId);
    if (hit) return hit.value;
    const list = await repo.listIssuers(this.db, tenantId);
    this.#issuers.set(tenantId, list);
    return list;
  }

  #keySet(rec: TrustedIssuerRecord) {
    const k = `${rec.id} ${rec.jwksUrl}`;
    let set = this.#jwks.get(k);
    if (!set) {
      set = createRemoteJWKSet(new URL(rec.jwksUrl), { timeoutDuration: this.opts.jwksTimeoutMs, cooldownDuration: JWKS_COOLDOWN_MS, cacheMaxAge: JWKS_MAX_AGE_MS });
      if (this.#jwks.size >= 1000) this.#jwks.clear();
      this.#jwks.set(k, set);
    }
    return set;
  }

  /** A JWT claiming issuer `iss` for `tenantId`: the principal, undefined, or CredentialRefused when the JWKS is unreachable. */
  async verify(tenantId: string, token: string, iss: string): Promise<ScimPrincipal | undefined> {
    const rec = (await this.#forTenant(tenantId)).find((i) => i.issuer === iss);
    if (!rec) return undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keySet(rec), {
        issuer: rec.issuer,
        audience: rec.audience,
        algorithms: rec.algorithms,
        clockTolerance: this.opts.clockSkewSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
        throw new CredentialRefused(`The token's issuer keys (JWKS) could not be fetched, so the token cannot be verified: ${err instanceof Error ? err.message : String(err)}`);
      }
      return undefined;
    }
    // RFC 7519 §4.1.6: a token issued in the future (beyond the skew) is not yet valid.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + this.opts.clockSkewSeconds) return undefined;
    if (rec.tenantClaim !== null && payload[rec.tenantClaim] !== tenantId) return undefined;
    const tenant = await findTenant(this.db, tenantId);
    if (!tenant) return undefined;
    return { tenant, actor: { type: 'jwtSubject', id: `${rec.id}:${payload.sub}`, name: `${payload.sub} (${rec.name})` }, scopes: scopesOf(payload, rec.scopes) };
  }
}

/** The token's `scope` (RFC 8693 §4.2, space-separated) or `scp` claim, within what the issuer may grant; else the issuer's scopes. */
function scopesOf(payload: JWTPayload, allowed: string[]): string[] {
  const raw = payload.scope ?? payload.scp;
  if (raw === undefined) return allowed;
  const asked = (Array.isArray(raw) ? raw.map(String) : String(raw).split(' ')).filter((s) => (SCIM_SCOPES as readonly string[]).includes(s));
  return asked.filter((s) => grants(allowed, s));
}

/**
 * Request rate limits: a token bucket per SCIM tenant and one per admin API
 * client address. Buckets live in this process's memory, so with N replicas
 * a tenant can reach N times the configured rate; the limits protect each
 * process and its share of the database, they are not a global quota.
 *
 * SCIM requests are counted after authentication (a root `preParsing` hook
 * runs after the SCIM plugin's `onRequest` auth hook), keyed by the
 * authenticated tenant: requests with a wrong token never spend a tenant's
 * budget, so nobody who merely knows a tenant's URL can throttle its IdP.
 * Admin requests are counted before authentication, keyed by client address,
 * which also slows down guessing ADMIN_TOKEN.
 *
 * A /Bulk request is counted once per operation, as a whole, when its body
 * has been read (RFC 7644 §3.7: one request, many operations). A request
 * within BULK_MAX_OPERATIONS needs at most a full bucket, so it is never
 * refused for its size alone; one over it is not counted and gets 413
 * tooMany from the Bulk service.
 *
 * Failed authentication (SCIM and admin) is counted per client address
 * (AuthFailures): beyond the limit, an address gets 429 before its
 * credential is looked up, so guessing tokens costs no database query per
 * attempt. A credential this process already knows to be good is served
 * even then, so a legitimate client behind the same address is not locked
 * out by someone else's guessing while its token stays cached.
 *
 * Excess requests get 429 (RFC 6585 §4) with Retry-After and a SCIM error
 * body (RFC 7644 §3.12, status "429"), rendered by the one error handler.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { ScimError } from '../scim/errors.js';

export interface BucketOptions {
  /** Tokens added per minute (the sustained rate). */
  perMinute: number;
  /** Bucket size: the burst allowed on top of the sustained rate. */
  burst: number;
  /** Clock in milliseconds (tests pass their own). */
  now?: () => number;
  /** Idle full buckets are dropped beyond this many keys. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

/** Token buckets by key, refilled continuously at perMinute/60 tokens a second. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerMs: number;
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(readonly opts: BucketOptions) {
    this.ratePerMs = opts.perMinute / 60_000;
    this.now = opts.now ?? (() => performance.now());
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  /**
   * Spend `cost` tokens of `key`'s bucket if it has them. A cost above the
   * bucket size is capped at it (such a request needs a full bucket), so
   * every request can eventually pass.
   */
  take(key: string, cost = 1): Take {
    cost = Math.min(cost, this.opts.burst);
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = { tokens: this.opts.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.opts.burst, b.tokens + (now - b.at) * this.ratePerMs);
      b.at = now;
    }
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return { ok: true };
    }
    const missing = cost - b.tokens;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(missing / this.ratePerMs / 1000)) };
  }

  /** Whether `cost` tokens are there now, without spending them. */
  peek(key: string, cost = 1): Take {
    const b = this.buckets.get(key);
    if (!b) return { ok: true };
    const tokens = Math.min(this.opts.burst, b.tokens + (this.now() - b.at) * this.ratePerMs);
    if (tokens >= cost) return { ok: true };
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((cost - tokens) / this.ratePerMs / 1000)) };
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drop buckets that have refilled completely: forgetting them changes nothing. */
  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.ratePerMs >= this.opts.burst) this.buckets.delete(key);
    }
  }
}

const tooMany = (what: string, perMinute: number, retryAfterSeconds: number) =>
  new ScimError(429, `Too many requests: ${what} is limited to ${perMinute} requests per minute; retry after ${retryAfterSeconds} s`, undefined, {
    'retry-after': String(retryAfterSeconds),
  });

/** Failed authentications per client address (see the header). */
export class AuthFailures {
  constructor(
    private readonly buckets: TokenBuckets,
    private readonly perMinute: number,
  ) {}

  /** The 429 for an address that has failed too often, or undefined. Spends nothing. */
  check(address: string): ScimError | undefined {
    const r = this.buckets.peek(address);
    return r.ok ? undefined : tooMany('failed authentication from one client address', this.perMinute, r.retryAfterSeconds);
  }

  record(address: string): void {
    this.buckets.take(address);
  }
}

const routeUrl = (req: FastifyRequest) => req.routeOptions.url ?? '';
const isBulk = (req: FastifyRequest) => req.method === 'POST' && /\/bulk$/i.test(routeUrl(req));

/** Route patterns of the SCIM API start with this (SCIM_PREFIX). */
const SCIM_ROUTE = '/scim/v2/:tenant';
const ADMIN_ROUTE = '/admin/v1';

/**
 * Install the limits as root hooks; call before the SCIM and admin plugins
 * are registered so they inherit the hooks.
 */
export interface RateLimits {
  scim?: TokenBuckets;
  admin?: TokenBuckets;
  authFailures?: AuthFailures;
}

export function installRateLimits(app: FastifyInstance, config: Config): RateLimits {
  const out: RateLimits = {};
  if (config.rateLimitAuthFailuresPerMinute > 0) {
    out.authFailures = new AuthFailures(
      new TokenBuckets({ perMinute: config.rateLimitAuthFailuresPerMinute, burst: config.rateLimitAuthFailuresBurst }),
      config.rateLimitAuthFailuresPerMinute,
    );
  }

  if (config.rateLimitAdminPerMinute > 0) {
    const admin = new TokenBuckets({ perMinute: config.rateLimitAdminPerMinute, burst: config.rateLimitAdminBurst });
    out.admin = admin;
    // Callback style: runs for every request (SCIM ones too), and an async hook would cost a promise each time.
    app.addHook('onRequest', (req, _reply, done) => {
      const r = routeUrl(req).startsWith(ADMIN_ROUTE) ? admin.take(req.ip) : undefined;
      done(r && !r.ok ? tooMany('the admin API', config.rateLimitAdminPerMinute, r.retryAfterSeconds) : undefined);
    });
  }

  if (config.rateLimitScimPerMinute > 0) {
    const scim = new TokenBuckets({ perMinute: config.rateLimitScimPerMinute, burst: config.rateLimitScimBurst });
    out.scim = scim;
    const what = (tenant: string) => `SCIM tenant ${tenant}`;
    // preParsing: after the SCIM auth hook (onRequest), before the body is read. /Bulk is counted whole below.
    app.addHook('preParsing', (req, _reply, payload, done) => {
      const tenant = (req as Partial<Pick<FastifyRequest, 'scim'>>).scim?.tenant;
      const r = tenant && routeUrl(req).startsWith(SCIM_ROUTE) && !isBulk(req) ? scim.take(tenant.id) : undefined;
      if (tenant && r && !r.ok) done(tooMany(what(tenant.id), config.rateLimitScimPerMinute, r.retryAfterSeconds));
      else done(null, payload);
    });
    // RFC 7644 §3.7: one /Bulk request carries many operations; each counts, all at once (see the header).
    app.addHook('preHandler', async (req) => {
      const tenant = (req as Partial<Pick<FastifyRequest, 'scim'>>).scim?.tenant;
      if (!tenant || !isBulk(req)) return;
      const body = req.body as Record<string, unknown> | undefined;
      const ops = body && typeof body === 'object' ? Object.entries(body).find(([k]) => k.toLowerCase() === 'operations')?.[1] : undefined;
      const n = Array.isArray(ops) ? ops.length : 1;
      if (n > config.bulkMaxOperations) return; // refused with 413 tooMany whatever the bucket holds
      const r = scim.take(tenant.id, Math.max(1, n));
      if (!r.ok) throw tooMany(what(tenant.id), config.rateLimitScimPerMinute, r.retryAfterSeconds);
    });
  }
  return out;
}

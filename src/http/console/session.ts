/**
 * Console sessions: a signed cookie (HttpOnly, SameSite=Strict, Secure behind
 * TLS) that holds who signed in, until when, and a fingerprint of the admin
 * credential used — so that a rotated ADMIN_TOKEN ends every session made
 * with the old one, and a revoked admin key every session made with it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../services/actor.js';
import type { AdminKeyService, AdminKeys } from '../../services/admin-keys.js';
import { sha256 } from '../../services/admin-keys.js';

export const SESSION_COOKIE = 'roster_console';
export const SESSION_HOURS = 8;

export interface ConsoleSession {
  actor: Actor;
  /** Epoch ms. */
  expires: number;
  /** HMAC of the credential's digest. */
  fp: string;
}

export class Sessions {
  constructor(
    private readonly secret: () => string,
    private readonly keys: () => AdminKeys,
    private readonly named?: AdminKeyService,
  ) {}

  #fingerprint(digest: Buffer): string {
    return createHmac('sha256', this.secret()).update(digest).digest('base64url');
  }

  start(reply: FastifyReply, req: FastifyRequest, token: string, actor: Actor): void {
    const session: ConsoleSession = { actor, expires: Date.now() + SESSION_HOURS * 3_600_000, fp: this.#fingerprint(sha256(token)) };
    reply.setCookie(SESSION_COOKIE, JSON.stringify(session), { ...cookieOptions(req), maxAge: SESSION_HOURS * 3600, signed: true });
  }

  end(reply: FastifyReply, req: FastifyRequest): void {
    reply.clearCookie(SESSION_COOKIE, cookieOptions(req));
  }

  /** The request's session, if it is genuine, unexpired and its credential still accepted. */
  async read(req: FastifyRequest): Promise<ConsoleSession | undefined> {
    const raw = req.cookies[SESSION_COOKIE];
    if (!raw) return undefined;
    const unsigned = req.unsignCookie(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    let s: ConsoleSession;
    try {
      s = JSON.parse(unsigned.value) as ConsoleSession;
    } catch {
      return undefined;
    }
    if (typeof s.expires !== 'number' || s.expires <= Date.now() || typeof s.fp !== 'string') return undefined;
    // A named admin key: still active (revocation ends its sessions).
    if (s.actor?.type === 'adminKey') return s.actor.id && this.named && (await this.named.isActive(s.actor.id)) ? s : undefined;
    const fp = Buffer.from(s.fp);
    let known = false;
    for (const d of this.keys().digests) {
      const candidate = Buffer.from(this.#fingerprint(d));
      known = (candidate.length === fp.length && timingSafeEqual(candidate, fp)) || known;
    }
    return known ? s : undefined;
  }
}

/** Secure when the request came over TLS (directly or, with TRUST_PROXY, through a proxy). */
export const cookieOptions = (req: FastifyRequest) => ({ path: '/', httpOnly: true, sameSite: 'strict' as const, secure: req.protocol === 'https' });

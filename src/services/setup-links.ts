/**
 * Setup links (README.md "Setup links for the customer's IT admin"): a
 * one-time, time-limited URL that lets a customer's IT admin connect their
 * IdP to one tenant — and nothing else. The token is shown once (only its
 * SHA-256 is stored); the first browser that opens the link gets it, and the
 * page may generate one SCIM token for the tenant.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';
import * as repo from '../db/setup-links.js';
import { badRequest, notFound, ScimError } from '../scim/errors.js';
import type { Actor } from './actor.js';
import type { IssuedToken, TenantService } from './tenants.js';

export type { SetupLinkRecord } from '../db/setup-links.js';

export const SETUP_LINK_PREFIX = 'rsl_';
export const SETUP_LINK_DEFAULT_DAYS = 7;
export const SETUP_LINK_MAX_DAYS = 90;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const hash = (token: string) => createHash('sha256').update(token).digest();

/** Why a link no longer opens, in words for the person holding it. */
export class SetupLinkRefused extends ScimError {}

export class SetupLinkService {
  constructor(
    private readonly db: Db,
    private readonly tenants: TenantService,
    private readonly publicUrl: string,
  ) {}

  async create(tenantId: string, opts: { expiresInDays?: number | undefined }, actor: Actor): Promise<{ link: repo.SetupLinkRecord; url: string }> {
    await this.tenants.get(tenantId);
    const days = opts.expiresInDays ?? SETUP_LINK_DEFAULT_DAYS;
    if (!Number.isFinite(days) || days <= 0 || days > SETUP_LINK_MAX_DAYS) throw badRequest('invalidValue', `expiresInDays must be more than 0 and at most ${SETUP_LINK_MAX_DAYS}`);
    const token = SETUP_LINK_PREFIX + randomBytes(32).toString('base64url');
    const link = await repo.insertSetupLink(this.db, { id: randomUUID(), tenantId, tokenHash: hash(token), expiresAt: new Date(Date.now() + days * 86_400_000), actor: { ...actor } });
    return { link, url: `${this.publicUrl}/setup/${token}` };
  }

  async list(tenantId: string): Promise<repo.SetupLinkRecord[]> {
    await this.tenants.get(tenantId);
    return repo.listSetupLinks(this.db, tenantId);
  }

  async revoke(tenantId: string, id: string): Promise<repo.SetupLinkRecord> {
    const link = UUID.test(id) ? await repo.revokeSetupLink(this.db, tenantId, id) : undefined;
    if (!link) throw notFound(`Setup link ${id} not found in tenant ${tenantId}`);
    return link;
  }

  /** The link a token names, without opening it (undefined: no such link). */
  async peek(token: string): Promise<repo.SetupLinkRecord | undefined> {
    return token.startsWith(SETUP_LINK_PREFIX) ? repo.findSetupLinkByHash(this.db, hash(token)) : undefined;
  }

  /** The first opening of a link: it binds to the opener (the caller keeps its id in a session). */
  async open(token: string): Promise<repo.SetupLinkRecord> {
    const link = token.startsWith(SETUP_LINK_PREFIX) ? await repo.findSetupLinkByHash(this.db, hash(token)) : undefined;
    if (!link) throw new SetupLinkRefused(404, 'This setup link is not valid. Ask the application’s support team for a new one.');
    this.#usable(link);
    if (link.openedAt || !(await repo.markOpened(this.db, link.id))) {
      throw new SetupLinkRefused(410, 'This setup link was already opened. Each link works once; ask the application’s support team for a new one.');
    }
    return { ...link, openedAt: new Date() };
  }

  /** A link a session holds, while it is still usable. */
  async current(id: string): Promise<repo.SetupLinkRecord> {
    const link = UUID.test(id) ? await repo.findSetupLink(this.db, id) : undefined;
    if (!link || !link.openedAt) throw new SetupLinkRefused(404, 'This setup session is not valid. Open your setup link again.');
    this.#usable(link);
    return link;
  }

  async chooseIdp(id: string, idp: string): Promise<void> {
    await this.current(id);
    await repo.setIdp(this.db, id, idp);
  }

  /** The one SCIM token a link may generate, for its tenant. */
  async issueToken(id: string): Promise<IssuedToken> {
    const link = await this.current(id);
    if (link.tokenId) throw new SetupLinkRefused(409, 'A token was already generated with this link; it is shown only once. Ask the application’s support team for a new link if it was lost.');
    const issued = await this.tenants.issueToken(link.tenantId, { name: `setup link${link.idp ? ` (${link.idp})` : ''}` });
    if (!(await repo.claimToken(this.db, id, issued.token.id))) {
      await this.tenants.revokeToken(link.tenantId, issued.token.id);
      throw new SetupLinkRefused(409, 'A token was already generated with this link.');
    }
    return issued;
  }

  #usable(link: repo.SetupLinkRecord): void {
    if (link.revokedAt) throw new SetupLinkRefused(410, 'This setup link was revoked. Ask the application’s support team for a new one.');
    if (link.expiresAt.getTime() <= Date.now()) throw new SetupLinkRefused(410, `This setup link expired on ${link.expiresAt.toISOString().slice(0, 10)}. Ask the application’s support team for a new one.`);
  }
}

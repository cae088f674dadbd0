/**
 * JWT bearer tokens at a tenant's SCIM base URL: Roster's own access tokens
 * (src/services/oauth.ts) or a trusted issuer's (src/services/trusted-issuers.ts),
 * told apart by the unverified `iss`, then fully verified by the one that
 * claims it.
 */
import { decodeJwt } from 'jose';
import type { ScimJwtVerifier, ScimPrincipal } from './credentials.js';
import type { OAuthService } from './oauth.js';
import type { TrustedIssuerService } from './trusted-issuers.js';

export class JwtBearer implements ScimJwtVerifier {
  constructor(
    private readonly oauth: OAuthService,
    private readonly issuers: TrustedIssuerService,
  ) {}

  async verify(tenantId: string, token: string): Promise<ScimPrincipal | undefined> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    if (typeof iss !== 'string') return undefined;
    return iss === this.oauth.issuer ? this.oauth.verify(tenantId, token) : this.issuers.verify(tenantId, token, iss);
  }
}

/** External JWT issuers a tenant trusts (migration 0010_credentials). */
import type { Selectable } from 'kysely';
import type { TrustedIssuersTable } from './credentials-types.js';
import type { Db } from './index.js';

export interface TrustedIssuerRecord {
  id: string;
  tenantId: string;
  name: string;
  issuer: string;
  audience: string;
  jwksUrl: string;
  algorithms: string[];
  tenantClaim: string | null;
  scopes: string[];
  createdAt: Date;
}

const toIssuer = (r: Selectable<TrustedIssuersTable>): TrustedIssuerRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  issuer: r.issuer,
  audience: r.audience,
  jwksUrl: r.jwks_url,
  algorithms: r.algorithms,
  tenantClaim: r.tenant_claim,
  scopes: r.scopes,
  createdAt: r.created_at,
});

export async function insertIssuer(db: Db, i: Omit<TrustedIssuerRecord, 'createdAt'>): Promise<TrustedIssuerRecord> {
  const row = await db
    .insertInto('trusted_issuers')
    .values({ id: i.id, tenant_id: i.tenantId, name: i.name, issuer: i.issuer, audience: i.audience, jwks_url: i.jwksUrl, algorithms: i.algorithms, tenant_claim: i.tenantClaim, scopes: i.scopes })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toIssuer(row);
}

export async function listIssuers(db: Db, tenantId: string): Promise<TrustedIssuerRecord[]> {
  return (await db.selectFrom('trusted_issuers').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute()).map(toIssuer);
}

export async function deleteIssuer(db: Db, tenantId: string, id: string): Promise<boolean> {
  const r = await db.deleteFrom('trusted_issuers').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

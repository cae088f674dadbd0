/**
 * Who may use the admin API: ADMIN_TOKEN when it is set; otherwise the token
 * Roster generated for itself on an embedded database (stored only as its
 * SHA-256 hash in server_secrets, shown once at the start that made it).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { ensureSecret, readSecret } from '../db/secrets.js';

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

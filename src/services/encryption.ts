/**
 * Where the key that seals secrets at rest comes from (README "Secrets at
 * rest"): ENCRYPTION_KEYS, else the file ENCRYPTION_KEYS_FILE (a mounted
 * Secret), else on the embedded database a key Roster generated and keeps
 * in the data directory (in memory for `memory://`). With Postgres and none
 * of these, secrets stay in clear (a warning at start).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/index.js';
import { resealSecrets } from '../db/reseal.js';
import { generateKeySpec, KeyringError, parseKeyring, useKeyring, type Keyring } from '../db/sealing.js';

export { KeyringError };

/** The generated key's file in the PGlite data directory. */
export const GENERATED_KEY_FILE = 'roster-encryption-keys';

let memoryKey: string | undefined;

export type KeySource = 'ENCRYPTION_KEYS' | 'ENCRYPTION_KEYS_FILE' | 'data directory' | 'memory' | 'none';

export function resolveKeyring(config: Pick<Config, 'encryptionKeys' | 'encryptionKeysFile'>, database: Pick<DatabaseHandle, 'kind' | 'dataDir'>): { ring: Keyring | undefined; source: KeySource } {
  if (config.encryptionKeys) return { ring: parseKeyring(config.encryptionKeys), source: 'ENCRYPTION_KEYS' };
  if (config.encryptionKeysFile) {
    let text: string;
    try {
      text = readFileSync(config.encryptionKeysFile, 'utf8');
    } catch (err) {
      throw new KeyringError(`ENCRYPTION_KEYS_FILE ${config.encryptionKeysFile} cannot be read: ${(err as Error).message}`);
    }
    return { ring: parseKeyring(text.trim()), source: 'ENCRYPTION_KEYS_FILE' };
  }
  if (database.kind !== 'pglite' || !database.dataDir) return { ring: undefined, source: 'none' };
  // One key per process for every in-memory database: they live no longer than the process does.
  if (database.dataDir.includes('://')) return { ring: parseKeyring((memoryKey ??= generateKeySpec('memory'))), source: 'memory' };
  const file = join(database.dataDir, GENERATED_KEY_FILE);
  if (!existsSync(file)) writeFileSync(file, generateKeySpec('local') + '\n', { mode: 0o600, flag: 'wx' });
  return { ring: parseKeyring(readFileSync(file, 'utf8').trim()), source: 'data directory' };
}

/** Use the keyring for this process and bring every stored secret under it; throws KeyringError when a secret cannot be opened. */
export async function prepareSecretsAtRest(config: Config, database: DatabaseHandle): Promise<{ source: KeySource; resealed: number }> {
  const { ring, source } = resolveKeyring(config, database);
  useKeyring(ring);
  return { source, resealed: await resealSecrets(database.db) };
}

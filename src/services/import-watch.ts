/**
 * The watched directory of file imports (IMPORT_WATCH_DIR, README "Importing
 * files"): what an SFTP server writes to. Every poll, each `<dir>/<tenant>/*.csv`
 * that has not changed for a poll interval (an upload still being written
 * is left alone) is claimed by renaming it into `<tenant>/processing/` — a
 * rename is atomic, so of several replicas one takes it — and becomes an
 * import of that tenant: applied at once when the tenant's mapping says
 * `autoApply`, else left for review. Then it moves to `imported/`, or to
 * `failed/` with a `.error.txt` beside it saying why.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImportMapping } from '../policy/import-mapping.js';
import { internalActor } from './actor.js';
import type { ImportApplier } from './import-apply.js';
import type { ImportService } from './imports.js';
import { periodic } from './periodic.js';

export interface ImportWatch {
  /** Poll now (tests, and every interval): the files taken. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const ACTOR = internalActor('system', 'import-watch');

async function dirs(path: string): Promise<string[]> {
  return (await readdir(path, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
}

export function startImportWatch(opts: { dir: string; intervalMs: number; imports: ImportService; applier: ImportApplier; logger: Logger }): ImportWatch {
  const { dir, intervalMs, imports, applier, logger } = opts;

  const take = async (tenant: string, name: string): Promise<boolean> => {
    const folder = join(dir, tenant);
    const file = join(folder, name);
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile() || Date.now() - s.mtimeMs < intervalMs) return false;
    await mkdir(join(folder, 'processing'), { recursive: true });
    const claimed = join(folder, 'processing', name);
    // Another replica took it first.
    if (!(await rename(file, claimed).then(() => true, () => false))) return false;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    try {
      const imp = await imports.upload(tenant, createReadStream(claimed), { actor: ACTOR });
      const auto = (imp.mapping as ImportMapping).autoApply === true;
      const done = auto ? await applier.apply(tenant, imp.id) : imp;
      await mkdir(join(folder, 'imported'), { recursive: true });
      await rename(claimed, join(folder, 'imported', `${stamp}-${name}`));
      logger.info({ tenant, file: name, import: imp.id, state: done.state, counts: done.counts }, 'import-watch: file imported');
    } catch (err) {
      await mkdir(join(folder, 'failed'), { recursive: true });
      const failed = join(folder, 'failed', `${stamp}-${name}`);
      await rename(claimed, failed);
      await writeFile(`${failed}.error.txt`, `${err instanceof Error ? err.message : String(err)}\n`);
      logger.warn({ err, tenant, file: name }, 'import-watch: file refused');
    }
    return true;
  };

  return periodic(async () => {
    let taken = 0;
    try {
      for (const tenant of await dirs(dir)) {
        for (const d of await readdir(join(dir, tenant), { withFileTypes: true })) {
          if (d.isFile() && d.name.toLowerCase().endsWith('.csv') && (await take(tenant, d.name))) taken++;
        }
      }
    } catch (err) {
      logger.warn({ err, dir }, 'import-watch: cannot read the directory; trying again later');
    }
    return taken;
  }, intervalMs);
}

/**
 * File imports (README "Importing files"): a CSV export of the tenant's
 * directory is streamed through csv-parse into staged rows (migrations/0011),
 * validated, and compared with the tenant's users: the review. Nothing
 * changes until the import is applied (src/services/import-apply.ts).
 *
 * The file is a full snapshot: a user it does not name is deactivated (or
 * deleted, `missing: "delete"`), but only a user a file created, unless the
 * mapping owns every user (`ownsMissing`). An IdP's user is never
 * deactivated by a file's status column either, unless `ownsMissing`.
 */
import { randomUUID } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../db/index.js';
import * as rows from '../db/imports.js';
import type { Decided, ImportRecord, Outcome, StagedRow } from '../db/imports.js';
import { compileMapping, checkMapping, IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, mapRow, overlay, type CompiledMapping, type ImportMapping, ImportMappingSchema } from '../policy/import-mapping.js';
import { problems } from '../policy/validate.js';
import { changedPaths } from '../scim/diff.js';
import { badRequest, notFound, ScimError } from '../scim/errors.js';
import type { Actor } from './actor.js';
import { settingsOf, type TenantService } from './tenants.js';

/** Rows per statement while staging, diffing and streaming. */
export const IMPORT_BATCH = 1000;

const tooLarge = (what: string) => new ScimError(413, `The file is too large: ${what} (README "Importing files")`);

/** `,` or `;`: whichever the header line has more of, outside quotes. */
export function detectDelimiter(head: string): ',' | ';' {
  const line = head.split(/\r?\n/, 1)[0]!.replace(/"[^"]*"/g, '');
  return (line.match(/;/g)?.length ?? 0) > (line.match(/,/g)?.length ?? 0) ? ';' : ',';
}

/** Counts bytes through, failing the stream beyond the limit. */
function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > max ? tooLarge(`more than ${max} bytes`) : null, chunk);
    },
  });
}

export class ImportService {
  constructor(
    private readonly db: Db,
    private readonly tenants: TenantService,
  ) {}

  async getMapping(tenantId: string): Promise<ImportMapping> {
    await this.tenants.get(tenantId);
    const m = await rows.getMapping(this.db, tenantId);
    if (!m) throw notFound(`Tenant ${tenantId} has no saved import mapping`);
    return m as ImportMapping;
  }

  async putMapping(tenantId: string, mapping: ImportMapping): Promise<ImportMapping> {
    await this.tenants.get(tenantId);
    checkMapping(mapping);
    await rows.putMapping(this.db, tenantId, mapping);
    return mapping;
  }

  /** The mapping given with the upload (JSON text), else the saved one. */
  async #mappingFor(tenantId: string, given: string | undefined): Promise<ImportMapping> {
    if (given === undefined) {
      const saved = await rows.getMapping(this.db, tenantId);
      if (!saved) throw badRequest('invalidValue', 'No mapping: give one (?mapping=<JSON>) or save one (PUT …/import-mapping)');
      return saved as ImportMapping;
    }
    let m: unknown;
    try {
      m = JSON.parse(given);
    } catch {
      throw badRequest('invalidValue', 'mapping is not JSON');
    }
    const found = problems(ImportMappingSchema, m, 'mapping');
    if (found.length) throw badRequest('invalidValue', `Invalid mapping: ${found.join('; ')}`);
    return m as ImportMapping;
  }

  /** Stage, validate and diff a CSV file; the import waits for review. */
  async upload(tenantId: string, body: Readable, opts: { mapping?: string | undefined; actor: Actor | null; maxRows?: number }): Promise<ImportRecord> {
    const tenant = await this.tenants.get(tenantId);
    const lenient = settingsOf(tenant).compatibility === 'lenient';
    const mapping = await this.#mappingFor(tenantId, opts.mapping);
    checkMapping(mapping);
    const maxRows = opts.maxRows ?? IMPORT_MAX_ROWS;
    const id = randomUUID();
    let created = false;
    try {
      const limited = body.pipe(byteLimit(IMPORT_MAX_BYTES));
      body.on('error', (e) => limited.destroy(e));
      const it = limited[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) throw badRequest('invalidValue', 'The file is empty: a header row is required');
      const head = Buffer.from(first.value as Buffer).toString('utf8');
      const parser = Readable.from(
        (async function* () {
          yield first.value as Buffer;
          for (let n = await it.next(); !n.done; n = await it.next()) yield n.value as Buffer;
        })(),
      ).pipe(parse({ bom: true, delimiter: detectDelimiter(head.replace(/^\uFEFF/, '')), info: true, relax_column_count: true, skip_empty_lines: true }));

      let header: string[] | undefined;
      let compiled: CompiledMapping | undefined;
      let batch: StagedRow[] = [];
      let count = 0;
      // csv-parse counts a CRLF inside a quoted field as two lines: corrected here so that line numbers match an editor's.
      let extraLines = 0;
      let lastLine = 0;
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        const inside = record.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0);
        extraLines += record.reduce((n, f) => n + (f.match(/\r\n/g)?.length ?? 0), 0);
        const line = info.lines - extraLines - inside;
        lastLine = line;
        if (!header) {
          header = record.map((h) => h.trim());
          compiled = compileMapping(mapping, header);
          await rows.createImport(this.db, { id, tenantId, mapping, columns: header, createdBy: opts.actor });
          created = true;
          continue;
        }
        if (++count > maxRows) throw tooLarge(`more than ${maxRows} rows`);
        const m = mapRow(compiled!, header, record, lenient);
        batch.push(
          m.ok
            ? { seq: line, line, key: m.key, fields: record, resource: m.resource, outcome: null, reason: null }
            : { seq: line, line, key: m.key, fields: record, resource: null, outcome: 'rejected', reason: m.reason },
        );
        if (batch.length >= IMPORT_BATCH) {
          await rows.insertRows(this.db, id, batch);
          batch = [];
        }
      }
      if (!header) throw badRequest('invalidValue', 'The file is empty: a header row is required');
      await rows.insertRows(this.db, id, batch);
      await this.#review(tenantId, id, compiled!, lenient, count, lastLine);
    } catch (err) {
      if (created) await rows.deleteImport(this.db, id);
      if (err instanceof ScimError) throw err;
      // csv-parse's errors (an unclosed quote) name the line: the file is not CSV there.
      if (err instanceof Error && 'code' in err && String(err.code).startsWith('CSV_')) throw badRequest('invalidValue', `The file is not valid CSV: ${err.message}`);
      throw err;
    }
    return (await rows.findImport(this.db, tenantId, id))!;
  }

  /** Duplicates, matching, the diff of each matched row in batches, then the users missing from the file. */
  async #review(tenantId: string, id: string, c: CompiledMapping, lenient: boolean, count: number, lastLine: number): Promise<void> {
    const { mapping, owned } = c;
    await rows.analyzeRows(this.db);
    await rows.rejectDuplicateKeys(this.db, id);
    await rows.matchUsers(this.db, tenantId, id, mapping.key);
    for (;;) {
      const batch = await rows.rowsToDiff(this.db, tenantId, id, 0, IMPORT_BATCH);
      if (batch.length === 0) break;
      const decided: Decided[] = batch.map((r) => {
        if (!r.user) return { seq: r.seq, outcome: 'created', changed: [], resource: r.resource, reason: null };
        // An IdP's user keeps its active unless the mapping owns every user.
        const paths = r.fileOwned || mapping.ownsMissing ? owned : new Set([...owned].filter((p) => p !== 'active'));
        try {
          const target = overlay(r.user, r.resource, paths, lenient);
          const changed = changedPaths(r.user, target);
          const was = r.user.active !== false;
          const now = target.active !== false;
          const outcome: Outcome = was && !now ? 'deactivated' : !was && now ? 'reactivated' : changed.length ? 'updated' : 'unchanged';
          return { seq: r.seq, outcome, changed, resource: target, reason: null };
        } catch (err) {
          if (err instanceof ScimError) return { seq: r.seq, outcome: 'rejected', changed: [], resource: null, reason: err.message };
          throw err;
        }
      });
      await rows.setOutcomes(this.db, id, decided);
    }
    await rows.addMissing(this.db, tenantId, id, { outcome: mapping.missing === 'delete' ? 'deleted' : 'deactivated', ownsMissing: mapping.ownsMissing === true, key: mapping.key, afterSeq: lastLine });
    await rows.setImportState(this.db, id, 'review', await rows.countOutcomes(this.db, id), count);
  }

  async get(tenantId: string, id: string): Promise<ImportRecord> {
    await this.tenants.get(tenantId);
    const found = await rows.findImport(this.db, tenantId, id);
    if (!found) throw notFound(`Import ${id} not found`);
    return found;
  }

  async list(tenantId: string, opts: { before?: string | undefined; limit: number }): Promise<ImportRecord[]> {
    await this.tenants.get(tenantId);
    return rows.listImports(this.db, tenantId, opts);
  }

  /** One outcome's rows as CSV, produced batch by batch: line, key, userId, changed, reason, then the file's own columns. */
  async csv(tenantId: string, id: string, outcome: Outcome): Promise<Readable> {
    const imp = await this.get(tenantId, id);
    const db = this.db;
    const header = ['line', 'key', 'userId', 'changed', 'reason', ...imp.columns];
    async function* chunks() {
      yield stringify([header]);
      let after = 0;
      for (;;) {
        const batch = await rows.rowsOf(db, id, outcome, after, IMPORT_BATCH);
        if (batch.length === 0) return;
        after = batch.at(-1)!.seq;
        yield stringify(batch.map((r) => [r.line ?? '', r.key ?? '', r.userId ?? '', r.changed.join(' '), r.error ?? r.reason ?? '', ...imp.columns.map((_, i) => r.fields?.[i] ?? '')]));
      }
    }
    return Readable.from(chunks());
  }
}

/**
 * A private Postgres cluster for fault tests: initdb in a temporary
 * directory, its own port and socket directory, trust auth. Restarting it
 * disturbs nobody (the shared server on 5432 is never touched). Postgres
 * refuses to run as root, so as root the binaries run as the `postgres` user.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../bench/lib/system.js';

const run = promisify(execFile);

interface T {
  teardown(fn: () => unknown): void;
}

export interface Cluster {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** `pg_ctl restart -m fast`: what a failover or minor-version upgrade does to connected clients. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The server log, for failure messages. */
  dir: string;
}

/** The newest installed Postgres's bin directory, or undefined when initdb is absent. */
export function postgresBin(): string | undefined {
  if (process.env.PG_BIN) return existsSync(join(process.env.PG_BIN, 'initdb')) ? process.env.PG_BIN : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** Start a fresh cluster; stopped and removed at teardown. */
export async function startCluster(t: T, bin: string): Promise<Cluster> {
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'roster-pg-'));
  const data = join(dir, 'data');
  const pg = async (tool: string, args: string[]) => {
    const cmd = join(bin, tool);
    try {
      await (asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`);
    }
  };
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  // Also when the test process dies (the crash this suite looks for is an uncaught exception): no cluster is left running.
  const remove = () => {
    const stop = [join(bin, 'pg_ctl'), '-D', data, 'stop', '-m', 'immediate', '-w'];
    try {
      if (existsSync(join(data, 'postmaster.pid'))) execFileSync(asRoot ? 'runuser' : stop[0]!, asRoot ? ['-u', 'postgres', '--', ...stop] : stop.slice(1), { stdio: 'ignore' });
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  t.teardown(() => {
    process.removeListener('exit', remove);
    remove();
  });
  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  // A test cluster: no fsync (nothing here survives an OS crash anyway), its own socket directory.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  const ctl = (...args: string[]) => pg('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '30', ...args]);
  await ctl('start');
  return {
    port,
    dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    restart: () => ctl('restart', '-m', 'fast'),
    stop: () => ctl('stop', '-m', 'fast'),
    start: () => ctl('start'),
  };
}

/**
 * Roster as a separate process, the way it runs in production: compiled
 * JavaScript (`--server dist`, built with tsc into bench/.build so dist/ is
 * left alone) or the TypeScript sources through tsx (`--server tsx`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/**
 * The V8 heap limit the Helm chart gives the server (`maxOldSpaceMB` in helm/roster/values.yaml, passed as
 * NODE_OPTIONS), so the bench measures memory as deployed: without it Node sizes the heap from this
 * machine's 23 GB (a 4 GB limit) and RSS is wherever V8 last chose to collect.
 */
export function chartNodeOptions(): string | undefined {
  const values = fileURLToPath(new URL('../../helm/roster/values.yaml', import.meta.url));
  const m = /^maxOldSpaceMB:\s*(\d+)\s*$/m.exec(readFileSync(values, 'utf8'));
  return m && Number(m[1]) > 0 ? `--max-old-space-size=${Number(m[1])}` : undefined;
}

export interface ServerOptions {
  mode: 'dist' | 'tsx';
  /** Reuse bench/.build as it is. */
  noBuild?: boolean;
  databaseUrl: string;
  port: number;
  /** Port of the Prometheus metrics listener (kept on, as in production). */
  metricsPort: number;
  tenant: string;
  token: string;
  env?: Record<string, string>;
  /** Directory for a V8 CPU profile (written when the server exits). */
  cpuProfDir?: string | undefined;
  logFile: string;
}

export interface RunningServer {
  pid: number;
  baseUrl: string;
  stop(): Promise<number | null>;
}

const BUILD_DIR = 'bench/.build';

/** Compile src/ and migrations/ to bench/.build; returns the entry point. */
export function buildServer(log: (l: string) => void): string {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR, '--sourceMap', 'false'], { encoding: 'utf8' });
  const entry = path.join(BUILD_DIR, 'src', 'main.js');
  if (r.status !== 0) {
    // tsc still emits on type errors (others may be mid-edit); the build is usable if the entry exists.
    const errors = (r.stdout.match(/error TS/g) ?? []).length;
    log(`build: tsc reported ${errors} type error(s); running what it emitted`);
    if (errors) log(r.stdout.split('\n').slice(0, 10).join('\n'));
  }
  if (!existsSync(entry)) throw new Error(`build failed: ${entry} missing\n${r.stdout}${r.stderr}`);
  return entry;
}

export async function startServer(opts: ServerOptions, log: (l: string) => void): Promise<RunningServer> {
  const args: string[] = [];
  if (opts.cpuProfDir) {
    mkdirSync(opts.cpuProfDir, { recursive: true });
    args.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
  }
  if (opts.mode === 'dist') args.push(opts.noBuild ? path.join(BUILD_DIR, 'src', 'main.js') : buildServer(log));
  else args.push('--import', 'tsx', 'src/main.ts');

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    DATABASE_URL: opts.databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(opts.port),
    METRICS_PORT: String(opts.metricsPort),
    PUBLIC_URL: `http://127.0.0.1:${opts.port}`,
    BOOTSTRAP_TENANT: opts.tenant,
    BOOTSTRAP_TOKEN: opts.token,
    LOG_LEVEL: 'warn',
    // The bench measures capacity: the per-tenant request limit (6,000/min by default) would cap it.
    RATE_LIMIT_SCIM_PER_MINUTE: '0',
    ...(chartNodeOptions() ? { NODE_OPTIONS: chartNodeOptions() } : {}),
    ...opts.env,
  };
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const logStream = createWriteStream(opts.logFile);
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(logStream);
  child.stderr!.pipe(logStream);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = code;
      resolve(code);
    }),
  );

  const baseUrl = `http://127.0.0.1:${opts.port}/scim/v2/${opts.tenant}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`server exited with ${exited} before it was ready; see ${opts.logFile}`);
    try {
      const r = await fetch(`${baseUrl}/ServiceProviderConfig`, { headers: { authorization: `Bearer ${opts.token}` } });
      await r.arrayBuffer();
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready after 60 s; see ${opts.logFile}`);
    }
    await sleep(100);
  }

  return {
    pid: child.pid!,
    baseUrl,
    async stop() {
      if (exited === undefined) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exit;
        clearTimeout(killer);
      }
      logStream.end();
      return exited ?? null;
    },
  };
}

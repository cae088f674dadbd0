/**
 * The real server process (src/main.ts under tsx) on ephemeral ports, its
 * stdout parsed as pino JSON lines, and the CLI (src/cli.ts) as a process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createPostgresDatabase, type Backend } from './db.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type Line = Record<string, any>;

interface T {
  teardown(fn: () => unknown): void;
}

/** DATABASE_URL of a fresh database, or an in-memory PGlite. */
export async function databaseEnv(t: T, backend: Backend): Promise<Record<string, string>> {
  return backend === 'postgres' ? { DATABASE_URL: await createPostgresDatabase(t) } : { DATA_DIR: 'memory://' };
}

export class ServerProcess {
  readonly lines: Line[] = [];
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<{ pred: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  port = 0;
  metricsPort = 0;

  private constructor(readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.output.push(text);
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as Line;
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.pred(line) ? (w.resolve(line), false) : true));
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.output.push(chunk));
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Spawns the server with `env` (a database among it) and waits until it listens. */
  static async start(t: T, env: Record<string, string>, opts: { wait?: boolean } = {}): Promise<ServerProcess> {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(proc);
    t.teardown(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await server.exited;
    });
    if (opts.wait === false) return server;
    const listening = await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at http://127.0.0.1:'));
    server.port = Number(/:(\d+)$/.exec(listening.msg)![1]);
    server.metricsPort = server.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('metrics listening'))?.port ?? 0;
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The first log line (already seen or coming) matching `pred`; rejects if the process exits first. */
  waitFor(pred: (l: Line) => boolean): Promise<Line> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ pred, resolve });
      void this.exited.then(({ code }) => reject(new Error(`server exited (${code}) before the expected log line:\n${this.output.join('\n')}`)));
    });
  }

  /** SIGTERM, and the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.proc.kill('SIGTERM');
    return this.exited;
  }
}

export function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as its own process with exactly `env` (plus PATH/HOME). */
export function cli(args: string[], env: Record<string, string>): Promise<CliResult> & { proc: ChildProcess } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<CliResult>((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
  return Object.assign(done, { proc });
}

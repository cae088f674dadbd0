/**
 * The real server process (src/main.ts under tsx) on ephemeral ports, with
 * its JSON log lines parsed as they come.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPostgresDatabase, type Backend } from './db.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PROCESS_ADMIN_TOKEN = 'process-test-admin-token-0123';

export type Line = Record<string, any>;

interface T {
  teardown(fn: () => unknown): void;
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

  /** A fresh database on `backend`, unless env names one (DATABASE_URL or DATA_DIR). */
  static async start(t: T, backend: Backend, env: Record<string, string> = {}): Promise<ServerProcess> {
    const database =
      env.DATABASE_URL || env.DATA_DIR ? {} : backend === 'postgres' ? { DATABASE_URL: await createPostgresDatabase(t) } : { DATA_DIR: 'memory://' };
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HOST: '127.0.0.1',
        PORT: '0',
        METRICS_PORT: '0',
        ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
        LOG_LEVEL: 'info',
        ...database,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(proc);
    t.teardown(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await server.exited;
    });
    const listening = await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at http://127.0.0.1:'));
    server.port = Number(/:(\d+)$/.exec(listening.msg)![1]);
    server.metricsPort = server.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('metrics listening'))!.port;
    return server;
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
}

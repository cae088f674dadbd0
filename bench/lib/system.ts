/** Machine and version facts for the report, and the server's resident memory. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface Environment {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  pgbench: string | null;
  commit: string;
  dirty: boolean;
  /** Speed of this machine for the kinds of work the scenarios do (see calibrate()); absent in runs before 2026-11-30. */
  calibration?: Calibration;
}

/**
 * Quick readings that tell two machines of the same nominal size apart. The
 * VMs these benchmarks ran on all reported "2 CPUs (AMD EPYC)", yet their
 * pgbench ceilings for the same look-up differed by up to 4×. The readings
 * say which kind of work a machine is slow at: plain CPU, system calls, or a
 * database round trip (bench/README.md, "Machines differ").
 */
export interface Calibration {
  /** Milliseconds for a fixed JavaScript loop (1e8 iterations): plain CPU speed. */
  jsLoopMs: number;
  /** Microseconds per system call: `dd bs=1` copying /dev/zero to /dev/null (one read and one write per byte). */
  syscallMicros: number | null;
  /**
   * Mean milliseconds of `select 1` from one pgbench client (extended protocol,
   * 3 s; 1 s in quick runs): the cheapest database round trip, two process switches and a few
   * system calls; null without pgbench.
   */
  selectOneMs: number | null;
  /** Transactions per second of the same with two clients per core: the round trips the machine can serve at once. */
  selectOneTps: number | null;
}

function jsLoop(): number {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 1e8; i++) x = (x + i) % 1_000_003;
  const ms = performance.now() - t0;
  return x < 0 ? -1 : Math.round(ms);
}

function syscallCost(): number | null {
  const dd = (n: number) => {
    const t0 = performance.now();
    return sh('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${n}`, 'status=none']) === null ? null : performance.now() - t0;
  };
  const n = 200_000;
  // Less the cost of starting dd at all.
  const start = dd(1);
  const run = dd(n);
  return start === null || run === null ? null : Math.round(((run - start) * 1000 * 100) / (2 * n)) / 100;
}

function selectOne(pgbench: string, databaseUrl: string, clients: number, seconds: number): { ms: number; tps: number } | null {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-select1-'));
  try {
    const file = path.join(dir, 'select1.sql');
    writeFileSync(file, 'select 1;\n');
    const out = sh(pgbench, ['-n', '-M', 'extended', '-c', String(clients), '-j', String(Math.min(2, clients)), '-T', String(seconds), '-f', file, databaseUrl]);
    const ms = out && /latency average = ([\d.]+) ms/.exec(out);
    const tps = out && /tps = ([\d.]+)/.exec(out);
    return ms && tps ? { ms: Number(ms[1]), tps: Math.round(Number(tps[1])) } : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run on a quiet machine, before the server starts (about 2 × `seconds` + 1 s with pgbench). */
export function calibrate(databaseUrl: string, pgbench: string | null, cpus: number, seconds = 3): Calibration {
  jsLoop(); // warm the JIT
  const one = pgbench ? selectOne(pgbench, databaseUrl, 1, seconds) : null;
  const many = pgbench ? selectOne(pgbench, databaseUrl, 2 * cpus, seconds) : null;
  return { jsLoopMs: jsLoop(), syscallMicros: syscallCost(), selectOneMs: one?.ms ?? null, selectOneTps: many?.tps ?? null };
}

function sh(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** `commit`: the snapshot's commit when running one (then nothing is uncommitted by definition). */
export async function environment(databaseUrl: string, pgbench: string | null, commit?: string, calibrationSeconds = 3): Promise<Environment> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const version = (await c.query('show server_version')).rows[0].server_version as string;
  await c.end();
  const cpus = Number(sh('nproc', [])) || os.availableParallelism();
  return {
    cpus,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    postgres: version,
    pgbench: pgbench ? sh(pgbench, ['--version']) : null,
    commit: commit?.slice(0, 7) ?? sh('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown',
    // Only files under src/ and migrations/ count: they are what the server runs.
    dirty: commit ? false : (sh('git', ['status', '--porcelain', '--', 'src', 'migrations']) ?? '') !== '',
    calibration: calibrate(databaseUrl, pgbench, cpus, calibrationSeconds),
  };
}

/** A free loopback port (the OS picks it; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** VmRSS of a process in MB (10^6 bytes; /proc reports KiB), or undefined once it is gone. */
export function rssMB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) * 1024) / 1e5) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    return cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

function cpuSecondsOfStat(stat: string): number {
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

const CLK_TCK = Number(sh('getconf', ['CLK_TCK'])) || 100;

/** Machine-wide busy and total CPU time (seconds summed over all CPUs) from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** Fraction of the machine's CPU that is busy over `ms`. */
export async function machineBusy(ms: number): Promise<number> {
  const a = machineCpu();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpu();
  return b.total > a.total ? Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100) / 100 : 0;
}

/**
 * Wait until the machine is quiet (busy below `threshold` over 3 s), at most
 * `maxSeconds`; other work on a 2-core machine would distort every figure.
 */
export async function waitQuiet(maxSeconds: number, threshold: number, log: (l: string) => void): Promise<{ busy: number; waitedSeconds: number }> {
  const started = Date.now();
  let busy = await machineBusy(3000);
  while (busy >= threshold && Date.now() - started < maxSeconds * 1000) {
    log(`bench: machine ${Math.round(busy * 100)}% busy before the run; waiting for it to calm down (load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
    await new Promise((r) => setTimeout(r, 10_000));
    busy = await machineBusy(3000);
  }
  return { busy, waitedSeconds: Math.round((Date.now() - started) / 1000) };
}

/**
 * CPU seconds used so far by the Postgres processes doing the bench's work:
 * backends connected to `database`, their parallel workers, and the shared
 * writers (WAL writer, checkpointer, background writer), by pid.
 */
export function postgresCpu(database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const pid = benchPostgresPid(name, cmd, database);
    const cpu = pid === undefined ? undefined : processCpuSeconds(pid);
    if (cpu !== undefined) out.set(pid!, cpu);
  }
  return out;
}

/** The pid if `cmd` is a Postgres process doing the bench's work (see postgresCpu). */
function benchPostgresPid(name: string, cmd: string, database: string): number | undefined {
  if (!cmd.startsWith('postgres: ')) return undefined;
  const words = cmd.replace(/\0/g, ' ').split(/\s+/);
  // Parallel query workers do the bench's work too (they name the leader's pid, not the database).
  if (!(words.includes(database) || /: (walwriter|checkpointer|background writer|parallel worker)/.test(cmd))) return undefined;
  return Number(name);
}

/**
 * postgresCpu for polling while load runs: the reads go through libuv's
 * thread pool, so the scan of /proc (~90 processes, 1–2 ms of system calls
 * here) never stalls the event loop that autocannon shares with it — a
 * synchronous scan 5 times a second delayed the responses autocannon was
 * timing and showed up in the p99.
 */
export async function postgresCpuAsync(database: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const names = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
  await Promise.all(
    names.map(async (name) => {
      try {
        const pid = benchPostgresPid(name, await readFile(`/proc/${name}/cmdline`, 'utf8'), database);
        if (pid === undefined) return;
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        out.set(pid, cpuSecondsOfStat(stat));
      } catch {
        // the process ended meanwhile
      }
    }),
  );
  return out;
}

/**
 * CPU used by the bench database's Postgres processes between start() and
 * stop(). Polled, because backends come and go (pgbench's exit with it):
 * each process counts from its value at start(), or from zero when it
 * appeared later, to the last value seen.
 */
export class PostgresCpuTracker {
  #base = new Map<number, number>();
  #last = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly database: string) {}

  start(): void {
    this.#base = postgresCpu(this.database);
    this.#last = new Map(this.#base);
    this.#timer = setInterval(() => this.#poll(), 200);
    this.#timer.unref();
  }

  #polling = false;

  #record(seen: Map<number, number>): void {
    for (const [pid, v] of seen) {
      if (!this.#base.has(pid)) this.#base.set(pid, 0);
      this.#last.set(pid, v);
    }
  }

  #poll(): void {
    if (this.#polling) return;
    this.#polling = true;
    postgresCpuAsync(this.database)
      .then((seen) => this.#timer && this.#record(seen))
      .catch(() => {})
      .finally(() => (this.#polling = false));
  }

  /** CPU seconds used since start(). */
  stop(): number {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#record(postgresCpu(this.database));
    let sum = 0;
    for (const [pid, v] of this.#last) sum += v - (this.#base.get(pid) ?? 0);
    return sum;
  }
}

export interface ProcessStats {
  peakMB: number;
  endMB: number;
  /** CPU cores the server used on average (1.0 = one core fully busy). */
  serverCores: number;
  /** CPU cores busy machine-wide on average (of `cpus`): server + Postgres + load generator + anything else. */
  machineCores: number;
  /** Server CPU milliseconds per request, when the caller divides by its request count. */
  serverCpuSeconds: number;
  /** Cores used by the bench database's Postgres processes. */
  postgresCores: number;
  /** Cores used by this process (the load generator). */
  loadCores: number;
  /** Cores busy with anything else on the machine (other people's work): it distorts the figures when above ~0.1. */
  otherCores: number;
}

/** Samples a process's RSS every `ms` and its CPU use between start() and stop(). */
export class RssSampler {
  #timer: NodeJS.Timeout | undefined;
  #cpu0 = 0;
  #machine0 = { busy: 0, total: 0 };
  #t0 = 0;
  #pg: PostgresCpuTracker;
  #self0 = process.cpuUsage();
  peak = 0;
  last = 0;
  samples = 0;

  constructor(
    private readonly pid: number,
    database: string,
    private readonly ms = 250,
  ) {
    this.#pg = new PostgresCpuTracker(database);
  }

  start(): this {
    this.peak = 0;
    this.samples = 0;
    this.#cpu0 = processCpuSeconds(this.pid) ?? 0;
    this.#machine0 = machineCpu();
    this.#pg.start();
    this.#self0 = process.cpuUsage();
    this.#t0 = performance.now();
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.ms);
    this.#timer.unref();
    return this;
  }

  #sample(): void {
    const v = rssMB(this.pid);
    if (v === undefined) return;
    this.last = v;
    this.samples++;
    if (v > this.peak) this.peak = v;
  }

  stop(): ProcessStats {
    if (this.#timer) clearInterval(this.#timer);
    this.#sample();
    const wall = (performance.now() - this.#t0) / 1000;
    const cpu = (processCpuSeconds(this.pid) ?? this.#cpu0) - this.#cpu0;
    const m = machineCpu();
    const pgCpu = this.#pg.stop();
    const self = process.cpuUsage(this.#self0);
    const selfCpu = (self.user + self.system) / 1e6;
    const cpus = os.availableParallelism();
    const machineShare = m.total > this.#machine0.total ? (m.busy - this.#machine0.busy) / (m.total - this.#machine0.total) : 0;
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const cores = (x: number) => (wall > 0 ? r2(x / wall) : 0);
    const machineCores = r2(machineShare * cpus);
    return {
      peakMB: this.peak,
      endMB: this.last,
      serverCores: cores(cpu),
      machineCores,
      serverCpuSeconds: r2(cpu),
      postgresCores: cores(pgCpu),
      loadCores: cores(selfCpu),
      otherCores: Math.max(0, r2(machineCores - cores(cpu) - cores(pgCpu) - cores(selfCpu))),
    };
  }
}

/** pgbench from PATH or Debian's versioned directory; null when absent. */
export function findPgbench(): string | null {
  const onPath = sh('sh', ['-c', 'command -v pgbench']);
  if (onPath) return onPath;
  const found = sh('sh', ['-c', 'ls -1 /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n1']);
  return found || null;
}

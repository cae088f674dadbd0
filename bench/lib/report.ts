/**
 * Targets, the results file (bench/results/<date>.json) and the results
 * section of bench/README.md (between the bench:results markers; the rest of
 * the README, including the Delivery section, is left as it is).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScenarioResult } from './drive.js';
import { EVENT_LATENCY, EVENT_P99_MS, EVENT_RATE, type EventLatency } from './events.js';
import type { FloorResult } from './floor.js';
import type { PgbenchResult } from './pgbench.js';
import type { SoakResult } from './soak.js';
import type { Calibration, Environment } from './system.js';

export interface Comparison {
  scenario: string;
  pgbench: string;
  rosterRps: number;
  pgbenchTps: number;
  ratio: number;
}

export interface Target {
  target: string;
  value: string;
  met: boolean | null;
}

export interface BenchReport {
  date: string;
  options: Record<string, unknown>;
  environment: Environment;
  /** Machine CPU busy (0..1) before the run (after waiting for quiet) and with the server idle at the end: other work distorts figures. */
  background: { busyBefore: number | null; waitedSeconds: number; busyAfterIdle: number | null };
  seed: { users: number; groups: number; memberships: number; seconds: number; reused: boolean; phases: Record<string, number> };
  scenarios: ScenarioResult[];
  skipped: { name: string; reason: string }[];
  pgbench: Record<string, PgbenchResult>;
  comparisons: Comparison[];
  /** The floor of each scenario that has one (bench/lib/floor.ts), by scenario; empty with --skip-floor. */
  floor: Record<string, FloorResult>;
  /** The event-latency scenario's events. */
  events?: EventLatency;
  /** A soak run's figures (`--soak`; such a run has no other scenarios). */
  soak?: SoakResult;
  server: { rssEndMB: number; rssPeakMB: number; exitCode: number | null };
  targets: Target[];
}

/** Which pgbench script measures the database's share of which scenario. */
export const PGBENCH_FOR: Record<string, string> = {
  create: 'create_user',
  'lookup-userName': 'lookup_username',
  'lookup-email': 'lookup_email',
  'patch-user': 'patch_user',
};

const r2 = (x: number) => Math.round(x * 100) / 100;

export function compare(scenarios: ScenarioResult[], pg: Record<string, PgbenchResult>): Comparison[] {
  const out: Comparison[] = [];
  for (const s of scenarios) {
    const script = PGBENCH_FOR[s.name];
    const p = script ? pg[script] : undefined;
    if (!script || !p) continue;
    out.push({ scenario: s.name, pgbench: script, rosterRps: s.rps, pgbenchTps: p.tps, ratio: r2(p.tps ? s.rps / p.tps : 0) });
  }
  return out;
}

/** Roster's throughput against the floor's: look-ups ≥ 0.8×, create ≥ 0.6× (issue 25). */
export const FLOOR_TARGETS: Record<string, number> = { 'lookup-userName': 0.8, 'lookup-email': 0.8, create: 0.6 };

export function evaluateTargets(r: Omit<BenchReport, 'targets'>): Target[] {
  const by = (n: string) => r.scenarios.find((s) => s.name === n);
  const cmp = (n: string) => r.comparisons.find((c) => c.scenario === n);
  const t: Target[] = [];
  for (const [name, min] of Object.entries(FLOOR_TARGETS)) {
    const s = by(name);
    const f = r.floor?.[name];
    t.push({
      target: `${name} ≥ ${min}× the floor's rate`,
      value: s && f ? `${r2(f.rps ? s.rps / f.rps : 0)}× (${s.rps} / ${f.rps})` : 'not measured',
      met: s && f ? s.rps >= min * f.rps : null,
    });
  }
  // The pgbench ceilings stay for scale; the targets are against the floor since issue 25.
  for (const name of ['create', 'lookup-userName', 'lookup-email']) {
    const c = cmp(name);
    t.push({ target: `(informational) ${name} ÷ pgbench ceiling`, value: c ? `${c.ratio}× (${c.rosterRps} / ${c.pgbenchTps})` : 'not measured', met: null });
  }
  const million = r.seed.users >= 1_000_000;
  for (const n of ['lookup-userName', 'lookup-email']) {
    const s = by(n);
    // The database's own p99 for the same statement and clients, measured in the same run, for scale: how
    // much of the latency the machine's Postgres takes by itself (bench/README.md, "Machines differ").
    const floor = PGBENCH_FOR[n] ? r.pgbench[PGBENCH_FOR[n]!] : undefined;
    t.push({
      target: `${n} p99 < 20 ms at 1,000,000 users`,
      value: s
        ? `${s.latencyMs.p99} ms at ${r.seed.users.toLocaleString('en-US')} users${floor ? ` (pgbench, same statement and clients: ${floor.latencyMs.p99} ms)` : ''}`
        : 'not measured',
      met: s && million ? s.latencyMs.p99 < 20 : null,
    });
  }
  const big = by('member-big');
  const small = by('member-small');
  t.push({
    target: 'member add/remove: 100,000-member group within 1.5× of the 10-member group (mean latency)',
    value: big && small ? `${r2(big.latencyMs.avg / small.latencyMs.avg)}× (${big.latencyMs.avg} vs ${small.latencyMs.avg} ms)` : 'not measured',
    met: big && small ? big.latencyMs.avg <= 1.5 * small.latencyMs.avg : null,
  });
  const bigRep = by('member-big-representation');
  const smallRep = by('member-small-representation');
  if (bigRep && smallRep) {
    t.push({
      target: '(informational) the same with Prefer: return=representation (200 with the group and up to 10,000 members)',
      value: `${r2(bigRep.latencyMs.avg / smallRep.latencyMs.avg)}× (${bigRep.latencyMs.avg} vs ${smallRep.latencyMs.avg} ms)`,
      met: null, // no target: it shows what rendering the members costs a client that asks for them
    });
  }
  const c1 = by('page-1-cursor');
  const cd = by('page-deep-cursor');
  t.push({
    target: 'deep page by cursor within 2× of page 1 (mean latency)',
    value: c1 && cd ? `${r2(cd.latencyMs.avg / c1.latencyMs.avg)}× (${cd.latencyMs.avg} vs ${c1.latencyMs.avg} ms)` : 'not measured',
    met: c1 && cd ? cd.latencyMs.avg <= 2 * c1.latencyMs.avg : null,
  });
  const ev = r.events;
  t.push({
    target: `event latency p99 < ${EVENT_P99_MS} ms at ${EVENT_RATE.toLocaleString('en-US')} writes/s (commit → receiver's 2xx; every event arrives)`,
    value: ev
      ? `${ev.fromTimestampMs.p99} ms at ${ev.writtenPerSecond} writes/s (offered ${ev.offeredRate}); ${ev.arrived} of ${ev.written} arrived`
      : 'not measured',
    met: ev ? ev.fromTimestampMs.p99 < EVENT_P99_MS && ev.arrived === ev.written && ev.writtenPerSecond >= 0.95 * EVENT_RATE : null,
  });
  t.push({ target: 'server RSS < 250 MB at the end', value: `${r.server.rssEndMB} MB (peak ${r.server.rssPeakMB} MB)`, met: r.server.rssEndMB > 0 && r.server.rssEndMB < 250 });
  const bad = r.scenarios.reduce((a, s) => a + s.errors + s.timeouts + s.non2xx + s.mismatches, 0);
  const pgBad = Object.values(r.pgbench).reduce((a, p) => a + p.failed + p.errors.length, 0);
  const floorBad = Object.values(r.floor ?? {}).reduce((a, f) => a + f.errors, 0);
  t.push({
    target: 'zero errors (HTTP errors, timeouts, non-2xx, failed checks; pgbench and floor failures)',
    value: `${bad} HTTP, ${pgBad} pgbench, ${floorBad} floor`,
    met: bad === 0 && pgBad === 0 && floorBad === 0,
  });
  return t;
}

/** `kind`: a suffix for runs other than full ones (quick, soak). */
export function resultFileName(date: Date, kind?: string): string {
  return `${date.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${kind ? `-${kind}` : ''}.json`;
}

export function writeResults(dir: string, report: BenchReport, kind?: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, resultFileName(new Date(report.date), kind));
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

/** The machine's speed readings (Environment.calibration), as one sentence. */
export function calibrationText(c: Calibration): string {
  const parts = [`JavaScript loop ${c.jsLoopMs} ms`];
  if (c.syscallMicros !== null) parts.push(`system call ${c.syscallMicros} µs`);
  if (c.selectOneMs !== null) parts.push(`\`select 1\` round trip ${c.selectOneMs} ms`);
  if (c.selectOneTps !== null) parts.push(`\`select 1\` ceiling ${c.selectOneTps.toLocaleString('en-US')} tps`);
  return `Speed readings (bench/README.md, "Machines differ"): ${parts.join(', ')}.`;
}

const mark = (m: boolean | null) => (m === null ? 'n/a' : m ? 'met' : '**missed**');

/** Which run, on what machine, with what data: the opening lines of a run's README block. */
export function runHeader(r: BenchReport, file: string): string {
  const e = r.environment;
  return [
    `Run of ${r.date.slice(0, 16).replace('T', ' ')} UTC, results in [\`${file}\`](${file}).`,
    '',
    `Machine: ${e.cpus} CPUs (${e.cpuModel}), ${e.memoryGiB} GiB memory, Linux ${e.kernel}; Node ${e.node}, Postgres ${e.postgres}, ` +
      `${e.pgbench ?? 'no pgbench'}; Roster ${e.commit}${e.dirty ? ' (with uncommitted changes)' : ''}. ` +
      (e.calibration ? `${calibrationText(e.calibration)} ` : '') +
      `Database, server and load generator share the machine` +
      (r.background.busyBefore !== null ? `; it was ${Math.round(r.background.busyBefore * 100)}% busy before the run and ${Math.round((r.background.busyAfterIdle ?? 0) * 100)}% with the server idle at the end.` : '.'),
    '',
    `Data: ${r.seed.users.toLocaleString('en-US')} users, ${r.seed.groups} groups, ${r.seed.memberships.toLocaleString('en-US')} memberships; ` +
      (r.seed.reused ? `seeded earlier (reused; this run's reset took ${r.seed.seconds} s).` : `seeded in ${r.seed.seconds} s (${Object.entries(r.seed.phases).map(([k, v]) => `${k} ${v} s`).join(', ')}).`),
  ].join('\n');
}

/** `file`: the results file, relative to bench/README.md. */
export function markdown(r: BenchReport, file: string): string {
  const lines: string[] = [];
  lines.push(
    runHeader(r, file),
    `${String(r.options.connections)} connections (unless a scenario says otherwise), ${r.options.requests ? `${String(r.options.requests)} requests` : `${String(r.options.duration)} s`} per scenario.`,
    '',
    '| Scenario | req/s | p50 ms | p99 ms | max ms | errors / non-2xx | server RSS peak MB | server CPU ms/req | CPU cores: server / Postgres / other work |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const s of r.scenarios) {
    const bad = `${s.errors + s.timeouts} / ${s.non2xx}${s.mismatches ? ` (+${s.mismatches} failed checks)` : ''}`;
    const own = s.connections !== r.options.connections ? ` (${s.connections} connection${s.connections === 1 ? '' : 's'})` : '';
    const notes = s.notes?.length ? `; ${s.notes.join('; ')}` : '';
    lines.push(`| \`${s.name}\` — ${s.description}${own}${notes} | ${s.rps} | ${s.latencyMs.p50} | ${s.latencyMs.p99} | ${s.latencyMs.max} | ${bad} | ${s.rss.peakMB} | ${s.cpu.serverMsPerRequest} | ${s.cpu.serverCores} / ${s.cpu.postgresCores} / ${s.cpu.otherCores} |`);
  }
  for (const s of r.skipped) lines.push(`| \`${s.name}\` | skipped: ${s.reason} | | | | | | | |`);
  if (r.comparisons.length) {
    lines.push('', '| Scenario | Roster req/s | pgbench script | pgbench tps (before / after the scenario) | pgbench p50 / p99 ms | Roster ÷ pgbench | other work during pgbench (cores) |', '| --- | ---: | --- | ---: | ---: | ---: | ---: |');
    for (const c of r.comparisons) {
      const p = r.pgbench[c.pgbench]!;
      lines.push(`| \`${c.scenario}\` | ${c.rosterRps} | [\`${c.pgbench}.sql\`](pgbench/${c.pgbench}.sql) (${p.protocol ?? 'extended'}) | ${c.pgbenchTps}${p.runs ? ` (${p.runs.map((x) => x.tps).join(' / ')})` : ''} | ${p.latencyMs.p50} / ${p.latencyMs.p99} | ${c.ratio}× | ${p.cpu?.otherCores ?? '?'} |`);
    }
  }
  const floors = Object.values(r.floor ?? {});
  if (floors.length) {
    lines.push(
      '',
      '| Scenario | Roster req/s | floor req/s (before / after the scenario) | floor p50 / p99 ms | server CPU ms/req: Roster / floor | Roster ÷ floor | other work during the floor (cores) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const f of floors) {
      const s = r.scenarios.find((x) => x.name === f.scenario);
      if (!s) continue;
      lines.push(
        `| \`${f.scenario}\` | ${s.rps} | ${f.rps} (${f.runs.map((x) => x.rps).join(' / ')}) | ${f.latencyMs.p50} / ${f.latencyMs.p99} | ${s.cpu.serverMsPerRequest} / ${f.serverMsPerRequest} | ${r2(f.rps ? s.rps / f.rps : 0)}× | ${f.otherCores} |`,
      );
    }
  }
  if (r.events) {
    const e = r.events;
    lines.push(
      '',
      `Event latency (\`${EVENT_LATENCY}\`): ${e.written} creates at ${e.writtenPerSecond}/s (offered ${e.offeredRate}/s), ${e.arrived} of their events arrived (${e.duplicates} repeated; +${e.unanswered} of creates answered after the load stopped), the last ${e.drainedMs} ms after the load. ` +
        `Commit → receiver from the event's \`timestamp\`: p50 ${e.fromTimestampMs.p50} ms, p99 ${e.fromTimestampMs.p99} ms, max ${e.fromTimestampMs.max} ms; from the 201: p50 ${e.from201Ms.p50} ms, p99 ${e.from201Ms.p99} ms, max ${e.from201Ms.max} ms.`,
    );
  }
  lines.push('', `Server RSS at the end: ${r.server.rssEndMB} MB (peak ${r.server.rssPeakMB} MB).`, '', '| Target | Value | |', '| --- | --- | --- |');
  for (const t of r.targets) lines.push(`| ${t.target} | ${t.value} | ${mark(t.met)} |`);
  return lines.join('\n');
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replace the results block of bench/README.md (created with a stub if the file has none). */
export function updateReadme(readme: string, block: string): void {
  const body = `${START}\n${block}\n${END}`;
  if (!existsSync(readme)) {
    writeFileSync(readme, `# Benchmarks\n\n## Latest results\n\n${body}\n`);
    return;
  }
  const text = readFileSync(readme, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a >= 0 && b > a ? text.slice(0, a) + body + text.slice(b + END.length) : `${text.trimEnd()}\n\n## Latest results\n\n${body}\n`;
  writeFileSync(readme, next);
}

// Re-render the README's results block from a results file: `npx tsx bench/lib/report.ts bench/results/<date>.json`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx bench/lib/report.ts <results.json>');
  const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  const readme = path.join('bench', 'README.md');
  updateReadme(readme, markdown(report, path.relative(path.dirname(readme), file)));
}

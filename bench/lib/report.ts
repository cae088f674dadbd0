/**
 * Targets, the results file (bench/results/<date>.json) and the results
 * section of bench/README.md (between the bench:results markers; the rest of
 * the README, including the Delivery section, is left as it is).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScenarioResult } from './load.js';
import type { PgbenchResult } from './pgbench.js';
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

export function evaluateTargets(r: Omit<BenchReport, 'targets'>): Target[] {
  const by = (n: string) => r.scenarios.find((s) => s.name === n);
  const cmp = (n: string) => r.comparisons.find((c) => c.scenario === n);
  const t: Target[] = [];
  const ratioTarget = (name: string, min: number) => {
    const c = cmp(name);
    t.push({
      target: `${name} ≥ ${min}× pgbench ceiling`,
      value: c ? `${c.ratio}× (${c.rosterRps} / ${c.pgbenchTps})` : 'not measured',
      met: c ? c.ratio >= min : null,
    });
  };
  ratioTarget('create', 0.6);
  ratioTarget('lookup-userName', 0.4);
  ratioTarget('lookup-email', 0.4);
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
  t.push({ target: 'server RSS < 250 MB at the end', value: `${r.server.rssEndMB} MB (peak ${r.server.rssPeakMB} MB)`, met: r.server.rssEndMB > 0 && r.server.rssEndMB < 250 });
  const bad = r.scenarios.reduce((a, s) => a + s.errors + s.timeouts + s.non2xx + s.mismatches, 0);
  const pgBad = Object.values(r.pgbench).reduce((a, p) => a + p.failed + p.errors.length, 0);
  t.push({ target: 'zero errors (HTTP errors, timeouts, non-2xx, failed checks; pgbench failures)', value: `${bad} HTTP, ${pgBad} pgbench`, met: bad === 0 && pgBad === 0 });
  return t;
}

export function resultFileName(date: Date, quick: boolean): string {
  return `${date.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${quick ? '-quick' : ''}.json`;
}

export function writeResults(dir: string, report: BenchReport, quick: boolean): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, resultFileName(new Date(report.date), quick));
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

/** `file`: the results file, relative to bench/README.md. */
export function markdown(r: BenchReport, file: string): string {
  const e = r.environment;
  const lines: string[] = [];
  lines.push(
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

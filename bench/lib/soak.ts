/**
 * Soak mode (`npm run bench -- --soak`): one long autocannon run of the
 * Entra-like cycle at a fixed rate, each response's latency put in the minute
 * it ended in, the server's RSS read every few seconds. Its results go to
 * their own file and their own README block (bench/README.md, "Soak").
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runScenario, type LoadTarget, type Scenario, type ScenarioResult } from './drive.js';
import { percentile } from './pgbench.js';
import type { Target } from './report.js';
import { rssMB, type ProcessStats } from './system.js';

export const SOAK_SCENARIO = 'entra-cycle';
export const SOAK_RATE = 500;
export const SOAK_MINUTES = 10;
/** Targets: RSS at the end within 10% of RSS after the first minute; last minute's p99 within 1.5× the first's. */
const RSS_GROWTH_MAX = 0.1;
const P99_RATIO_MAX = 1.5;
const RSS_EVERY_MS = 5000;

export interface SoakMinute {
  minute: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** Request errors and timeouts, and non-2xx answers. */
  errors: number;
  /** Server RSS at the end of the minute (MB). */
  rssMB: number;
}

export interface SoakResult {
  scenario: string;
  rate: number;
  minutes: number;
  perMinute: SoakMinute[];
  rssAfterFirstMinuteMB: number;
  rssEndMB: number;
  rssPeakMB: number;
  /** End vs after the first minute: 0.05 = 5% more. */
  rssGrowth: number;
  p99FirstMs: number;
  p99LastMs: number;
  p99Ratio: number;
  errors: number;
  /** [seconds since the start, MB] every 5 s. */
  rssSamples: [number, number][];
  /** The whole run as one scenario row (throughput, CPU, checks). */
  total: ScenarioResult;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

export async function runSoak(
  t: LoadTarget,
  s: Scenario,
  o: { minutes: number; rate: number; serverPid: number; rss: { start(): void; stop(): ProcessStats }; log: (line: string) => void },
): Promise<SoakResult> {
  const minutes = Math.max(1, Math.round(o.minutes));
  const buckets: { ms: number[]; errors: number }[] = Array.from({ length: minutes + 1 }, () => ({ ms: [], errors: 0 }));
  const rssSamples: [number, number][] = [];
  const t0 = performance.now();
  const minuteOf = () => Math.min(minutes, Math.floor((performance.now() - t0) / 60_000));
  const minuteRss: number[] = [];
  let reported = 0;
  const sample = () => {
    const v = rssMB(o.serverPid);
    if (v === undefined) return;
    const m = minuteOf();
    if (m > reported && m < minutes) {
      reported = m;
      const b = buckets[m - 1]!;
      o.log(`  soak: minute ${m} of ${minutes} done, ${b.ms.length + b.errors} requests, ${b.errors} errors, RSS ${v} MB`);
    }
    rssSamples.push([Math.round((performance.now() - t0) / 1000), v]);
    minuteRss[minuteOf()] = v;
  };
  sample();
  const timer = setInterval(sample, RSS_EVERY_MS);
  let total: ScenarioResult;
  try {
    total = await runScenario(t, s, { seconds: minutes * 60, rate: o.rate }, o.rss, (status, ms) => {
      const b = buckets[minuteOf()]!;
      if (status >= 200 && status <= 299) b.ms.push(ms);
      else b.errors++;
    });
  } finally {
    clearInterval(timer);
  }
  sample();
  // The last bucket holds only the responses that ended after the last full minute: count them in that minute.
  const tail = buckets.pop()!;
  buckets[minutes - 1]!.ms.push(...tail.ms);
  buckets[minutes - 1]!.errors += tail.errors;
  const perMinute = buckets.map((b, k): SoakMinute => {
    const sorted = Float64Array.from(b.ms).sort();
    const n = b.ms.length + b.errors;
    return { minute: k + 1, requests: n, rps: r2(n / 60), p50: r2(percentile(sorted, 50)), p99: r2(percentile(sorted, 99)), max: r2(sorted[sorted.length - 1] ?? 0), errors: b.errors, rssMB: minuteRss[k] ?? minuteRss[k + 1] ?? 0 };
  });
  const first = perMinute[0]!;
  const last = perMinute[perMinute.length - 1]!;
  const rssEnd = rssSamples[rssSamples.length - 1]?.[1] ?? 0;
  const errors = total.errors + total.timeouts + total.non2xx + total.mismatches;
  return {
    scenario: s.name,
    rate: o.rate,
    minutes,
    perMinute,
    rssAfterFirstMinuteMB: first.rssMB,
    rssEndMB: rssEnd,
    rssPeakMB: Math.max(0, ...rssSamples.map(([, v]) => v)),
    rssGrowth: first.rssMB ? r2(rssEnd / first.rssMB - 1) : 0,
    p99FirstMs: first.p99,
    p99LastMs: last.p99,
    p99Ratio: first.p99 ? r2(last.p99 / first.p99) : 0,
    errors,
    rssSamples,
    total,
  };
}

export function soakTargets(s: SoakResult): Target[] {
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  return [
    {
      target: `server RSS growth < ${pct(RSS_GROWTH_MAX)} (end vs after the first minute)`,
      value: `${pct(s.rssGrowth)} (${s.rssAfterFirstMinuteMB} → ${s.rssEndMB} MB; peak ${s.rssPeakMB} MB)`,
      met: s.minutes > 1 ? s.rssGrowth < RSS_GROWTH_MAX : null,
    },
    {
      target: `p99 of the last minute within ${P99_RATIO_MAX}× the first minute's`,
      value: `${s.p99Ratio}× (${s.p99LastMs} vs ${s.p99FirstMs} ms)`,
      met: s.minutes > 1 ? s.p99Ratio <= P99_RATIO_MAX : null,
    },
    { target: 'zero errors (HTTP errors, timeouts, non-2xx, failed checks)', value: String(s.errors), met: s.errors === 0 },
  ];
}

export function soakMarkdown(s: SoakResult, targets: Target[], header: string): string {
  const mark = (m: boolean | null) => (m === null ? 'n/a' : m ? 'met' : '**missed**');
  const lines = [
    header,
    '',
    `\`${s.scenario}\` at ${s.rate} requests/s for ${s.minutes} minute${s.minutes === 1 ? '' : 's'} (${s.total.connections} connections): ${s.total.requests.toLocaleString('en-US')} requests, ` +
      `${s.total.rps} req/s, server CPU ${s.total.cpu.serverMsPerRequest} ms/req, CPU cores server / Postgres / other work ${s.total.cpu.serverCores} / ${s.total.cpu.postgresCores} / ${s.total.cpu.otherCores}.`,
    '',
    '| Minute | requests | req/s | p50 ms | p99 ms | max ms | errors | server RSS MB (end of minute) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...s.perMinute.map((m) => `| ${m.minute} | ${m.requests} | ${m.rps} | ${m.p50} | ${m.p99} | ${m.max} | ${m.errors} | ${m.rssMB} |`),
    '',
    '| Target | Value | |',
    '| --- | --- | --- |',
    ...targets.map((t) => `| ${t.target} | ${t.value} | ${mark(t.met)} |`),
  ];
  return lines.join('\n');
}

const START = '<!-- bench:soak:start -->';
const END = '<!-- bench:soak:end -->';

/** Replace the soak block of bench/README.md (appended with a heading if the file has none). */
export function updateSoakReadme(readme: string, block: string): void {
  const body = `${START}\n${block}\n${END}`;
  const text = existsSync(readme) ? readFileSync(readme, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  writeFileSync(readme, a >= 0 && b > a ? text.slice(0, a) + body + text.slice(b + END.length) : `${text.trimEnd()}\n\n## Soak\n\n${body}\n`);
}

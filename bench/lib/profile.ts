/**
 * Summary of a V8 CPU profile (`node --cpu-prof`): self time by function and
 * by origin (Roster file, npm package, node internals), to find where a
 * missed target's time goes. Also usable alone:
 * `npx tsx bench/lib/profile.ts <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  byFunction: { name: string; ms: number; pct: number }[];
  byOrigin: { origin: string; ms: number; pct: number }[];
}

function origin(url: string): string {
  if (!url) return '(native/idle/gc)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src|migrations)\/(.*)$/.exec(url);
  if (own) return `${own[1]}/${own[2]!.replace(/\.js$/, '.ts')}`;
  return url;
}

export function summarize(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // Each sample's time is the delta to the next one.
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const org = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const o = origin(url);
    const key = `${functionName || '(anonymous)'} ${o}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + ms);
    org.set(o, (org.get(o) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => ({ k, ms: Math.round(ms), pct: Math.round((ms / totalMs) * 1000) / 10 }));
  return {
    totalMs: Math.round(totalMs),
    byFunction: rank(fn).map(({ k, ms, pct }) => ({ name: k, ms, pct })),
    byOrigin: rank(org).map(({ k, ms, pct }) => ({ origin: k, ms, pct })),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`CPU profile: ${s.totalMs} ms sampled`, '', 'Self time by origin:'];
  for (const o of s.byOrigin) lines.push(`  ${o.pct.toFixed(1).padStart(5)}%  ${String(o.ms).padStart(7)} ms  ${o.origin}`);
  lines.push('', 'Self time by function:');
  for (const f of s.byFunction) lines.push(`  ${f.pct.toFixed(1).padStart(5)}%  ${String(f.ms).padStart(7)} ms  ${f.name}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/lib/profile.ts <file.cpuprofile> [top]');
  console.log(formatSummary(summarize(file, Number(top ?? 30))));
}

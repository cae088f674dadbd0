// autocannon ships no type declarations; this covers what bench/lib/load.ts uses.
declare module 'autocannon' {
  interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p99: number;
    [k: string]: number;
  }
  interface Result {
    latency: Histogram;
    requests: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    mismatches: number;
    resets: number;
    duration: number;
    statusCodeStats?: Record<string, { count: number }>;
    [k: string]: unknown;
  }
  /** The run: a promise of its result, and an emitter of per-response events ('response': client, status, bytes, ms). */
  interface Instance extends Promise<Result> {
    on(event: string, listener: (...args: never[]) => void): Instance;
  }
  function autocannon(opts: Record<string, unknown>): Instance;
  export default autocannon;
}

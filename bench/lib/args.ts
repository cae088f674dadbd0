/**
 * Command-line options of `npm run bench` (and `tsx bench/seed.ts`).
 * `npm run bench -- --help` prints them.
 */
import { EVENT_RATE } from './events.js';
import { SOAK_MINUTES } from './soak.js';

export interface BenchOptions {
  users: number;
  /** Seconds per scenario (ignored when `requests` is set). */
  duration: number;
  /** Fixed number of requests per scenario instead of a duration (smoke runs). */
  requests?: number | undefined;
  connections: number;
  quick: boolean;
  /** Comma-separated scenario names; empty = all. */
  only: string[];
  skipPgbench: boolean;
  /** Do not measure the floor (bench/floor/server.mjs) beside the look-ups and the create. */
  skipFloor: boolean;
  /** Creates per second of the event-latency scenario (the target is set at 1,000). */
  eventRate: number;
  /** Minutes of the soak (`--soak`: 10; 0 = a normal run). */
  soakMinutes: number;
  reseed: boolean;
  adminUrl: string;
  database: string;
  token: string;
  /** `dist`: compile with tsc to bench/.build and run node on it; `tsx`: node --import tsx src/main.ts. */
  server: 'dist' | 'tsx';
  /** With --server dist: run the existing bench/.build without compiling again. */
  noBuild: boolean;
  /**
   * `head`: run everything (seed, migrations, server) from a snapshot of the
   * last commit, so others' uncommitted edits in the work tree cannot break or
   * skew the run (the bench's own files come from the work tree);
   * `worktree`: run the files as they are now.
   */
  source: 'head' | 'worktree';
  cpuProf: boolean;
  /** Where results/<date>.json goes. */
  outDir: string;
  /** Rewrite the results table in bench/README.md (default: on for full runs, off for --quick). */
  readme: boolean;
  /** Drop the bench database at the end (smoke runs). */
  dropAfter: boolean;
  /** Extra environment for the server (KEY=VALUE, repeatable). */
  serverEnv: Record<string, string>;
  warmup: number;
  /** Seconds to wait at most for the machine to be quiet before starting (0: do not wait). */
  waitQuiet: number;
}

export const HELP = `npm run bench -- [options]

  --users N          users to seed (default 1000000; --quick: 20000)
  --duration S       seconds per scenario (default 12; --quick: 3)
  --requests N       a fixed number of requests per scenario instead of a duration
  --connections C    concurrent HTTP connections and pgbench clients (default 10)
  --quick            small preset: 20,000 users, 3 s per scenario, no README update
  --only a,b         run only these scenarios (names as in the results table)
  --skip-pgbench     do not measure the database ceiling
  --skip-floor       do not measure the floor (bench/floor/server.mjs, Fastify + pg with the same SQL)
                     beside lookup-userName, lookup-email and create
  --event-rate N     creates per second in the event-latency scenario (default 1000, the target's rate)
  --soak             instead of the scenarios: the soak, entra-cycle at 500 requests/s for 10 minutes
                     (RSS growth, p99 per minute, errors; its own results file and README block)
  --soak-minutes N   the soak's length in minutes (implies --soak)
  --reseed           drop and re-seed the bench database even if it matches
  --admin-url URL    Postgres URL used to create the bench database
                     (default $BENCH_ADMIN_URL, $TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --database NAME    bench database name (default roster_bench; --quick: roster_bench_quick)
  --server dist|tsx  run the compiled server (default) or the TypeScript sources
  --no-build         run the server already compiled in bench/.build
  --source head|worktree   benchmark the last commit (default; a snapshot in the temp directory,
                     with bench/ from the work tree) or the work tree as it is
  --cpu-prof         write a V8 CPU profile of the server to <out>/profiles/
  --out DIR          results directory (default bench/results)
  --readme / --no-readme   update the results table in bench/README.md
  --drop-after       drop the bench database when done
  --server-env K=V   extra environment variable for the server (repeatable)
  --warmup S         seconds of warm-up traffic before the scenarios (default 2)
  --wait-quiet S     wait up to S seconds for other work on the machine to stop (default 600; --quick 0)
`;

function num(name: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${name} needs a non-negative number`);
  return n;
}

export function parseArgs(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const o: BenchOptions = {
    users: quick ? 20_000 : 1_000_000,
    duration: quick ? 3 : 12,
    connections: 10,
    quick,
    only: [],
    skipPgbench: false,
    skipFloor: false,
    soakMinutes: 0,
    eventRate: EVENT_RATE,
    reseed: false,
    adminUrl: process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    // Its own database, so a quick run does not replace the million-user one.
    database: quick ? 'roster_bench_quick' : 'roster_bench',
    token: 'rst_bench-loopback-only-token-0000',
    server: 'dist',
    noBuild: false,
    source: 'head',
    cpuProf: false,
    outDir: 'bench/results',
    readme: !quick,
    dropAfter: false,
    serverEnv: {},
    warmup: quick ? 1 : 2,
    waitQuiet: quick ? 0 : 600,
  };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const val = () => argv[++k];
    switch (a) {
      case '--quick':
        break;
      case '--users':
        o.users = Math.floor(num(a, val()));
        break;
      case '--duration':
        o.duration = num(a, val());
        break;
      case '--requests':
        o.requests = Math.floor(num(a, val()));
        break;
      case '--connections':
        o.connections = Math.max(1, Math.floor(num(a, val())));
        break;
      case '--only':
        o.only = (val() ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case '--skip-pgbench':
        o.skipPgbench = true;
        break;
      case '--skip-floor':
        o.skipFloor = true;
        break;
      case '--event-rate':
        o.eventRate = Math.max(1, Math.round(num(a, val())));
        break;
      case '--soak':
        o.soakMinutes ||= SOAK_MINUTES;
        break;
      case '--soak-minutes':
        o.soakMinutes = Math.max(1, Math.round(num(a, val())));
        break;
      case '--reseed':
        o.reseed = true;
        break;
      case '--admin-url':
        o.adminUrl = val() ?? o.adminUrl;
        break;
      case '--database':
        o.database = val() ?? o.database;
        break;
      case '--server': {
        const v = val();
        if (v !== 'dist' && v !== 'tsx') throw new Error('--server is dist or tsx');
        o.server = v;
        break;
      }
      case '--source': {
        const v = val();
        if (v !== 'head' && v !== 'worktree') throw new Error('--source is head or worktree');
        o.source = v;
        break;
      }
      case '--no-build':
        o.noBuild = true;
        break;
      case '--cpu-prof':
        o.cpuProf = true;
        break;
      case '--out':
        o.outDir = val() ?? o.outDir;
        break;
      case '--readme':
        o.readme = true;
        break;
      case '--no-readme':
        o.readme = false;
        break;
      case '--drop-after':
        o.dropAfter = true;
        break;
      case '--server-env': {
        const [key, ...rest] = (val() ?? '').split('=');
        if (!key) throw new Error('--server-env takes KEY=VALUE');
        o.serverEnv[key] = rest.join('=');
        break;
      }
      case '--wait-quiet':
        o.waitQuiet = num(a, val());
        break;
      case '--warmup':
        o.warmup = num(a, val());
        break;
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown option ${a}\n\n${HELP}`);
    }
  }
  if (o.users < 100) throw new Error('--users must be at least 100');
  return o;
}

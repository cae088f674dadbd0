/**
 * The Dockerfile cannot be built here (no Docker engine), so this checks what
 * can be checked without one: what it copies exists and is in the build
 * context, it starts what `npm start` starts, the image's Node is one package.json admits,
 * production-only and non-root, and the runtime code imports nothing that
 * `npm ci --omit=dev` leaves out.
 */
import t from 'tap';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import { configSpec } from '../../src/config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile → stages of instructions (comments dropped, continuation lines joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (!pending) startLine = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+(.*)$/s.exec(full);
    if (!m) throw new Error(`Dockerfile line ${startLine}: cannot parse ${JSON.stringify(full)}`);
    const ins = { op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: startLine };
    if (ins.op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!f) throw new Error(`Dockerfile line ${startLine}: cannot parse FROM ${ins.args}`);
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
    } else {
      if (!stages.length) throw new Error(`Dockerfile line ${startLine}: ${ins.op} before FROM`);
      stages.at(-1)!.instructions.push(ins);
    }
  });
  return stages;
}

/** COPY/ADD arguments without flags: [sources..., destination]. JSON form or space-separated. */
function copyArgs(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (let m; (m = /^--(\w[\w-]*)(?:=(\S+))?\s+/.exec(rest)); rest = rest.slice(m[0].length)) flags[m[1]!] = m[2] ?? '';
  const parts: string[] = rest.startsWith('[') ? JSON.parse(rest) : rest.split(/\s+/);
  return { flags, sources: parts.slice(0, -1), dest: parts.at(-1)! };
}

/**
 * .dockerignore as Docker applies it, for the pattern forms this repository
 * uses: `*`, and plain paths, each optionally negated with `!`; the last
 * matching pattern wins. Anything fancier fails loudly so this is extended.
 */
function dockerignored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    const pat = (negated ? p.slice(1) : p).replace(/^\/+|\/+$/g, '');
    if (/[?[\]\\]|\*./.test(pat) || (pat.includes('*') && pat !== '*')) {
      throw new Error(`.dockerignore pattern ${JSON.stringify(p)} is not supported by this test; extend dockerignored()`);
    }
    const matches = pat === '*' ? true : path === pat || path.startsWith(pat + '/');
    if (matches) ignored = !negated;
  }
  return ignored;
}

const stages = parseDockerfile(read('Dockerfile'));
const final = stages.at(-1)!;
const ignorePatterns = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

t.test('every stage is an official Node image of a version package.json "engines" admits', async (t) => {
  t.ok(stages.length >= 2, 'multi-stage build');
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
  const majors = new Set<string>();
  for (const s of stages) {
    if (stageNames.has(s.from)) continue; // FROM an earlier stage
    const m = /^(?:docker\.io\/(?:library\/)?)?node:(\d+)(?:[.-]|$)/.exec(s.from);
    t.ok(m, `${s.from} is the official node image`);
    if (!m) continue;
    majors.add(m[1]!);
    // The image takes the newest release of its major line: the engines range must admit all of it from some minor on.
    t.ok(semver.intersects(`^${m[1]}.0.0`, pkg.engines.node), `Node ${m[1]} is within engines.node (${pkg.engines.node})`);
  }
  t.equal(majors.size, 1, 'one Node version for build and runtime');
});

t.test('Node versions agree: engines, every locked dependency, this machine, the README', async (t) => {
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
  const narrower = Object.entries(lock.packages)
    .map(([path, p]) => [path, Array.isArray(p.engines) ? undefined : p.engines?.node] as const)
    .filter(([path, range]) => path !== '' && range && !semver.subset(pkg.engines.node, range))
    .map(([path, range]) => `${path} wants ${range}`);
  t.same(narrower, [], 'no dependency asks for a Node that engines.node does not promise (npm would warn EBADENGINE)');
  t.ok(semver.satisfies(process.versions.node, pkg.engines.node), `this Node (${process.versions.node}) satisfies engines.node: CI tests a supported version`);
  t.match(read('README.md'), /Node 20\.19 or later/, 'the README names the supported Node versions');
});

t.test('files the Dockerfile copies from the repository exist and are in the build context', async (t) => {
  const copies = stages.flatMap((s) => s.instructions).filter((i) => (i.op === 'COPY' || i.op === 'ADD') && !/--from=/.test(i.args));
  t.ok(copies.length > 0);
  for (const c of copies) {
    t.not(c.op, 'ADD', `line ${c.line}: COPY, not ADD`);
    for (const src of copyArgs(c.args).sources) {
      t.ok(existsSync(join(root, src)), `line ${c.line}: ${src} exists`);
      t.notOk(dockerignored(ignorePatterns, src.replace(/^\.\/|\/$/g, '')), `line ${c.line}: ${src} is not excluded by .dockerignore`);
    }
  }
  // And nothing the build needs is left out: the build stage copies what tsconfig.build.json compiles.
  const build = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args)));
  t.ok(build, 'a stage runs npm run build');
  const copied = new Set(
    build!.instructions
      .filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))
      .flatMap((i) => copyArgs(i.args).sources.map((s) => s.replace(/^\.\/|\/$/g, ''))),
  );
  const tsBuild = JSON.parse(read('tsconfig.build.json')) as { extends?: string; include: string[] };
  for (const p of [...tsBuild.include, 'tsconfig.build.json', ...(tsBuild.extends ? [tsBuild.extends.replace(/^\.\//, '')] : [])]) {
    t.ok(copied.has(p), `build stage copies ${p} (needed by tsconfig.build.json)`);
  }
  t.ok(copied.has('package.json') && copied.has('package-lock.json'), 'build stage copies the package manifests for npm ci');
  // Secrets and local state stay out of the context.
  for (const p of ['.git', 'node_modules', 'dist', 'data', '.env', '.helm-bin', 'test']) {
    t.ok(dockerignored(ignorePatterns, p), `.dockerignore excludes ${p}`);
  }
});

t.test('the image starts what npm start starts', async (t) => {
  const cmds = final.instructions.filter((i) => i.op === 'CMD');
  t.equal(cmds.length, 1, 'one CMD in the final stage');
  const cmd = JSON.parse(cmds[0]!.args) as string[];
  t.ok(Array.isArray(cmd), 'exec form, so node is PID 1 and receives SIGTERM');
  t.same(cmd, pkg.scripts.start!.split(/\s+/), 'CMD equals the start script');
  t.equal(cmd[0], 'node');
  // dist/src/main.js is compiled from src/main.ts (tsconfig rootDir "." and outDir "dist").
  t.ok(existsSync(join(root, cmd[1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `source of ${cmd[1]} exists`);
  t.notOk(final.instructions.some((i) => i.op === 'ENTRYPOINT'), 'no ENTRYPOINT wrapping the command');
  t.notOk(
    stages.flatMap((s) => s.instructions).some((i) => i.op === 'HEALTHCHECK'),
    'no HEALTHCHECK (Kubernetes probes /livez and /readyz)',
  );
});

t.test('the final stage has production dependencies only and runs as a non-root numeric user', async (t) => {
  const runs = final.instructions.filter((i) => i.op === 'RUN');
  t.notOk(runs.some((r) => /\bnpm (ci|install|i)\b/.test(r.args) && !/--omit=dev/.test(r.args)), 'no dev install in the final stage');
  const modules = final.instructions.find((i) => i.op === 'COPY' && /node_modules/.test(i.args));
  t.ok(modules, 'node_modules is copied in');
  const from = modules ? copyArgs(modules.args).flags.from : undefined;
  const depsStage = stages.find((s) => s.name === from);
  t.ok(depsStage, `node_modules comes from stage ${from}`);
  t.ok(
    depsStage?.instructions.some((i) => i.op === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args)),
    `stage ${from} installs with npm ci --omit=dev`,
  );
  t.ok(final.instructions.some((i) => i.op === 'COPY' && /\/dist\b/.test(i.args)), 'dist/ is copied in');
  t.ok(
    final.instructions.some((i) => i.op === 'COPY' && copyArgs(i.args).sources.includes('package.json')),
    'package.json is copied in ("type": "module" for the compiled files)',
  );

  const users = final.instructions.filter((i) => i.op === 'USER');
  t.ok(users.length >= 1, 'final stage sets USER');
  const user = users.at(-1)!.args;
  const [uid, gid] = user.split(':');
  t.match(uid, /^\d+$/, 'numeric uid, so Kubernetes runAsNonRoot can verify it');
  t.not(Number(uid), 0, 'not root');
  t.ok(
    final.instructions.indexOf(users.at(-1)!) > Math.max(...runs.map((r) => final.instructions.indexOf(r)), -1),
    'USER comes after every RUN of the final stage',
  );
  // The chart runs the pods as the same user.
  const values = parseYaml(read('helm/roster/values.yaml')) as { podSecurityContext: { runAsUser: number; runAsGroup: number } };
  t.equal(values.podSecurityContext.runAsUser, Number(uid), 'chart runAsUser matches the image user');
  if (gid !== undefined) t.equal(values.podSecurityContext.runAsGroup, Number(gid), 'chart runAsGroup matches the image group');
});

t.test('ports: EXPOSE and the chart agree with the configuration defaults', async (t) => {
  const exposed = final.instructions
    .filter((i) => i.op === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/))
    .map((p) => Number(p.replace(/\/tcp$/, '')));
  const port = Number(configSpec.find((s) => s.env === 'PORT')!.default);
  t.ok(exposed.includes(port), `EXPOSE ${port} (PORT default)`);
  const values = parseYaml(read('helm/roster/values.yaml')) as { containerPort: number; metrics: { port: number } };
  t.equal(values.containerPort, port, 'chart containerPort is the PORT default');
  t.ok(exposed.includes(values.metrics.port), `EXPOSE ${values.metrics.port} (chart metrics.port, METRICS_PORT)`);
});

/** Bare module specifiers imported at runtime (type-only imports are erased by tsc). */
function runtimeImports(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[;\n])\s*(import|export)\s+(type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) {
    if (m[2]) continue;
    out.push((m[3] ?? m[4])!);
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const p = join(dir, name);
    return statSync(join(root, p)).isDirectory() ? tsFiles(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

t.test('runtime code imports only production dependencies (the image has no devDependencies)', async (t) => {
  const tsBuild = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
  const files = tsBuild.include.flatMap(tsFiles);
  t.ok(files.some((f) => relative('src', f) === 'main.ts'), 'src/main.ts is compiled');
  const builtins = new Set(builtinModules);
  const problems: string[] = [];
  for (const file of files) {
    for (const spec of runtimeImports(read(file))) {
      if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (!(name in pkg.dependencies)) {
        problems.push(`${file} imports ${spec}: ${name in pkg.devDependencies ? 'a devDependency' : 'not a dependency'}`);
      }
    }
  }
  t.same(problems, [], 'every runtime import is in "dependencies"');
});

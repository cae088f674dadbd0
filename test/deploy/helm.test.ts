/**
 * The Helm chart, rendered by the real Helm (scripts/helm.sh, extracted from a
 * devDependency) and checked two ways: every manifest against the Kubernetes
 * API schemas (kubernetes-models' validators, plus a TypeScript excess-property
 * check because those validators accept unknown fields), and the things that
 * make the release work: probes, ports, secrets, the migration hook and what
 * it may reference, security context, optional objects.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { configSpec } from '../../src/config.js';
import type { Db } from '../../src/db/index.js';
import { Metrics, registerDeliveryMetrics } from '../../src/http/ops/metrics.js';
import { startApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const chart = join(root, 'helm/roster');
const helmSh = join(root, 'scripts/helm.sh');
const RELEASE = 'rst';
const NAMESPACE = 'identity';
const FULLNAME = 'rst-roster';
const DB_URL = 'postgres://roster:pw@db.example:5432/roster';

const knownEnv = new Set<string>(configSpec.map((s) => s.env));

// The bundled Helm binary is linux/amd64; elsewhere, point HELM_BIN at a Helm 4.
const skip = platform() === 'linux' && arch() === 'x64' ? false : process.env.HELM_BIN ? false : 'needs linux/amd64 or HELM_BIN';
const test = (name: string, fn: (t: Test) => Promise<void>) => t.test(name, { skip }, fn);

// ---------------------------------------------------------------- helpers

type Obj = Record<string, any>;

async function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(helmSh, args, { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    if (typeof err.code !== 'number') throw err;
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function render(args: string[]): Promise<Obj[]> {
  const r = await helm(['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]);
  if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length) throw d.errors[0];
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

const minimal = ['--set', `secrets.databaseUrl=${DB_URL}`];
const allOn = ['-f', join(chart, 'ci/all-on-values.yaml')];
const existing = ['-f', join(chart, 'ci/existing-secret-values.yaml')];

const only = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
function one(objs: Obj[], kind: string, name?: string): Obj {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}
const isHook = (o: Obj) => Boolean(o.metadata.annotations?.['helm.sh/hook']);
const hookPhases = (o: Obj) => String(o.metadata.annotations?.['helm.sh/hook'] ?? '').split(',').map((s) => s.trim()).sort();
const hookWeight = (o: Obj) => Number(o.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const container = (workload: Obj, name?: string): Obj => {
  const cs = workload.spec.template.spec.containers as Obj[];
  return name ? cs.find((c) => c.name === name)! : cs[0]!;
};
const envVar = (c: Obj, name: string): Obj | undefined => (c.env as Obj[] | undefined)?.find((e) => e.name === name);
const decode = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** roster_* metric names in PromQL that Roster does not export (histograms may add _bucket, _sum, _count). */
function unknownMetrics(promql: string): string[] {
  const metrics = new Metrics({ poolStats: () => ({ total: 0, idle: 0, waiting: 0 }), poolMax: 1 });
  registerDeliveryMetrics(metrics, {} as Db); // the database is read only when scraped
  const known = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
  const used = [...new Set(promql.match(/\broster_[a-z_]+/g) ?? [])];
  return used.filter((n) => !known.has(n) && !known.has(n.replace(/_(bucket|sum|count)$/, '')));
}

// ----------------------------------------------------- schema validation

const models: Record<string, { model: new (data: any) => { validate(): void }; iface: string; module: string }> = {
  'apps/v1 Deployment': { model: Deployment, iface: 'IDeployment', module: 'apps/v1/Deployment' },
  'autoscaling/v2 HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    iface: 'IHorizontalPodAutoscaler',
    module: 'autoscaling/v2/HorizontalPodAutoscaler',
  },
  'batch/v1 Job': { model: Job, iface: 'IJob', module: 'batch/v1/Job' },
  'networking.k8s.io/v1 Ingress': { model: Ingress, iface: 'IIngress', module: 'networking.k8s.io/v1/Ingress' },
  'networking.k8s.io/v1 NetworkPolicy': { model: NetworkPolicy, iface: 'INetworkPolicy', module: 'networking.k8s.io/v1/NetworkPolicy' },
  'v1 PersistentVolumeClaim': { model: PersistentVolumeClaim, iface: 'IPersistentVolumeClaim', module: 'v1/PersistentVolumeClaim' },
  'v1 Pod': { model: Pod, iface: 'IPod', module: 'v1/Pod' },
  'policy/v1 PodDisruptionBudget': { model: PodDisruptionBudget, iface: 'IPodDisruptionBudget', module: 'policy/v1/PodDisruptionBudget' },
  'v1 ConfigMap': { model: ConfigMap, iface: 'IConfigMap', module: 'v1/ConfigMap' },
  'v1 Secret': { model: Secret, iface: 'ISecret', module: 'v1/Secret' },
  'v1 Service': { model: Service, iface: 'IService', module: 'v1/Service' },
  'v1 ServiceAccount': { model: ServiceAccount, iface: 'IServiceAccount', module: 'v1/ServiceAccount' },
};

/**
 * The kubernetes-models validators check types, enums and required fields
 * but let unknown fields through (a misspelt `readOnlyRootFileSystem` would
 * pass, and the API server would drop it). So the manifests are also
 * type-checked as object literals against the same models' TypeScript types,
 * where an unknown field at any depth is an excess-property error.
 */
function excessPropertyErrors(objs: Obj[]): string[] {
  const file = join(root, 'test/deploy/__rendered_manifests__.ts');
  const used = [...new Set(objs.map((o) => `${o.apiVersion} ${o.kind}`))];
  const text = [
    ...used.map((k) => `import type { ${models[k]!.iface} } from 'kubernetes-models/${models[k]!.module}';`),
    ...objs.map((o, i) => `export const m${i}: ${models[`${o.apiVersion} ${o.kind}`]!.iface} = ${JSON.stringify(o)};`),
  ].join('\n');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? text : readFile(name));
  const program = ts.createProgram([file], options, host);
  const lines = text.split('\n');
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const m = /^export const m(\d+)/.exec(lines[line] ?? '');
    const o = m ? objs[Number(m[1])]! : undefined;
    return o ? `${o.kind} ${o.metadata?.name}: ${message}` : message;
  });
}

/** ServiceMonitor is a Prometheus Operator CRD, not in kubernetes-models: check the fields the chart uses. */
function serviceMonitorProblems(sm: Obj): string[] {
  const problems: string[] = [];
  const allowed = (o: Obj, keys: string[], where: string) => {
    for (const k of Object.keys(o ?? {})) if (!keys.includes(k)) problems.push(`${where}: unexpected field ${k}`);
  };
  if (sm.apiVersion !== 'monitoring.coreos.com/v1') problems.push(`apiVersion ${sm.apiVersion}`);
  allowed(sm, ['apiVersion', 'kind', 'metadata', 'spec'], 'ServiceMonitor');
  allowed(sm.spec, ['selector', 'endpoints', 'namespaceSelector', 'jobLabel'], 'spec');
  if (typeof sm.spec?.selector?.matchLabels !== 'object') problems.push('spec.selector.matchLabels missing');
  if (!Array.isArray(sm.spec?.endpoints) || sm.spec.endpoints.length === 0) problems.push('spec.endpoints empty');
  for (const e of sm.spec?.endpoints ?? []) {
    allowed(e, ['port', 'path', 'interval', 'scrapeTimeout', 'scheme'], 'endpoint');
    if (typeof e.port !== 'string') problems.push('endpoint.port must be a Service port name');
    for (const d of ['interval', 'scrapeTimeout']) if (e[d] !== undefined && !/^\d+(ms|s|m|h)$/.test(e[d])) problems.push(`endpoint.${d} ${e[d]}`);
  }
  return problems;
}

/** PrometheusRule (Prometheus Operator CRD): the fields the chart uses. */
function prometheusRuleProblems(pr: Obj): string[] {
  const problems: string[] = [];
  if (pr.apiVersion !== 'monitoring.coreos.com/v1') problems.push(`apiVersion ${pr.apiVersion}`);
  for (const g of pr.spec?.groups ?? []) {
    if (typeof g.name !== 'string') problems.push('group without a name');
    for (const r of g.rules ?? []) {
      for (const k of Object.keys(r)) if (!['alert', 'expr', 'for', 'labels', 'annotations'].includes(k)) problems.push(`rule: unexpected field ${k}`);
      if (typeof r.alert !== 'string' || typeof r.expr !== 'string') problems.push('a rule needs alert and expr');
      if (r.for !== undefined && !/^\d+(ms|s|m|h)$/.test(r.for)) problems.push(`for ${r.for}`);
      for (const v of Object.values({ ...r.labels, ...r.annotations })) if (typeof v !== 'string') problems.push(`non-string label or annotation in ${r.alert}`);
    }
  }
  if (!pr.spec?.groups?.length) problems.push('no groups');
  return problems;
}

const CRDS = ['ServiceMonitor', 'PrometheusRule'];

function validateAll(t: Test, objs: Obj[]) {
  for (const o of objs) {
    if (o.kind === 'ServiceMonitor') {
      t.same(serviceMonitorProblems(o), [], `ServiceMonitor ${o.metadata.name} has the CRD's shape`);
      continue;
    }
    if (o.kind === 'PrometheusRule') {
      t.same(prometheusRuleProblems(o), [], `PrometheusRule ${o.metadata.name} has the CRD's shape`);
      continue;
    }
    const entry = models[`${o.apiVersion} ${o.kind}`];
    if (!entry) {
      t.fail(`no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    t.doesNotThrow(() => new entry.model(o).validate(), `${o.kind} ${o.metadata.name} is valid`);
  }
  t.same(
    excessPropertyErrors(objs.filter((o) => !CRDS.includes(o.kind))),
    [],
    'no unknown or mistyped fields (TypeScript check)',
  );
  for (const o of objs) {
    const labels = o.metadata.labels ?? {};
    for (const k of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'helm.sh/chart']) {
      t.ok(labels[k], `${o.kind} ${o.metadata.name} has label ${k}`);
    }
  }
}

/**
 * A pre-install hook runs before the release's ordinary objects exist. Every
 * object the Job's pod needs (secrets, config maps, service account) must be
 * either created by an earlier hook of the same phases, or not made by the
 * chart at all (it exists beforehand, like an existingSecret).
 */
function hookDependencyProblems(objs: Obj[], job: Obj): string[] {
  const spec = job.spec.template.spec;
  const refs: { kind: string; name: string }[] = [];
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) refs.push({ kind: 'Secret', name: e.valueFrom.secretKeyRef.name });
      if (e.valueFrom?.configMapKeyRef) refs.push({ kind: 'ConfigMap', name: e.valueFrom.configMapKeyRef.name });
    }
    for (const f of c.envFrom ?? []) {
      if (f.secretRef) refs.push({ kind: 'Secret', name: f.secretRef.name });
      if (f.configMapRef) refs.push({ kind: 'ConfigMap', name: f.configMapRef.name });
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret) refs.push({ kind: 'Secret', name: v.secret.secretName });
    if (v.configMap) refs.push({ kind: 'ConfigMap', name: v.configMap.name });
  }
  if (spec.serviceAccountName) refs.push({ kind: 'ServiceAccount', name: spec.serviceAccountName });
  const problems: string[] = [];
  for (const ref of refs) {
    const target = objs.find((o) => o.kind === ref.kind && o.metadata.name === ref.name);
    if (!target) continue; // not made by the chart: must exist beforehand
    const missing = hookPhases(job).filter((p) => !hookPhases(target).includes(p));
    if (missing.length) problems.push(`${ref.kind} ${ref.name} does not exist yet at ${missing.join(', ')}`);
    else if (hookWeight(target) >= hookWeight(job)) problems.push(`${ref.kind} ${ref.name} is not created before the Job (hook weight)`);
  }
  return problems;
}

/** Checks every rendering must pass. */
function checkCommon(t: Test, objs: Obj[], opts: { migration: boolean; embedded?: boolean }) {
  validateAll(t, objs);

  const deploy = one(objs, 'Deployment');
  const pod = deploy.spec.template;
  const c = container(deploy, 'roster');
  const podLabels = pod.metadata.labels;
  t.ok(matches(deploy.spec.selector.matchLabels, podLabels), 'Deployment selector matches its pods');

  // Configuration: ConfigMap via envFrom, every name one Roster reads.
  const cm = one(objs, 'ConfigMap', FULLNAME);
  t.same(c.envFrom, [{ configMapRef: { name: FULLNAME } }], 'settings come from the ConfigMap');
  const names = [...Object.keys(cm.data), ...(c.env as Obj[]).map((e) => e.name)];
  // Node's own variables aside (NODE_OPTIONS: maxOldSpaceMB; NODE_EXTRA_CA_CERTS: the extraEnv example).
  const unknown = names.filter((n) => !knownEnv.has(n) && !['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].includes(n));
  t.same(unknown, [], 'the chart sets only variables Roster reads (src/config.ts), and Node\'s own');
  t.equal(cm.data.MIGRATE_ON_START, opts.migration ? 'false' : 'true', 'MIGRATE_ON_START is false exactly when the Job migrates');
  t.equal(cm.data.DATA_DIR, opts.embedded ? '/data' : undefined, 'DATA_DIR only for the embedded database');
  t.equal(Boolean(envVar(c, 'DATABASE_URL')), !opts.embedded, 'DATABASE_URL exactly when a database is configured');

  // Ports and probes.
  const http = (c.ports as Obj[]).find((p) => p.name === 'http');
  const metricsPort = (c.ports as Obj[]).find((p) => p.name === 'metrics');
  t.equal(String(http?.containerPort), cm.data.PORT, 'container port "http" is PORT');
  if (cm.data.METRICS_ENABLED === 'true') {
    t.equal(String(metricsPort?.containerPort), cm.data.METRICS_PORT, 'container port "metrics" is METRICS_PORT');
    t.not(cm.data.METRICS_PORT, cm.data.PORT, 'METRICS_PORT differs from PORT');
  } else {
    t.equal(metricsPort, undefined, 'no metrics port when METRICS_ENABLED is false');
  }
  for (const [probe, path] of [
    ['startupProbe', '/livez'],
    ['livenessProbe', '/livez'],
    ['readinessProbe', '/readyz'],
  ] as const) {
    t.same(c[probe]?.httpGet, { path, port: 'http' }, `${probe} GETs ${path} on the http port`);
  }

  // Graceful shutdown fits in the grace period.
  const preStop = c.lifecycle?.preStop?.exec?.command as string[] | undefined;
  const preStopMs = preStop ? Number(preStop[1]) * 1000 : 0;
  t.ok(
    pod.spec.terminationGracePeriodSeconds * 1000 > preStopMs + Number(cm.data.SHUTDOWN_TIMEOUT_MS),
    `terminationGracePeriodSeconds (${pod.spec.terminationGracePeriodSeconds}) exceeds preStop + SHUTDOWN_TIMEOUT_MS`,
  );

  // Service → pods, by name.
  const svc = one(objs, 'Service', FULLNAME);
  t.ok(matches(svc.spec.selector, podLabels), 'Service selects the server pods');
  t.same(
    svc.spec.ports.map((p: Obj) => p.targetPort),
    ['http'],
    'the main Service exposes only the http port (metrics stay internal)',
  );
  const pdb = only(objs, 'PodDisruptionBudget')[0];
  if (pdb) t.same(pdb.spec.selector.matchLabels, deploy.spec.selector.matchLabels, 'PDB selects the server pods');

  // Security context (restricted Pod Security Standard), for every pod the chart makes.
  const workloads = [deploy, ...only(objs, 'Job'), ...only(objs, 'Pod')];
  const podSpec = (w: Obj): Obj => (w.kind === 'Pod' ? w.spec : w.spec.template.spec);
  for (const w of workloads) {
    const ps = podSpec(w).securityContext;
    t.equal(ps.runAsNonRoot, true, `${w.kind}: pod runAsNonRoot`);
    t.equal(ps.seccompProfile?.type, 'RuntimeDefault', `${w.kind}: pod seccomp RuntimeDefault`);
    for (const wc of podSpec(w).containers as Obj[]) {
      const sc = wc.securityContext;
      t.equal(sc.readOnlyRootFilesystem, true, `${w.kind}/${wc.name}: read-only root filesystem`);
      t.equal(sc.allowPrivilegeEscalation, false, `${w.kind}/${wc.name}: no privilege escalation`);
      t.equal(sc.runAsNonRoot, true, `${w.kind}/${wc.name}: runAsNonRoot`);
      t.same(sc.capabilities?.drop, ['ALL'], `${w.kind}/${wc.name}: drops all capabilities`);
      t.equal(sc.seccompProfile?.type, 'RuntimeDefault', `${w.kind}/${wc.name}: seccomp RuntimeDefault`);
      if (w.kind !== 'Pod') {
        t.ok(
          (wc.volumeMounts as Obj[]).some((m) => m.mountPath === '/tmp'),
          `${w.kind}/${wc.name}: /tmp is writable (emptyDir)`,
        );
      }
      t.ok(wc.resources?.requests && wc.resources?.limits, `${w.kind}/${wc.name}: has resource requests and limits`);
    }
    t.equal(podSpec(w).enableServiceLinks, false, `${w.kind}: no service-link env vars (a Service named "metrics" would set METRICS_PORT)`);
  }

  // Migration Job.
  const jobs = only(objs, 'Job');
  checkTestHook(t, objs);
  if (!opts.migration) {
    t.equal(jobs.length, 0, 'no migration Job');
    t.same(objs.filter(isHook).map((o) => o.kind), ['Pod'], 'no hooks but the helm test');
    return;
  }
  t.equal(jobs.length, 1, 'one migration Job');
  const job = jobs[0]!;
  t.same(hookPhases(job), ['pre-install', 'pre-upgrade'], 'the Job is a pre-install,pre-upgrade hook');
  t.match(job.metadata.annotations['helm.sh/hook-delete-policy'], /before-hook-creation/, 'a rerun replaces the previous Job');
  const jc = container(job);
  t.same(jc.command, ['node', 'dist/src/cli.js', 'migrate'], 'the Job runs the migrate command');
  t.equal(job.spec.template.spec.restartPolicy, 'Never');
  t.notOk(matches(svc.spec.selector, job.spec.template.metadata.labels), 'the Service never routes to the Job pod');
  t.same(hookDependencyProblems(objs, job), [], 'the Job needs nothing that does not exist yet during the hook');
  const jobDb = envVar(jc, 'DATABASE_URL')?.valueFrom?.secretKeyRef;
  const deployDb = envVar(c, 'DATABASE_URL')?.valueFrom?.secretKeyRef;
  t.ok(jobDb, 'the Job reads DATABASE_URL from a Secret');
  t.equal(jobDb?.key, deployDb?.key, 'the Job and the Deployment read the same key');
  t.notOk(jobDb?.optional, 'DATABASE_URL is not optional for the Job');
  for (const secretOnly of ['ADMIN_TOKEN', 'BOOTSTRAP_TOKEN']) t.notOk(envVar(jc, secretOnly), `the Job gets no ${secretOnly}`);
  for (const e of jc.env as Obj[]) t.ok(knownEnv.has(e.name) || e.name === 'NODE_EXTRA_CA_CERTS', `Job env ${e.name} is a Roster setting`);
}

/** The `helm test` Pod: a test hook that reaches the release's Service, admitted by the NetworkPolicy. */
function checkTestHook(t: Test, objs: Obj[]) {
  const pod = one(objs, 'Pod');
  t.same(hookPhases(pod), ['test'], 'the Pod is a helm test hook');
  const svc = one(objs, 'Service', FULLNAME);
  const c = pod.spec.containers[0];
  t.equal(c.image, container(one(objs, 'Deployment'), 'roster').image, 'it runs the Roster image (its Node)');
  t.equal(envVar(c, 'ROSTER_URL')?.value, `http://${svc.metadata.name}:${svc.spec.ports[0].port}`, 'through the Service');
  t.notOk(matches(svc.spec.selector, pod.metadata.labels), 'the Service never routes to it');
  const np = only(objs, 'NetworkPolicy')[0];
  if (np) {
    const admitted = np.spec.ingress.some((rule: Obj) => rule.ports.some((p: Obj) => p.port === 'http') && rule.from.some((peer: Obj) => !peer.namespaceSelector && matches(peer.podSelector?.matchLabels ?? {}, pod.metadata.labels)));
    t.ok(admitted, 'the NetworkPolicy lets it reach the http port');
  }
}

/** The Deployment's secret references, and (for a chart-managed Secret) that it holds what they point at. */
function checkSecrets(t: Test, objs: Obj[], expect: { name: string; keys: Record<'db' | 'admin' | 'bootstrap', string> }) {
  const c = container(one(objs, 'Deployment'), 'roster');
  const ref = (n: string) => envVar(c, n)?.valueFrom?.secretKeyRef;
  t.same(ref('DATABASE_URL'), { name: expect.name, key: expect.keys.db }, 'DATABASE_URL from the Secret (required)');
  t.same(ref('ADMIN_TOKEN'), { name: expect.name, key: expect.keys.admin, optional: true }, 'ADMIN_TOKEN from the Secret (optional)');
  t.same(ref('BOOTSTRAP_TOKEN'), { name: expect.name, key: expect.keys.bootstrap, optional: true }, 'BOOTSTRAP_TOKEN from the Secret (optional)');
  t.same(ref('ENCRYPTION_KEYS'), { name: expect.name, key: 'ENCRYPTION_KEYS', optional: true }, 'ENCRYPTION_KEYS from the Secret (optional)');
}

// ------------------------------------------------------------------ tests

test('helm lint --strict passes on the defaults (evaluation), with a database, and on every ci/ values file', async (t) => {
  for (const args of [[], minimal, allOn, existing]) {
    const r = await helm(['lint', '--strict', chart, ...args]);
    t.equal(r.code, 0, `helm lint --strict ${args.join(' ')}`.trim());
    t.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    t.notMatch(r.stdout, /\[(WARNING|ERROR)\]/, 'no warnings');
  }
});

test('defaults: a working evaluation install on the embedded database', async (t) => {
  const objs = await render([]);
  checkCommon(t, objs, { migration: false, embedded: true });
  t.same(
    objs.map((o) => o.kind).sort(),
    ['ConfigMap', 'Deployment', 'PersistentVolumeClaim', 'Pod', 'PodDisruptionBudget', 'Service', 'ServiceAccount'],
    'no Secret (nothing to keep in one), no migration Job: the pod migrates at start',
  );
  const deploy = one(objs, 'Deployment');
  t.equal(deploy.spec.replicas, 1, 'one replica');
  t.same(deploy.spec.strategy, { type: 'Recreate' }, 'the old pod stops before the new one opens the database');
  const pvc = one(objs, 'PersistentVolumeClaim');
  t.same(pvc.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } }, 'a 1Gi claim on the default StorageClass');
  const volume = (deploy.spec.template.spec.volumes as Obj[]).find((v) => v.persistentVolumeClaim);
  t.equal(volume?.persistentVolumeClaim.claimName, pvc.metadata.name, 'mounted by the pod');
  t.same((container(deploy).volumeMounts as Obj[]).find((m) => m.name === volume?.name)?.mountPath, '/data', 'at DATA_DIR');
  t.equal(deploy.spec.template.spec.securityContext.fsGroup, 1000, 'writable by the image user');
  const refs = (container(deploy).env as Obj[]).map((e) => e.valueFrom?.secretKeyRef).filter(Boolean);
  t.ok(refs.every((r: Obj) => r.optional === true), 'the optional tokens only: the pod starts without any Secret');

  const claim = await render(['--set', 'persistence.existingClaim=my-claim', '--set', 'persistence.storageClass=fast']);
  t.equal(only(claim, 'PersistentVolumeClaim').length, 0, 'existingClaim: no claim made');
  t.equal((one(claim, 'Deployment').spec.template.spec.volumes as Obj[]).find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName, 'my-claim');
  t.equal(one(await render(['--set', 'persistence.storageClass=fast']), 'PersistentVolumeClaim').spec.storageClassName, 'fast');

  const r = await helm(['template', RELEASE, chart, '--set', 'autoscaling.enabled=true']);
  t.not(r.code, 0, 'autoscaling on the embedded database is refused');
  t.match(r.stderr, /autoscaling needs a Postgres database/);
});

test('defaults plus a database URL', async (t) => {
  const objs = await render(minimal);
  checkCommon(t, objs, { migration: true });
  t.same(
    objs.map((o) => o.kind).sort(),
    ['ConfigMap', 'Deployment', 'Job', 'Pod', 'PodDisruptionBudget', 'Secret', 'Secret', 'Service', 'ServiceAccount'],
    'exactly the default objects: no Ingress, HPA, ServiceMonitor, NetworkPolicy, PrometheusRule or volume',
  );
  checkSecrets(t, objs, { name: FULLNAME, keys: { db: 'DATABASE_URL', admin: 'ADMIN_TOKEN', bootstrap: 'BOOTSTRAP_TOKEN' } });

  const secret = one(objs, 'Secret', FULLNAME);
  t.notOk(isHook(secret), "the Deployment's Secret is an ordinary release object (removed on uninstall)");
  t.same(Object.keys(secret.data), ['DATABASE_URL'], 'unset tokens are left out');
  t.equal(decode(secret.data.DATABASE_URL), DB_URL);

  const job = one(objs, 'Job');
  const ref = envVar(container(job), 'DATABASE_URL')!.valueFrom.secretKeyRef;
  const hookSecret = one(objs, 'Secret', ref.name);
  t.not(ref.name, FULLNAME, 'the Job reads a hook copy of the Secret, which exists during pre-install');
  t.same(hookPhases(hookSecret), ['pre-install', 'pre-upgrade']);
  t.ok(hookWeight(hookSecret) < hookWeight(job), 'the copy is created before the Job');
  t.match(hookSecret.metadata.annotations['helm.sh/hook-delete-policy'], /hook-succeeded/, 'and deleted after a successful migration');
  t.same(Object.keys(hookSecret.data), ['DATABASE_URL'], 'the copy holds only DATABASE_URL');
  t.equal(decode(hookSecret.data.DATABASE_URL), DB_URL);

  const deploy = one(objs, 'Deployment');
  t.equal(deploy.spec.replicas, 2, 'two replicas by default');
  t.ok(deploy.spec.template.metadata.annotations['checksum/config'], 'pods roll when the ConfigMap changes');
  t.ok(deploy.spec.template.metadata.annotations['checksum/secret'], 'pods roll when the Secret changes');
  t.equal(deploy.spec.template.spec.automountServiceAccountToken, false, 'no API token in the pods');
  t.equal(container(deploy).image, 'roster:' + JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version, 'image tag defaults to the app version');
  t.equal(one(objs, 'ConfigMap').data.PUBLIC_URL, undefined, 'no PUBLIC_URL without ingress or env.PUBLIC_URL');
  t.same(one(objs, 'PodDisruptionBudget').spec, { maxUnavailable: 1, selector: deploy.spec.selector }, 'the PDB never blocks a drain');
});

test('everything on (ci/all-on-values.yaml)', async (t) => {
  const objs = await render(allOn);
  checkCommon(t, objs, { migration: true });
  checkSecrets(t, objs, { name: FULLNAME, keys: { db: 'DATABASE_URL', admin: 'ADMIN_TOKEN', bootstrap: 'BOOTSTRAP_TOKEN' } });
  const secret = one(objs, 'Secret', FULLNAME);
  t.same(Object.keys(secret.data).sort(), ['ADMIN_TOKEN', 'BOOTSTRAP_TOKEN', 'DATABASE_URL', 'ENCRYPTION_KEYS']);
  t.equal(decode(secret.data.ENCRYPTION_KEYS), 'k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=', 'the encryption keys in the Secret');
  const job = one(objs, 'Job');
  const hookSecret = one(objs, 'Secret', envVar(container(job), 'DATABASE_URL')!.valueFrom.secretKeyRef.name);
  t.same(Object.keys(hookSecret.data), ['DATABASE_URL'], 'the Job still sees only DATABASE_URL');

  const deploy = one(objs, 'Deployment');
  const cm = one(objs, 'ConfigMap', FULLNAME);
  t.equal(deploy.spec.replicas, undefined, 'the HPA owns the replica count');
  t.equal(cm.data.PUBLIC_URL, 'https://scim.example.com', 'PUBLIC_URL derived from the TLS ingress host');
  t.equal(cm.data.MAX_BODY_BYTES, '2097152', 'large numbers stay whole numbers');
  t.equal(cm.data.DATABASE_POOL_MAX, '5');
  t.equal(deploy.spec.template.spec.terminationGracePeriodSeconds, 40, '10 s preStop + 25 s shutdown + 5 s');
  t.equal(container(deploy).image, 'registry.example.com/platform/roster:0.1.0-rc.1');
  t.equal(deploy.spec.template.spec.serviceAccountName, 'roster-sa');
  t.equal(one(objs, 'ServiceAccount').metadata.name, 'roster-sa');
  t.notOk(job.spec.template.spec.serviceAccountName, 'the Job does not use the ServiceAccount the chart creates after the hook');
  for (const w of [deploy, job]) {
    t.ok(envVar(container(w), 'NODE_EXTRA_CA_CERTS'), `${w.kind} gets extraEnv`);
    t.ok((w.spec.template.spec.volumes as Obj[]).some((v) => v.name === 'db-ca'), `${w.kind} gets extraVolumes`);
    t.ok((container(w).volumeMounts as Obj[]).some((m) => m.name === 'db-ca'), `${w.kind} gets extraVolumeMounts`);
    t.same(w.spec.template.spec.imagePullSecrets, [{ name: 'registry-credentials' }], `${w.kind} gets imagePullSecrets`);
  }
  t.equal(envVar(container(job), 'PUBLIC_URL')?.value, 'https://scim.example.com', 'the Job gets the same settings inline');
  t.same(
    job.spec.template.metadata.annotations,
    { 'example.com/team': 'identity', 'sidecar.istio.io/inject': 'false' },
    'the Job pod gets podAnnotations and migration.podAnnotations',
  );
  t.notOk(deploy.spec.template.metadata.annotations['sidecar.istio.io/inject'], 'migration.podAnnotations stay off the server pods');

  const hpa = one(objs, 'HorizontalPodAutoscaler');
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deploy.metadata.name });
  t.equal(hpa.spec.minReplicas, 3);
  t.equal(hpa.spec.maxReplicas, 12);
  t.same(
    hpa.spec.metrics.map((m: Obj) => [m.resource.name, m.resource.target.averageUtilization]),
    [
      ['cpu', 70],
      ['memory', 80],
    ],
  );

  const svc = one(objs, 'Service', FULLNAME);
  const ing = one(objs, 'Ingress', FULLNAME);
  t.equal(ing.spec.ingressClassName, 'nginx');
  t.same(ing.spec.tls, [{ hosts: ['scim.example.com'], secretName: 'roster-tls' }]);
  const routes = (i: Obj) => (i.spec.rules[0].http.paths as Obj[]).map((p) => `${p.pathType} ${p.path} -> ${p.backend.service.name}:${p.backend.service.port.name}`);
  t.same(
    routes(ing),
    [
      `Prefix /scim/v2 -> ${FULLNAME}:http`,
      `Exact /.well-known/jwks.json -> ${FULLNAME}:http`,
      `Exact /oauth/token -> ${FULLNAME}:http`,
      `Exact /.well-known/oauth-authorization-server -> ${FULLNAME}:http`,
      `Prefix /setup -> ${FULLNAME}:http`,
      `Prefix /console/assets -> ${FULLNAME}:http`,
    ],
    'the public Ingress routes what identity providers and IT admins reach (SCIM, JWKS, OAuth token endpoint, setup links and their assets) only: no /admin, /console, /docs, /openapi.json or metrics',
  );
  t.ok(svc.spec.ports.some((p: Obj) => p.name === 'http'), 'the Service has port http');

  const adminName = `${FULLNAME}-admin`;
  const adminIng = one(objs, 'Ingress', adminName);
  t.equal(adminIng.spec.ingressClassName, 'nginx-internal');
  t.equal(adminIng.spec.rules[0].host, 'roster-admin.corp.example.com');
  t.same(
    routes(adminIng),
    [`Prefix /admin -> ${adminName}:http`, `Prefix /docs -> ${adminName}:http`, `Exact /openapi.json -> ${adminName}:http`, `Prefix /console -> ${adminName}:http`, `Exact /metrics -> ${adminName}:metrics`],
    'the admin surface is on its own Ingress and Service',
  );
  const adminSvc = one(objs, 'Service', adminName);
  t.same(adminSvc.spec.ports.map((p: Obj) => `${p.name}->${p.targetPort}`), ['http->http', 'metrics->metrics']);
  t.ok(matches(adminSvc.spec.selector, deploy.spec.template.metadata.labels), 'the admin Service selects the server pods');

  const np = one(objs, 'NetworkPolicy');
  t.same(np.spec.podSelector.matchLabels, deploy.spec.selector.matchLabels, 'the NetworkPolicy covers the server pods');
  t.same(np.spec.policyTypes, ['Ingress'], 'egress stays open (webhooks, database)');
  const [httpRule, metricsRule] = np.spec.ingress as Obj[];
  t.same(httpRule!.ports, [{ port: 'http', protocol: 'TCP' }]);
  t.same(httpRule!.from[0].namespaceSelector, { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }, 'the ingress controller');
  t.same(httpRule!.from.at(-1), { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'platform' } } }, 'and extraFrom');
  t.same(metricsRule!.ports, [{ port: 'metrics', protocol: 'TCP' }]);
  t.same(metricsRule!.from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }], 'only the scraper reaches metrics');

  const rule = one(objs, 'PrometheusRule');
  t.equal(rule.metadata.labels.release, 'kube-prometheus-stack');
  const alerts = rule.spec.groups[0].rules as Obj[];
  t.same(alerts.map((a) => a.alert), ['RosterWebhookDeadLettered', 'RosterHighErrorRate', 'RosterNotReady']);
  t.ok(alerts.every((a) => a.labels.severity === 'page' && a.labels.team === 'identity'), 'alertLabels on every alert');
  t.match(alerts[1]!.expr, /> 0\.02\s*$/, 'errorRateThreshold');
  t.ok(alerts.slice(0, 2).every((a) => a.expr.includes(`job="${FULLNAME}-metrics"`)), 'the alerts read the ServiceMonitor\'s job');
  t.same(unknownMetrics(alerts.map((a) => a.expr).join('\n')), [], 'every roster_* metric the alerts use exists');

  const dashboard = one(objs, 'ConfigMap', `${FULLNAME}-dashboard`);
  t.equal(dashboard.metadata.labels.grafana_dashboard, '1', 'labelled for the Grafana sidecar');
  const board = JSON.parse(dashboard.data['roster.json']);
  t.equal(board.title, 'Roster');
  const exprs = (board.panels as Obj[]).flatMap((p) => (p.targets as Obj[]).map((x) => x.expr as string));
  t.ok(exprs.length >= 7, `${exprs.length} queries`);
  t.same(unknownMetrics(exprs.join('\n')), [], 'every roster_* metric the dashboard uses exists');

  const pdb = one(objs, 'PodDisruptionBudget');
  t.equal(pdb.spec.minAvailable, 2);
  t.equal(pdb.spec.maxUnavailable, undefined, 'minAvailable replaces maxUnavailable');

  const sm = one(objs, 'ServiceMonitor');
  t.equal(sm.metadata.labels.release, 'kube-prometheus-stack', 'labels for the Prometheus selector');
  t.same(sm.spec.namespaceSelector, { matchNames: [NAMESPACE] });
  const scraped = only(objs, 'Service').filter((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
  t.equal(scraped.length, 1, 'the ServiceMonitor selects exactly one Service');
  const metricsSvc = scraped[0]!;
  t.not(metricsSvc.metadata.name, svc.metadata.name, 'a separate metrics Service');
  t.equal(metricsSvc.spec.type, 'ClusterIP');
  const endpoint = sm.spec.endpoints[0];
  t.equal(endpoint.path, '/metrics');
  t.equal(endpoint.interval, '15s');
  const port = (metricsSvc.spec.ports as Obj[]).find((p) => p.name === endpoint.port);
  t.ok(port, `the metrics Service has port ${endpoint.port}`);
  t.ok(matches(metricsSvc.spec.selector, deploy.spec.template.metadata.labels), 'the metrics Service selects the server pods');
  const target = (container(deploy).ports as Obj[]).find((p) => p.name === port?.targetPort);
  t.equal(target?.containerPort, 9100, 'and reaches the container port');
  t.equal(cm.data.METRICS_PORT, '9100', 'which is METRICS_PORT');
});

test('existing Secret with custom keys (ci/existing-secret-values.yaml)', async (t) => {
  const objs = await render(existing);
  checkCommon(t, objs, { migration: true });
  t.equal(only(objs, 'Secret').length, 0, 'the chart creates no Secret');
  checkSecrets(t, objs, { name: 'roster-credentials', keys: { db: 'url', admin: 'admin', bootstrap: 'scim-token' } });
  const job = one(objs, 'Job');
  t.same(envVar(container(job), 'DATABASE_URL')?.valueFrom?.secretKeyRef, { name: 'roster-credentials', key: 'url' }, 'the Job reads the same Secret');
  t.equal(job.spec.template.spec.serviceAccountName, 'roster-workload-identity', 'the Job uses the pre-existing ServiceAccount');
  t.equal(one(objs, 'Deployment').spec.template.spec.serviceAccountName, 'roster-workload-identity');
  t.equal(only(objs, 'ServiceAccount').length, 0);
  t.notOk(one(objs, 'Deployment').spec.template.metadata.annotations['checksum/secret'], 'no checksum of a Secret the chart does not render');
  t.equal(one(objs, 'ConfigMap').data.PUBLIC_URL, 'https://id.example.com/roster', 'PUBLIC_URL without the trailing slash');
});

test('migration.enabled=false: no hook, pods migrate at start', async (t) => {
  const objs = await render([...minimal, '--set', 'migration.enabled=false']);
  checkCommon(t, objs, { migration: false });
  t.equal(only(objs, 'Secret').length, 1, 'no hook copy of the Secret');
});

test('metrics.enabled=false: no metrics listener, nothing to scrape', async (t) => {
  const objs = await render([...minimal, '--set', 'metrics.enabled=false', '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'prometheusRule.enabled=true']);
  checkCommon(t, objs, { migration: true });
  const cm = one(objs, 'ConfigMap');
  t.equal(cm.data.METRICS_ENABLED, 'false');
  t.equal(cm.data.METRICS_PORT, undefined);
  t.equal(only(objs, 'ServiceMonitor').length, 0, 'no ServiceMonitor even when asked for');
  t.equal(only(objs, 'PrometheusRule').length, 0, 'no alerts on metrics that do not exist');
  t.equal(only(objs, 'Service').length, 1, 'no metrics Service');
  const withAdmin = await render([...minimal, '--set', 'metrics.enabled=false', '--set', 'adminIngress.enabled=true', '--set', 'networkPolicy.enabled=true']);
  const adminPaths = (one(withAdmin, 'Ingress').spec.rules[0].http.paths as Obj[]).map((p) => p.path);
  t.same(adminPaths, ['/admin', '/docs', '/openapi.json', '/console'], 'no /metrics route on the admin Ingress');
  t.equal(one(withAdmin, 'NetworkPolicy').spec.ingress.length, 1, 'no metrics rule in the NetworkPolicy');
});

test('maxOldSpaceMB: the server gets NODE_OPTIONS with the heap limit; 0 leaves Node its own sizing', async (t) => {
  const cm = one(await render(minimal), 'ConfigMap');
  t.equal(cm.data.NODE_OPTIONS, '--max-old-space-size=256', 'the default, as bench/ runs the server');
  t.equal(one(await render([...minimal, '--set', 'maxOldSpaceMB=384']), 'ConfigMap').data.NODE_OPTIONS, '--max-old-space-size=384');
  t.equal(one(await render([...minimal, '--set', 'maxOldSpaceMB=0']), 'ConfigMap').data.NODE_OPTIONS, undefined);
});

test('optional objects render only when enabled', async (t) => {
  for (const [flag, kind] of [
    ['autoscaling.enabled', 'HorizontalPodAutoscaler'],
    ['ingress.enabled', 'Ingress'],
    ['metrics.serviceMonitor.enabled', 'ServiceMonitor'],
    ['networkPolicy.enabled', 'NetworkPolicy'],
    ['prometheusRule.enabled', 'PrometheusRule'],
    ['podDisruptionBudget.enabled', 'PodDisruptionBudget'],
    ['serviceAccount.create', 'ServiceAccount'],
  ] as const) {
    const on = await render([...minimal, '--set', `${flag}=true`]);
    const off = await render([...minimal, '--set', `${flag}=false`]);
    t.equal(only(on, kind).length, 1, `${kind} with ${flag}=true`);
    t.equal(only(off, kind).length, 0, `no ${kind} with ${flag}=false`);
  }
});

test('bad values are refused before anything is applied', async (t) => {
  const refused = async (args: string[], why: RegExp, what: string) => {
    const r = await helm(['template', RELEASE, chart, ...minimal, ...args]);
    t.not(r.code, 0, what);
    t.match(r.stderr, why, what);
  };
  await refused(['--set', 'env.PORT=9000'], /PORT/, 'PORT is set by the chart (containerPort), not env');
  await refused(['--set', 'env.MIGRATE_ON_START=true'], /MIGRATE_ON_START/, 'MIGRATE_ON_START follows migration.enabled');
  await refused(['--set', 'env.METRICS_ENABLED=false'], /METRICS_ENABLED/, 'METRICS_ENABLED follows metrics.enabled');
  await refused(['--set', 'metrics.port=8080'], /metrics\.port must differ/, 'metrics on the HTTP port');
  await refused(['--set', 'shutdownTimeoutMs=50'], /shutdownTimeoutMs/, 'SHUTDOWN_TIMEOUT_MS below its minimum');
  await refused(['--set', 'secrets.adminToken=short'], /adminToken/, 'tokens shorter than 16 characters');
  await refused(['--set', 'secrets.encryptionKeys=not-a-key'], /encryptionKeys/, 'encryption keys that are not id:base64 of 32 bytes');
  await refused(['--set', 'secrets.bootstrapToken=0123456789abcdef0'], /BOOTSTRAP_TENANT/, 'a bootstrap token needs a tenant');
  await refused(['--set', 'env.LOG_LEVEL=verbose'], /LOG_LEVEL/, 'LOG_LEVEL outside pino levels');
  await refused(['--set', 'replicaCont=3'], /replicaCont/, 'misspelt top-level value');
});

test('NOTES.txt prints the SCIM base URL pattern, and warns that the zero-config install is for evaluation', async (t) => {
  const notes = async (args: string[]) => {
    // A client-side dry run renders NOTES.txt without a cluster.
    const r = await helm(['install', RELEASE, chart, '--namespace', NAMESPACE, '--dry-run=client', ...args]);
    t.equal(r.code, 0, r.stderr);
    return r.stdout.slice(r.stdout.indexOf('NOTES:'));
  };
  const withIngress = await notes(allOn);
  t.match(withIngress, 'https://scim.example.com/scim/v2/<tenant>');
  t.match(withIngress, 'https://scim.example.com/scim/v2/acme');
  const bare = await notes(minimal);
  t.match(bare, '<PUBLIC_URL>/scim/v2/<tenant>');
  t.match(bare, /PUBLIC_URL is not set/);
  t.match(await notes(existing), 'https://id.example.com/roster/scim/v2/<tenant>');
  t.notMatch(bare, /EVALUATION/);
  const evaluation = await notes([]);
  t.match(evaluation, /WARNING: FOR EVALUATION ONLY/);
  t.match(evaluation, `kubectl --namespace ${NAMESPACE} logs deploy/${FULLNAME} | grep '"Roster is running"'`, 'where the first tokens are');
  t.match(evaluation, `helm test ${RELEASE}`);
});

test('scripts/helm.sh runs Helm 4', async (t) => {
  const r = await helm(['version', '--short']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^v4\./);
});

test('the helm test hook passes against a ready Roster and fails against a broken one', async (t) => {
  const s = await startApp(t, backends[0]!);
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}`;
  const pod = one(await render([...minimal, '--set', 'env.BOOTSTRAP_TENANT=acme', '--set', 'secrets.bootstrapToken=0123456789abcdef0123']), 'Pod');
  const c = pod.spec.containers[0];
  t.same(c.command.slice(0, 3), ['node', '--input-type=module', '-e']);
  t.equal(envVar(c, 'TENANT')?.value, 'acme', 'BOOTSTRAP_TENANT is the tenant it checks');
  t.same(envVar(c, 'SCIM_TOKEN')?.valueFrom?.secretKeyRef, { name: FULLNAME, key: 'BOOTSTRAP_TOKEN', optional: true }, 'with the bootstrap token');
  t.equal(envVar(one(await render(minimal), 'Pod').spec.containers[0], 'TENANT')?.value, 'default', 'default otherwise');

  // The script itself, run by Node as the Pod runs it, with the Service's URL pointing here.
  const run = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, c.command.slice(1), { env: { PATH: process.env.PATH, TENANT: 'acme', ...env }, timeout: 30_000 }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (err: any) => ({ code: err.code as number, out: `${err.stdout}${err.stderr}` }),
    );
  const good = await run({ ROSTER_URL: url, SCIM_TOKEN: s.token });
  t.equal(good.code, 0, good.out);
  t.match(good.out, 'GET /readyz: 200');
  t.match(good.out, 'GET /scim/v2/acme/ServiceProviderConfig: 200');
  const noToken = await run({ ROSTER_URL: url });
  t.equal(noToken.code, 0, 'without a token it checks that the SCIM API asks for one');
  t.match(noToken.out, 'ServiceProviderConfig: 401');
  const wrong = await run({ ROSTER_URL: url, SCIM_TOKEN: 'rst_wrong-token-0123456789' });
  t.equal(wrong.code, 1, 'a token the server refuses fails the test');
  const down = await run({ ROSTER_URL: 'http://127.0.0.1:9' });
  t.equal(down.code, 1, 'so does a server that does not answer');
});

test('the chart README lists every value', async (t) => {
  const readme = readFileSync(join(chart, 'README.md'), 'utf8');
  const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as Obj;
  const resolve = (node: Obj): Obj => (node.$ref ? resolve(schema.definitions[node.$ref.split('/').pop()]) : node);
  // A value is a leaf of the schema: descend only where the schema lists the properties.
  const leaves = (node: Obj, prefix: string): string[] =>
    Object.entries(resolve(node).properties ?? {}).flatMap(([k, child]) => {
      const path = prefix ? `${prefix}.${k}` : k;
      // env is open-ended, and a probe is one value (its timings) in the README.
      const whole = k === 'env' || (child as Obj).$ref === '#/definitions/probe';
      return resolve(child as Obj).properties && !whole ? leaves(child as Obj, path) : [path];
    });
  const expected = leaves(schema, '').filter((p) => p !== 'global');
  const listed = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
  t.same(listed.filter((p) => !expected.includes(p)), [], 'no row for a value that does not exist');
  t.same(expected.filter((p) => !listed.includes(p)), [], 'a row for every value');
});

import { readFileSync } from 'node:fs';
import t from 'tap';
import { ConfigError, configSpec, configTable, loadConfig } from '../src/config.js';
import { README_FILE, readmeTable } from '../scripts/readme-config.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
};

t.test('defaults load, and every setting with a default is applied', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 8080);
  t.equal(c.publicUrl, 'http://localhost:8080');
  t.equal(c.metricsEnabled, true);
  t.equal(c.metricsPort, 9464);
  t.equal(c.metricsOnMainListener, false);
  t.equal(c.rateLimitScimPerMinute, 6000);
  t.equal(c.rateLimitScimBurst, 600);
  t.equal(c.rateLimitAdminPerMinute, 600);
  t.equal(c.rateLimitAdminBurst, 100);
  t.equal(c.shutdownTimeoutMs, 10000);
  t.equal(loadConfig({ PORT: '3000' }).publicUrl, 'http://localhost:3000');
  t.equal(loadConfig({ PUBLIC_URL: 'https://idp.example.com/roster/' }).publicUrl, 'https://idp.example.com/roster');
  t.equal(loadConfig({ RATE_LIMIT_SCIM_PER_MINUTE: '0' }).rateLimitScimPerMinute, 0, '0 turns the limit off');
  t.equal(loadConfig({ METRICS_PORT: '0', PORT: '0' }).metricsPort, 0, 'ephemeral ports for both are fine');
  t.equal(loadConfig({ METRICS_ENABLED: 'false', METRICS_PORT: '8080' }).metricsEnabled, false, 'a disabled metrics port may equal PORT');
});

// One value per kind that the kind must refuse.
const badByKind: Record<string, string> = { port: 'http', int: '12abc', bool: 'perhaps', enum: 'loud', url: 'not a url' };
const ruleByKind: Record<string, RegExp> = {
  port: /must be a port number/,
  int: /must be a whole number/,
  bool: /must be true or false/,
  enum: /must be one of/,
  url: /must be an absolute URL/,
};

t.test('every validated setting rejects a malformed value, naming the variable and the rule', async (t) => {
  for (const spec of configSpec) {
    if (!(spec.kind in badByKind)) continue;
    const bad = badByKind[spec.kind]!;
    const problems = problemsOf({ [spec.env]: bad });
    const mine = problems.filter((p) => p.startsWith(`${spec.env}=`));
    t.equal(mine.length, 1, `${spec.env}=${bad} is reported`);
    t.match(mine[0], ruleByKind[spec.kind]!, `${spec.env}: the rule is stated`);
    if ((spec as { secret?: boolean }).secret) {
      t.notOk(mine[0]!.includes(bad), `${spec.env} is secret: its value is not echoed`);
      t.match(mine[0], /<redacted>/);
    } else {
      t.ok(mine[0]!.includes(JSON.stringify(bad)), `${spec.env}: the bad value is shown`);
    }
  }
});

t.test('range and cross-field rules', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: '70000' }, /^PORT="70000": must be a port number 0-65535$/],
    [{ PORT: '-1' }, /^PORT="-1": must be a port number/],
    [{ DATABASE_POOL_MAX: '0' }, /^DATABASE_POOL_MAX="0": must be at least 1$/],
    [{ DATABASE_POOL_MAX: '2.5' }, /^DATABASE_POOL_MAX="2.5": must be a whole number$/],
    [{ MAX_BODY_BYTES: '100' }, /^MAX_BODY_BYTES="100": must be at least 1024$/],
    [{ MAX_PAGE_SIZE: '-5' }, /^MAX_PAGE_SIZE="-5": must be a whole number$/],
    [{ BULK_MAX_OPERATIONS: '0' }, /^BULK_MAX_OPERATIONS="0": must be at least 1$/],
    [{ DEFAULT_PAGE_SIZE: '500', MAX_PAGE_SIZE: '100' }, /^DEFAULT_PAGE_SIZE must not exceed MAX_PAGE_SIZE$/],
    [{ METRICS_PORT: '8080' }, /^METRICS_PORT=8080: must differ from PORT/],
    [{ PORT: '9000', METRICS_PORT: '9000' }, /^METRICS_PORT=9000: must differ from PORT/],
    [{ RATE_LIMIT_SCIM_PER_MINUTE: '-1' }, /^RATE_LIMIT_SCIM_PER_MINUTE="-1": must be a whole number$/],
    [{ RATE_LIMIT_SCIM_BURST: '0' }, /^RATE_LIMIT_SCIM_BURST="0": must be at least 1$/],
    [{ RATE_LIMIT_ADMIN_BURST: '0' }, /^RATE_LIMIT_ADMIN_BURST="0": must be at least 1$/],
    [{ SHUTDOWN_TIMEOUT_MS: '50' }, /^SHUTDOWN_TIMEOUT_MS="50": must be at least 100$/],
    [{ BOOTSTRAP_TENANT: 'Acme_Corp' }, /^BOOTSTRAP_TENANT="Acme_Corp": must be 1-63 lower-case letters/],
    [{ BOOTSTRAP_TOKEN: 'x'.repeat(20) }, /^BOOTSTRAP_TOKEN is set but BOOTSTRAP_TENANT is not$/],
  ];
  for (const [env, re] of cases) {
    const problems = problemsOf(env);
    t.ok(problems.some((p) => re.test(p)), `${JSON.stringify(env)} → ${re}`) || t.comment(problems);
  }
});

t.test('secrets are never echoed, whatever is wrong with them', async (t) => {
  const secrets = {
    DATABASE_URL: 'postgres://roster:hunter2-pass@[db',
    ADMIN_TOKEN: 'short-admin-s3',
    BOOTSTRAP_TOKEN: 'short-boot-s3',
  };
  const err = (() => {
    try {
      loadConfig({ ...secrets, BOOTSTRAP_TENANT: 'acme' });
    } catch (e) {
      return e as ConfigError;
    }
  })();
  t.ok(err instanceof ConfigError);
  t.equal(err!.problems.length, 3, 'every problem is listed at once');
  for (const [name, value] of Object.entries(secrets)) {
    t.ok(err!.problems.some((p) => p.startsWith(`${name}=<redacted>`)), `${name} is named`);
    t.notOk(err!.message.includes(value), `${name}'s value is not in the message`);
  }
  t.notOk(err!.message.includes('hunter2'), 'not even part of the URL');
  t.match(err!.message, /^Invalid configuration:\n {2}- /);
});

t.test("README's configuration table matches configSpec (npm run readme:config rewrites it)", async (t) => {
  const readme = readFileSync(README_FILE, 'utf8');
  const table = readmeTable(readme);
  t.ok(table !== undefined, 'README.md has the <!-- config:start --> / <!-- config:end --> markers');
  t.equal(table, configTable(), 'README.md is up to date: run `npm run readme:config`');
  for (const spec of configSpec) t.ok(configTable().includes(`| \`${spec.env}\` |`), `${spec.env} is in the table`);
});

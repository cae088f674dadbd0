import { readFileSync } from 'node:fs';
import t from 'tap';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { OPENAPI_FILE, renderOpenApi } from '../scripts/openapi.js';
import { backends } from './helpers/db.js';
import { startApp } from './helpers/app.js';

const generated = await renderOpenApi();
const doc = JSON.parse(generated);

t.test('openapi/openapi.json is what the code generates (run `npm run openapi` after changing a route)', async (t) => {
  let committed = '';
  try {
    committed = readFileSync(OPENAPI_FILE, 'utf8');
  } catch {
    t.fail(`${OPENAPI_FILE} is missing: run \`npm run openapi\``);
    return;
  }
  // Compare paths and operations first, so a drift names what changed instead of dumping two documents.
  const old = JSON.parse(committed);
  const ops = (d: { paths: Record<string, Record<string, unknown>> }) =>
    Object.entries(d.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
  t.same(ops(old), ops(doc), 'same operations: run `npm run openapi`');
  t.ok(committed === generated, 'openapi/openapi.json is up to date: run `npm run openapi`');
});

t.test('generation is deterministic', async (t) => {
  t.equal(await renderOpenApi(), generated);
});

t.test('the document describes both APIs', async (t) => {
  t.equal(doc.openapi, '3.1.0');
  t.same(doc.servers, [{ url: 'http://localhost:8080' }]);
  const paths = Object.keys(doc.paths);
  for (const p of ['/scim/v2/{tenant}/Users', '/scim/v2/{tenant}/Users/{id}', '/scim/v2/{tenant}/ServiceProviderConfig', '/admin/v1/tenants', '/livez', '/readyz']) {
    t.ok(paths.includes(p), `${p} is documented`);
  }
  for (const hidden of ['/openapi.json', '/metrics']) t.notOk(paths.some((p) => p.startsWith(hidden)), `${hidden} is not`);
  t.notOk(paths.some((p) => p.startsWith('/docs')), 'the UI routes are not');

  // Routes match case-insensitively; the document must not list one path twice in different spellings.
  const lower = paths.map((p) => p.toLowerCase());
  t.same(lower.filter((p, i) => lower.indexOf(p) !== i), [], 'no path twice');

  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(methods)) {
      const where = `${method.toUpperCase()} ${path}`;
      t.ok(op.summary, `${where} has a summary`);
      t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${where} has a tag`);
      t.ok(Object.keys(op.responses).some((c) => /^2/.test(c)), `${where} documents a success response`);
      const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name);
      t.same(declared.sort(), [...params].sort(), `${where} declares its path parameters`);
      if (path.startsWith('/scim/v2/')) {
        t.same(op.security, [{ scimToken: [] }], `${where}: tenant bearer token`);
        t.ok(op.responses['429']?.headers?.['retry-after'], `${where}: 429 with Retry-After`);
        t.ok(Object.keys(op.responses['200']?.content ?? op.responses['201']?.content ?? { 'application/scim+json': 1 }).includes('application/scim+json'), `${where}: application/scim+json`);
      } else if (path.startsWith('/admin/v1/')) {
        t.same(op.security, [{ adminToken: [] }], `${where}: admin token`);
      }
    }
  }
});

t.test('every schema in the document is valid JSON Schema 2020-12 and every $ref resolves', async (t) => {
  const ajv = new Ajv2020.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  let n = 0;
  const visit = (node: unknown, where: string): void => {
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'schema' && v && typeof v === 'object') {
        n++;
        try {
          // `#/components/schemas/…` references resolve against the document's components.
          ajv.compile({ ...(v as object), components: { schemas: doc.components.schemas } });
        } catch (err) {
          t.fail(`${where}: ${(err as Error).message}`);
        }
      } else visit(v, `${where}/${k}`);
    }
  };
  visit(doc.paths, '');
  t.ok(n > 20, `${n} schemas checked`);
});

for (const backend of backends) {
  t.test(`${backend}: served at /openapi.json with the configured public URL, UI at /docs`, async (t) => {
    const a = await startApp(t, backend);
    const res = await a.app.inject({ method: 'GET', url: '/openapi.json' });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/json/);
    const served = res.json();
    t.same(served.servers, [{ url: 'https://roster.test' }]);
    t.same(served.paths, doc.paths, 'same operations as the committed document');

    const ui = await a.app.inject({ method: 'GET', url: '/docs' });
    t.equal(ui.statusCode, 200);
    t.match(ui.headers['content-type'], /^text\/html/);
    t.match(ui.body, /swagger-ui/i);
    const bundle = await a.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    t.equal(bundle.statusCode, 200, 'UI assets are served from the package (no CDN)');
    const json = await a.app.inject({ method: 'GET', url: '/docs/json' });
    t.equal(json.json().openapi, '3.1.0', 'the UI reads the same document');
  });
}

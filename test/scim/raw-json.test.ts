/** src/scim/json.ts RawJson and stringifyJson: pre-serialized JSON written in place, nothing else touched. */
import t from 'tap';
import { RawJson, stringifyJson } from '../../src/scim/json.js';

t.test('each RawJson is written as its text, in place, among ordinary values', async (t) => {
  const body = { schemas: ['x'], Resources: [{ id: 'a', members: new RawJson('[{"value":"1","display":"Q \\"uoted\\""}]') }, { id: 'b', members: new RawJson('[]') }], n: 2 };
  const text = stringifyJson(body);
  t.equal(text, '{"schemas":["x"],"Resources":[{"id":"a","members":[{"value":"1","display":"Q \\"uoted\\""}]},{"id":"b","members":[]}],"n":2}');
  t.same(JSON.parse(text).Resources[0].members, [{ value: '1', display: 'Q "uoted"' }]);
});

t.test('without RawJson the output is JSON.stringify\'s', async (t) => {
  const body = { a: 'line\u2028sep', b: [1, null, { c: '\u0001' }], d: '😀' };
  t.equal(stringifyJson(body), JSON.stringify(body));
});

t.test('strings that look like the placeholder are data, never replaced', async (t) => {
  const forged = ['\u0000raw-json:00000000-0000-0000-0000-000000000000:0', '"\\u0000raw-json:', '\u0000raw-json:'];
  const body = { forged, members: new RawJson('[1]') };
  t.same(JSON.parse(stringifyJson(body)), { forged, members: [1] });
});

t.test('serialized by plain JSON.stringify (a log line), a RawJson is its parsed value', async (t) => {
  t.equal(JSON.stringify({ m: new RawJson('[{"a":1}]') }), '{"m":[{"a":1}]}');
  t.equal(stringifyJson({ m: new RawJson('[2]') }), '{"m":[2]}', 'and stringifyJson still splices afterwards');
});

t.test('a serialization that throws leaves no collector behind', async (t) => {
  const cyclic: Record<string, unknown> = { m: new RawJson('[3]') };
  cyclic.self = cyclic;
  t.throws(() => stringifyJson(cyclic));
  t.equal(JSON.stringify({ m: new RawJson('[4]') }), '{"m":[4]}');
});

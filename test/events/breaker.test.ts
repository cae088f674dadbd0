/** The per-endpoint circuit breaker (src/events/breaker.ts), on a clock the test moves. */
import t from 'tap';
import { BREAKER_COOLDOWN_MS, BREAKER_MAX_COOLDOWN_MS, BREAKER_THRESHOLD, EndpointBreakers } from '../../src/events/breaker.js';

t.test('opens after consecutive timeouts, probes after the cool-down, closes on an answer', async (t) => {
  let now = 0;
  const b = new EndpointBreakers(() => now);
  for (let i = 1; i < BREAKER_THRESHOLD; i++) t.equal(b.record('e', true), undefined);
  t.equal(b.slots('e', 8), 8, 'still closed below the threshold');
  t.equal(b.record('e', false), undefined, 'an answer resets the count');
  for (let i = 1; i < BREAKER_THRESHOLD; i++) b.record('e', true);
  t.equal(b.record('e', true), 'opened');
  t.equal(b.slots('e', 8), 0, 'open: no slot');
  t.equal(b.slots('other', 8), 8, 'other endpoints are not affected');
  t.same([...b.limited()], ['e']);
  t.equal(b.openCount, 1);
  now += BREAKER_COOLDOWN_MS;
  t.equal(b.slots('e', 8), 1, 'half-open: one probe');
  t.equal(b.record('e', true), 'opened', 'a probe that times out reopens it');
  t.equal(b.slots('e', 8), 0);
  now += BREAKER_COOLDOWN_MS;
  t.equal(b.slots('e', 8), 0, 'the second cool-down is twice as long');
  now += BREAKER_COOLDOWN_MS;
  t.equal(b.slots('e', 8), 1);
  t.equal(b.record('e', false), 'closed', 'an answered probe closes it');
  t.equal(b.slots('e', 8), 8);
  t.same([...b.limited()], []);
});

t.test('the cool-down stops growing at its maximum', async (t) => {
  let now = 0;
  const b = new EndpointBreakers(() => now);
  for (let i = 0; i < BREAKER_THRESHOLD; i++) b.record('e', true);
  for (let i = 0; i < 20; i++) {
    now += BREAKER_MAX_COOLDOWN_MS;
    t.equal(b.slots('e', 4), 1);
    b.record('e', true);
  }
  now += BREAKER_MAX_COOLDOWN_MS - 1;
  t.equal(b.slots('e', 4), 0);
  now += 1;
  t.equal(b.slots('e', 4), 1);
});

import t from 'tap';
import { DEFAULT_RETRY_SCHEDULE, nextDelay, parseRetryAfter, parseRetrySchedule } from '../../src/events/backoff.js';
import { loadConfig } from '../../src/config.js';

t.test('retry schedule', async (t) => {
  t.same(parseRetrySchedule('500ms, 5s,2m,1h,1d,250'), [500, 5000, 120_000, 3_600_000, 86_400_000, 250]);
  t.throws(() => parseRetrySchedule(''), /at least one/);
  t.throws(() => parseRetrySchedule('5s,soon'), /"soon"/);
  const def = parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);
  const hours = def.reduce((a, b) => a + b, 0) / 3_600_000;
  t.ok(hours > 60 && hours < 80, `default spans about three days (${hours.toFixed(1)} h)`);

  t.equal(nextDelay([1000, 2000], 1, () => 0.5), 1000);
  t.equal(nextDelay([1000, 2000], 2, () => 0), 1600, '-20 % jitter');
  t.equal(nextDelay([1000, 2000], 2, () => 1), 2400, '+20 % jitter');
  t.equal(nextDelay([1000, 2000], 3), undefined, 'exhausted: dead-letter');

  t.equal(loadConfig({ WEBHOOK_RETRY_SCHEDULE: '1s,2s' }).webhookRetrySchedule.length, 2);
  t.throws(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: 'whenever' }), /WEBHOOK_RETRY_SCHEDULE/);
});

t.test('Retry-After (RFC 9110 §10.2.3)', async (t) => {
  t.equal(parseRetryAfter('120'), 120_000);
  const now = Date.parse('2025-01-01T00:00:00Z');
  t.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  t.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0, 'a past date means now');
  t.equal(parseRetryAfter('soonish'), undefined);
  t.equal(parseRetryAfter(null), undefined);
});

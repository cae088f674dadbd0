/**
 * The embedded database's data-directory guard (src/db/data-dir-lock.ts),
 * with real server processes on one directory: a leftover pid file naming a
 * live, unrelated process blocks nothing; a second live Roster is refused;
 * after kill -9 in the middle of writes, a restart takes the directory over
 * and every user whose create was acknowledged is there.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DataDirInUseError, LOCK_SOCKET, lockDataDir } from '../../src/db/data-dir-lock.js';
import { user } from '../helpers/app.js';
import { get, ServerProcess } from '../helpers/server.js';

t.test('one Roster per data directory, and nothing stale keeps a restart out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATA_DIR: dir, METRICS_ENABLED: 'false' };

  // The old guard's file, naming a process that is alive but is not Roster (this test runner).
  writeFileSync(join(dir, 'roster.pid'), String(process.pid));
  const first = await ServerProcess.start(t, env);
  const banner = await first.waitFor((l) => l.msg === 'Roster is running');
  const token = banner.scimBearerToken as string;
  t.ok(token, 'started despite a pid file naming a live process');

  const second = await ServerProcess.start(t, env, { wait: false });
  const refused = await second.exited;
  t.equal(refused.code, 1, 'a second Roster on the same directory is refused');
  t.match(second.output.join(''), new RegExp(`in use by process ${first.proc.pid}\\b`), 'naming the process that has it');
  t.equal((await get(first.port, '/readyz')).status, 200, 'and the first one keeps serving');

  // Writes in flight when the process is killed: count what was acknowledged.
  const acknowledged: string[] = [];
  let stop = false;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const res = await fetch(`${first.url}/scim/v2/default/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(user(`w${w}-${i}@example.com`)),
      }).catch(() => undefined);
      if (!res) return;
      if (res.status === 201) acknowledged.push(((await res.json()) as { id: string }).id);
    }
  };
  const writers = Array.from({ length: 6 }, (_, w) => writer(w));
  while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 20));
  first.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(writers);
  t.equal((await first.exited).signal, 'SIGKILL');

  const restarted = await ServerProcess.start(t, env);
  t.ok(restarted.port, 'the restart takes over the directory the killed process held');
  const listed = JSON.parse((await get(restarted.port, '/scim/v2/default/Users?count=1000&attributes=id', { authorization: `Bearer ${token}` })).body);
  const found = new Set((listed.Resources as { id: string }[]).map((r) => r.id));
  const lost = acknowledged.filter((id) => !found.has(id));
  t.same(lost, [], `all ${acknowledged.length} acknowledged users survived kill -9 (${listed.totalResults} stored)`);
  t.equal((await restarted.stop()).code, 0);
});

t.test('processes starting together on a stale lock: exactly one takes it over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, LOCK_SOCKET);
  for (let round = 0; round < 5; round++) {
    // A socket file whose owner died without closing it (kill -9).
    const owner = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => owner.stdout.once('data', r));
    owner.kill('SIGKILL');
    await new Promise((r) => owner.once('exit', r));
    t.ok(existsSync(socket), `round ${round}: the stale socket file is left behind`);

    const attempts = await Promise.allSettled([lockDataDir(dir), lockDataDir(dir), lockDataDir(dir)]);
    const won = attempts.filter((a): a is PromiseFulfilledResult<() => void> => a.status === 'fulfilled');
    const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    t.equal(won.length, 1, `round ${round}: one lock`);
    t.ok(lost.every((a) => a.reason instanceof DataDirInUseError), 'the others are told the directory is in use');
    won[0]?.value();
    t.notOk(existsSync(socket), 'releasing removes the socket');
  }
});

/**
 * The embedded database's data-directory guard (src/db/data-dir-lock.ts)
 * when several openers race for a stale lock. The process-level cases (a pid
 * file naming a live process, a second Roster, kill -9 during writes) are in
 * test/ops/first-start.test.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DataDirInUseError, LOCK_SOCKET, lockDataDir } from '../../src/db/data-dir-lock.js';

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

/**
 * A snapshot of the last commit to benchmark, in the temp directory: the
 * committed tree (`git archive HEAD`), this work tree's bench/ on top (the
 * bench's own latest code), and a symlink to node_modules. The whole run —
 * seed, migrations, server — happens there, so what is measured is exactly
 * the commit reported, whatever is half-edited in the work tree.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SNAPSHOT_ENV = 'ROSTER_BENCH_SNAPSHOT';
export const HOME_ENV = 'ROSTER_BENCH_HOME';

/** When running inside a snapshot: the commit and the work tree it came from. */
export function snapshotInfo(): { commit: string; home: string } | undefined {
  const commit = process.env[SNAPSHOT_ENV];
  const home = process.env[HOME_ENV];
  return commit && home ? { commit, home } : undefined;
}

export function prepareSnapshot(home: string): { dir: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: home, encoding: 'utf8' }).trim();
  const dir = path.join(os.tmpdir(), `roster-bench-${commit.slice(0, 12)}`);
  if (!existsSync(path.join(dir, 'package.json'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive HEAD | tar -x -C '${dir}'`], { cwd: home });
    symlinkSync(path.join(home, 'node_modules'), path.join(dir, 'node_modules'));
  }
  // The bench's own files as they are now (results and builds stay where they are).
  cpSync(path.join(home, 'bench'), path.join(dir, 'bench'), {
    recursive: true,
    filter: (src) => !/\/bench\/(results|\.build)(\/|$)/.test(src),
  });
  return { dir, commit };
}

/** Run `bench/run.ts argv` inside the snapshot; resolves with its exit code. */
export function runInSnapshot(home: string, argv: string[], log: (l: string) => void): Promise<number> {
  const { dir, commit } = prepareSnapshot(home);
  log(`bench: running commit ${commit.slice(0, 7)} from a snapshot in ${dir}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...argv], {
      cwd: dir,
      stdio: 'inherit',
      env: { ...process.env, [SNAPSHOT_ENV]: commit, [HOME_ENV]: home },
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

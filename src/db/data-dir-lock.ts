/**
 * The guard that keeps two processes from opening one PGlite data directory
 * (it is a Postgres cluster without a postmaster to arbitrate).
 *
 * A pid file cannot tell a live owner from a recycled pid: after a crash a
 * container usually restarts with the same pid, a rebooted laptop hands the
 * pid to another program. Node has no flock(), so the lock is a Unix socket
 * the owner listens on: the kernel closes it the moment the owner dies
 * (kill -9, crash, zombie), whatever becomes of its pid. Another process
 * finds a live owner by connecting; a socket file nobody listens on is stale
 * and taken over. Taking over a stale file is serialised by a mkdir mutex,
 * so two processes starting together cannot both win.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_SOCKET = 'roster.sock';
/** The guard of earlier versions; removed when found, never trusted. */
const LEGACY_PID_FILE = 'roster.pid';
/** sun_path holds 108 bytes on Linux, 104 on macOS. */
const MAX_SOCKET_PATH = 100;
/** A takeover mutex older than this was left by a process that died within the few milliseconds it is held. */
const STALE_MUTEX_MS = 10_000;

export class DataDirInUseError extends Error {
  constructor(dataDir: string, owner: string) {
    super(`The embedded database in ${dataDir} is in use by ${owner}. Stop it first, or use the CLI against it (roster --help: it talks to the running server).`);
    this.name = 'DataDirInUseError';
  }
}

/** Lock `dataDir` for this process; resolves to the release function. */
export async function lockDataDir(dataDir: string): Promise<() => void> {
  rmSync(join(dataDir, LEGACY_PID_FILE), { force: true });
  const path = socketPath(dataDir);
  const server = createServer((conn) => conn.end(`${process.pid}\n`));
  server.unref();
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await listen(server, path)) return () => server.close();
    const owner = await probe(path);
    if (owner !== null) throw new DataDirInUseError(dataDir, owner ? `process ${owner}` : 'another process');
    // Nobody listens: the file is stale. Remove it under the mutex, then try to listen again.
    await removeStale(dataDir, path);
  }
  throw new Error(`could not lock ${dataDir}`);
}

/**
 * The socket inside the data directory, so every process that can open the
 * directory (another container on the same volume too) finds it. A path too
 * long for a socket address is shortened relative to the working directory,
 * or else moved to the temporary directory under a hash of the real path.
 */
function socketPath(dataDir: string): string {
  const inDir = join(dataDir, LOCK_SOCKET);
  if (Buffer.byteLength(inDir) <= MAX_SOCKET_PATH) return inDir;
  const rel = relative(process.cwd(), inDir);
  if (Buffer.byteLength(rel) <= MAX_SOCKET_PATH) return rel;
  const id = createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 24);
  return join(tmpdir(), `roster-${id}.sock`);
}

function listen(server: Server, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') resolve(false);
      else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

/** The owner's pid ('' if it did not say) when someone listens on `path`; null when nobody does. */
function probe(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    let said = '';
    const socket = connect(path);
    socket.setEncoding('utf8');
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (chunk: string) => (said += chunk));
    socket.on('connect', () => socket.once('close', () => resolve(said.trim())));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? null : ''));
  });
}

async function removeStale(dataDir: string, path: string): Promise<void> {
  const mutex = join(dataDir, `${LOCK_SOCKET}.takeover`);
  try {
    mkdirSync(mutex);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (Date.now() - mtimeMs(mutex) > STALE_MUTEX_MS) rmSync(mutex, { recursive: true, force: true });
    else await sleep(20);
    return;
  }
  try {
    // Check again while holding the mutex: another process may have taken over meanwhile.
    if ((await probe(path)) === null) unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    rmSync(mutex, { recursive: true, force: true });
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}

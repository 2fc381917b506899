// Shared pieces of the engine benchmarks: run harness (clean-up on error, signal or timeout), the
// emulator as a child process, the app's users table and mapping, seeding, statistics and the result file.

import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url));

// Captured at load: bench/lib/instrument.mjs may wrap globalThis.fetch for the SDK; control calls stay out of it.
const nativeFetch = globalThis.fetch;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `parseArgs` over string flags with defaults; answers numbers where the default is a number. */
export function flags(spec) {
  const options = {};
  for (const [name, def] of Object.entries(spec)) {
    options[name] = typeof def === 'boolean' ? { type: 'boolean', default: def } : { type: 'string' };
  }
  const { values } = parseArgs({ options, strict: true });
  const out = {};
  for (const [name, def] of Object.entries(spec)) {
    const given = values[name];
    if (typeof def === 'boolean') out[name] = given;
    else if (given === undefined) out[name] = def;
    else if (typeof def === 'number') {
      const n = Number(given);
      if (!Number.isFinite(n) || n < 0)
        throw new Error(`--${name} must be a non-negative number (got ${given})`);
      out[name] = n;
    } else out[name] = given;
  }
  return out;
}

/**
 * Runs `main(h)` with a time budget. `h.defer(fn)` registers clean-up (run in reverse order at the
 * end, also on error, SIGINT/SIGTERM or when the budget runs out); `h.check()` throws once the budget
 * is spent; `h.track(pid)` marks a child process to be SIGKILLed if this process exits without clean-up.
 */
export async function runBench(name, timeoutSeconds, main) {
  if (!existsSync(BIN)) {
    console.error(`${name}: dist/ is missing; run \`npm run build\` first`);
    process.exitCode = 2;
    return;
  }
  const cleanups = [];
  const children = new Set();
  const deadline = Date.now() + timeoutSeconds * 1000;
  let cleaning = null;
  const cleanup = () => {
    cleaning ??= (async () => {
      while (cleanups.length > 0) {
        const fn = cleanups.pop();
        try {
          await Promise.race([
            fn(),
            sleep(20_000).then(() => Promise.reject(new Error('clean-up timed out'))),
          ]);
        } catch (error) {
          console.error(`${name}: clean-up step failed: ${error?.message ?? error}`);
        }
      }
    })();
    return cleaning;
  };
  const killChildren = () => {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  process.on('exit', killChildren);
  const onSignal = (signal) => {
    console.error(`${name}: ${signal}, cleaning up`);
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Hard bound: whatever main is waiting on, clean up and leave.
  const hardTimer = setTimeout(
    () => {
      console.error(`${name}: time budget of ${timeoutSeconds} s exceeded, aborting`);
      cleanup().finally(() => process.exit(3));
    },
    timeoutSeconds * 1000 + 30_000,
  );
  hardTimer.unref();

  const h = {
    deadline,
    defer: (fn) => cleanups.push(fn),
    track: (pid) => children.add(pid),
    untrack: (pid) => children.delete(pid),
    check() {
      if (Date.now() > deadline) throw new Error(`${name}: time budget of ${timeoutSeconds} s exceeded`);
    },
    /** Polls `probe()` until it answers truthy; throws past `timeoutMs` or the budget. */
    async waitFor(
      probe,
      { intervalMs = 200, timeoutMs = Number.POSITIVE_INFINITY, what = 'condition' } = {},
    ) {
      const until = Math.min(deadline, Date.now() + timeoutMs);
      for (;;) {
        const value = await probe();
        if (value) return value;
        if (Date.now() > until) throw new Error(`${name}: timed out waiting for ${what}`);
        await sleep(intervalMs);
      }
    },
  };
  try {
    await main(h);
  } catch (error) {
    console.error(`${name}: failed:`, error);
    process.exitCode = 1;
  } finally {
    await cleanup();
    clearTimeout(hardTimer);
    process.off('exit', killChildren);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Spawns `workos-migrate emulator --port 0 --json <args>` (loopback) and resolves with its JSON line
 * `{ url, apiKey, clientId }`, its pid and an idempotent stop() (SIGTERM, SIGKILL after 5 s).
 */
export async function startEmulatorChild(h, args) {
  const child = spawn(
    process.execPath,
    [BIN, 'emulator', '--host', '127.0.0.1', '--port', '0', '--json', ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  h.track(child.pid);
  nameChild(child.pid, 'emulator');
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    h.untrack(child.pid);
  };
  h.defer(stop);
  const info = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`emulator exited (${code ?? signal}) before it started`)),
    );
  });
  /** A control-plane or API call with the emulator's key; answers the parsed body, throws on non-2xx. */
  const call = async (method, path, body) => {
    const res = await nativeFetch(`${info.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${info.apiKey}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${path} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return { ...info, pid: child.pid, stop, call };
}

/** Requests the emulator answered with 2xx, and with 429, per its `GET /_emulator/counters`. */
export function countersSummary(counters) {
  let ok = 0;
  for (const [status, n] of Object.entries(counters.byStatus)) if (/^2/.test(status)) ok += n;
  const total = Object.values(counters.byStatus).reduce((a, b) => a + b, 0);
  return { answered: total, ok, rateLimited: counters.byStatus['429'] ?? 0, byStatus: counters.byStatus };
}

// ---------------------------------------------------------------------------------------------------
// The app: a users table like test/helpers/app.ts, with postgres.js through drizzle-orm/postgres-js.

export const USERS_DDL = (table) => `CREATE TABLE IF NOT EXISTS ${table} (
  id serial PRIMARY KEY,
  email text,
  first_name text,
  last_name text,
  email_verified boolean NOT NULL DEFAULT false,
  password_hash text,
  disabled boolean NOT NULL DEFAULT false,
  plan text
)`;

/** Drizzle table + mapping for a users table named `table` (defineUsersMapping, as an app would). */
export async function usersMapping(table = 'users') {
  const { boolean, pgTable, serial, text } = await import('drizzle-orm/pg-core');
  const { defineUsersMapping } = await import('workos-migrate');
  const { workosUserId } = await import('workos-migrate/drizzle');
  const users = pgTable(table, {
    id: serial('id').primaryKey(),
    email: text('email'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    emailVerified: boolean('email_verified').notNull().default(false),
    passwordHash: text('password_hash'),
    disabled: boolean('disabled').notNull().default(false),
    plan: text('plan'),
    workosUserId: workosUserId(),
  });
  return defineUsersMapping({
    table: users,
    id: users.id,
    email: users.email,
    firstName: users.firstName,
    lastName: users.lastName,
    emailVerified: users.emailVerified,
    passwordHash: users.passwordHash,
    disabled: users.disabled,
    metadata: { plan: users.plan },
  });
}

/** A postgres.js pool and its Drizzle database; closed by the harness. */
export async function connect(h, url, max = 10) {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const client = postgres(url, { max, onnotice: () => {} });
  h.defer(() => client.end({ timeout: 5 }));
  return { client, db: drizzle(client) };
}

/** One bcrypt hash shared by every seeded user: the backfill sends it, as a real migration would. */
export async function bcryptHash() {
  const { default: bcrypt } = await import('bcryptjs');
  return bcrypt.hashSync('correct horse battery staple', 10);
}

/**
 * Inserts users `from`..`from + count - 1` (ids follow the serial) in one statement per 50,000, so a
 * seed of 500,000 takes seconds. Verified emails, names, a bcrypt hash and a `plan` metadata column.
 */
export async function seedUsers(client, { table = 'users', count, hash, tag = 'u' }) {
  for (let done = 0; done < count; done += 50_000) {
    const n = Math.min(50_000, count - done);
    await client.unsafe(
      `INSERT INTO ${table} (email, first_name, last_name, email_verified, password_hash, plan)
       SELECT '${tag}' || g || '-' || md5(random()::text) || '@example.com', 'First' || g, 'Last' || g, true, $1, 'free'
       FROM generate_series(1, $2::int) AS g`,
      [hash, n],
    );
  }
}

export function engineConfig(mapping, db, emulator, worker) {
  return {
    db,
    users: mapping,
    workos: { apiKey: emulator.apiKey, clientId: emulator.clientId, apiUrl: emulator.url },
    externalIdPrefix: 'app_',
    worker,
  };
}

// ---------------------------------------------------------------------------------------------------
// Statistics and output.

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const fmtInt = (x) => Math.round(x).toLocaleString('en-US');
export const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
export const pass = (ok) => (ok ? 'met' : '**not met**');

/** How this benchmark was run, for the result file. */
export function commandLine() {
  const script = process.argv[1]?.replace(/.*\/bench\//, 'bench/') ?? '';
  return ['node', script, ...process.argv.slice(2)].join(' ');
}

export function machineLines(extra = []) {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model ?? 'unknown'} (${cpus.length} cores)`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node: ${process.version}`,
    ...extra,
    `- Load average (1 min) at the end: ${os.loadavg()[0]?.toFixed(2)}`,
    `- Date: ${new Date().toISOString()}`,
  ];
}

/** Prints the markdown and writes it to bench/results/<name>.md. */
export async function writeResult(name, markdown) {
  process.stdout.write(markdown);
  await mkdir(new URL('../results/', import.meta.url), { recursive: true });
  await writeFile(new URL(`../results/${name}.md`, import.meta.url), markdown);
}

/** PostgreSQL's version string (first two words), for the result file. */
export async function serverVersion(client) {
  const [row] = await client.unsafe('SHOW server_version');
  return row.server_version;
}

/** A fresh database on the server (one per phase, so phases never see each other's rows). */
export async function createDatabase(adminUrl, name) {
  const { default: postgres } = await import('postgres');
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A fresh database with the users table, `count` users that predate the install (as in a real
 * migration: the backfill, not the trigger, picks them up) and the library installed.
 */
export async function setupApp(h, adminUrl, name, { count, hash, pool = 20, textIdIndex = false }) {
  const url = await createDatabase(adminUrl, name);
  const { client, db } = await connect(h, url, pool);
  await client.unsafe(USERS_DDL('users'));
  // The engine looks users up by `id::text = $1`, which the primary key cannot serve (a sequential
  // scan per lookup); an expression index on id::text is the app-side workaround.
  if (textIdIndex) await client.unsafe('CREATE INDEX users_id_text_idx ON users ((id::text))');
  await seedUsers(client, { count, hash });
  const mapping = await usersMapping('users');
  const { install } = await import('workos-migrate/drizzle');
  await install(db, mapping);
  await client.unsafe('ANALYZE');
  return { url, client, db, mapping };
}

/** Jiffies of all CPUs from /proc/stat: [busy, total], or null without procfs. */
function cpuJiffies() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.reduce((a, b) => a + b, 0);
    return [total - idle, total];
  } catch {
    return null;
  }
}

/** Machine-wide CPU busy share between start() and read(), to tell a run on a shared, busy machine. */
export function cpuMeter() {
  const start = cpuJiffies();
  return () => {
    const end = cpuJiffies();
    if (!start || !end || end[1] === start[1]) return Number.NaN;
    return (end[0] - start[0]) / (end[1] - start[1]);
  };
}

/**
 * Waits (at most `maxSeconds`) until the machine is mostly idle: other work on a small machine moves
 * every figure here. Answers the busy share seen last, so the result file can say what it ran beside.
 */
export async function waitForQuiet({ maxSeconds = 120, busyBelow = 0.25 } = {}) {
  const until = Date.now() + maxSeconds * 1000;
  let busy = Number.NaN;
  let quietWindows = 0;
  while (Date.now() < until) {
    const read = cpuMeter();
    await sleep(2000);
    busy = read();
    if (!Number.isFinite(busy)) return busy;
    quietWindows = busy < busyBelow ? quietWindows + 1 : 0;
    if (quietWindows >= 2) return busy;
  }
  console.error(`machine still ${(busy * 100).toFixed(0)}% busy after ${maxSeconds} s; running anyway`);
  return busy;
}

/**
 * CPU seconds used so far by this process and its descendants (PostgreSQL, the emulator, a worker
 * child), via procfs, grouped: `this process`, `postgres`, and each other child by its command.
 */
function treeCpuSeconds() {
  const hz = 100; // USER_HZ on Linux
  const procs = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Fields after the command name (which may hold spaces) start at state, field 3.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime = fields 14-17 -> indexes 11-14 here.
      const seconds =
        (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / hz;
      procs.set(Number(entry), { parent: Number(fields[1]), comm, seconds });
    } catch {
      // exited meanwhile
    }
  }
  const groups = { total: 0 };
  for (const [pid, info] of procs) {
    // The group is named by our direct child it descends from.
    let child = pid;
    let p = pid;
    while (p > 1 && p !== process.pid) {
      child = p;
      p = procs.get(p)?.parent ?? 0;
    }
    if (p !== process.pid && pid !== process.pid) continue;
    const group =
      pid === process.pid
        ? 'this process'
        : info.comm === 'postgres'
          ? 'postgres'
          : (childNames.get(child) ?? procs.get(child)?.comm ?? 'child');
    groups[group] = (groups[group] ?? 0) + info.seconds;
    groups.total += info.seconds;
  }
  return groups;
}

/** Names for child processes in the CPU breakdown (`emulator`, `worker`), by pid. */
const childNames = new Map();
export function nameChild(pid, name) {
  childNames.set(pid, name);
}

/**
 * Measures a phase: wall time, CPU used by this benchmark's process tree and by the whole machine.
 * `read()` answers `{ seconds, ownCores, otherCores, groups }`: cores' worth of CPU used by us and by
 * anything else on the machine (other users' tests on a shared box) during the phase, and our CPU
 * seconds per group (this process, postgres, emulator, ...).
 */
export function loadMeter() {
  const cores = os.cpus().length;
  const machine = cpuMeter();
  const own0 = treeCpuSeconds();
  const t0 = Date.now();
  return () => {
    const seconds = (Date.now() - t0) / 1000;
    const busy = machine();
    const own1 = treeCpuSeconds();
    const groups = {};
    for (const [key, value] of Object.entries(own1)) {
      if (key !== 'total') groups[key] = value - (own0[key] ?? 0);
    }
    const own = (own1.total - own0.total) / seconds;
    return { seconds, ownCores: own, otherCores: Math.max(0, busy * cores - own), groups };
  };
}

export const fmtLoad = (load) =>
  `this benchmark used ${load.ownCores.toFixed(2)} cores (${Object.entries(load.groups)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(
      ', ',
    )}), other processes on the machine ${load.otherCores.toFixed(2)} cores (of ${os.cpus().length})`;

// ---------------------------------------------------------------------------------------------------
// The CLI as an operator runs it: a working directory with a config file, a subprocess, its peak RSS.

const CLI_CONFIG = `import { boolean, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { defineConfig, defineUsersMapping } from 'workos-migrate';
import { workosUserId } from 'workos-migrate/drizzle';

const users = pgTable('users', {
  id: serial('id').primaryKey(),
  email: text('email'),
  firstName: text('first_name'),
  lastName: text('last_name'),
  emailVerified: boolean('email_verified').notNull().default(false),
  passwordHash: text('password_hash'),
  disabled: boolean('disabled').notNull().default(false),
  plan: text('plan'),
  workosUserId: workosUserId(),
});

export default defineConfig({
  users: defineUsersMapping({
    table: users, id: users.id, email: users.email, firstName: users.firstName, lastName: users.lastName,
    emailVerified: users.emailVerified, passwordHash: users.passwordHash, disabled: users.disabled,
    metadata: { plan: users.plan },
  }),
  externalIdPrefix: 'app_',
});
`;

export function vmHwmKiB(pid) {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** A temporary working directory with workos-migrate.config.mjs and the package linked in node_modules. */
export function cliWorkdir(h, prefix) {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  h.defer(async () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'workos-migrate'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'drizzle-orm'), join(dir, 'node_modules', 'drizzle-orm'), 'dir');
  writeFileSync(join(dir, 'workos-migrate.config.mjs'), CLI_CONFIG);
  return dir;
}

/** Runs `workos-migrate <args>` in `dir` with `env` added; answers its exit code, stdout, wall time and peak RSS. */
export async function runCli(h, dir, args, env) {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  h.track(child.pid);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
  });
  let peakKiB = 0;
  const sampler = setInterval(() => {
    peakKiB = Math.max(peakKiB, vmHwmKiB(child.pid) ?? 0);
  }, 200);
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearInterval(sampler);
  h.untrack(child.pid);
  return { code, stdout, wallSeconds: (Date.now() - started) / 1000, peakKiB };
}

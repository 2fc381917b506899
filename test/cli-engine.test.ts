// The engine commands through the built binary (`node dist/cli/bin.js`, built by `npm test`), as an
// operator runs them: a temp directory holding a TypeScript `workos-migrate.config.ts` without `db`
// (so DATABASE_URL is used), a real PostgreSQL database and the emulator.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { drizzle } from 'drizzle-orm/postgres-js';
import Fastify from 'fastify';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DrizzleDatabase } from 'workos-migrate';
import { installedState } from 'workos-migrate/drizzle';
import workosMigrate from 'workos-migrate/fastify';
import { mapping, usersDdl } from './helpers/app.js';
import { createRole, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/bin.js');
const USERS = 50;

// The same mapping as test/helpers/app.ts, so installedState(db, mapping) can be checked from here.
const CONFIG = `import { boolean, pgTable, serial, text } from 'drizzle-orm/pg-core';
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

const retries: number = 50; // a type annotation: this file really is TypeScript

export default defineConfig({
  users: defineUsersMapping({
    table: users,
    id: users.id,
    email: users.email,
    firstName: users.firstName,
    lastName: users.lastName,
    emailVerified: users.emailVerified,
    passwordHash: users.passwordHash,
    disabled: users.disabled,
    metadata: { plan: users.plan },
  }),
  externalIdPrefix: 'app_',
  worker: { pollMs: 20, leaseMs: 3_000, leaderLeaseMs: 600, retryBaseMs: retries },
});
`;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

let database: TestDatabase;
let client: postgres.Sql;
let db: DrizzleDatabase;
let t: TestEmulator;
let dir: string;
let emptyDir: string;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

function start(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? dir,
    env: options.env ?? env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  if (options.input !== undefined) child.stdin?.end(options.input);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const finished = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, finished, stderr: () => stderr };
}

const run = (args: string[], options?: Parameters<typeof start>[1]) => start(args, options).finished;

/** The convention: exactly one line on stderr, prefixed with the program name. */
function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^workos-migrate: /);
  return lines[0] ?? '';
}

function json<T = Record<string, unknown>>(r: Finished): T {
  const lines = r.stdout.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  return JSON.parse(lines[0] ?? '') as T;
}

async function writes(): Promise<number> {
  const { byRoute } = t.emulator.control.counters();
  return Object.entries(byRoute)
    .filter(([route]) => !route.startsWith('GET '))
    .reduce((a, [, n]) => a + n, 0);
}

async function waitFor(probe: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  client = postgres(database.url, { max: 2, onnotice: () => {} });
  db = drizzle(client) as unknown as DrizzleDatabase;
  await client.unsafe(usersDdl);
  const hash = bcrypt.hashSync('password-1', 4);
  for (let i = 1; i <= USERS; i++) {
    await client`INSERT INTO users (email, first_name, last_name, email_verified, password_hash)
      VALUES (${`user${i}@example.com`}, ${`First${i}`}, ${`Last${i}`}, ${i % 2 === 0},
              ${i === USERS ? '5f4dcc3b5aa765d61d8327deb882cf99' : hash})`;
  }
  // The login test checks the imported password, not email verification (on by default in WorkOS).
  t = await startTestEmulator({ requireEmailVerification: false });

  dir = mkdtempSync(join(tmpdir(), 'wm-cli-'));
  // What an app's node_modules would hold: this package and drizzle-orm.
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'workos-migrate'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'drizzle-orm'), join(dir, 'node_modules', 'drizzle-orm'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'pg'), join(dir, 'node_modules', 'pg'), 'dir');
  writeFileSync(join(dir, 'workos-migrate.config.ts'), CONFIG);
  emptyDir = mkdtempSync(join(tmpdir(), 'wm-cli-empty-'));

  const {
    DATABASE_URL: _d,
    WORKOS_API_KEY: _k,
    WORKOS_CLIENT_ID: _c,
    WORKOS_API_URL: _u,
    MIGRATION_IN_PROGRESS: _f,
    WORKOS_ROLLOUT_PERCENT: _r,
    UNLEASH_URL: _uu,
    UNLEASH_API_TOKEN: _ut,
    ...rest
  } = process.env;
  env = {
    ...rest,
    DATABASE_URL: database.url,
    WORKOS_API_URL: t.emulator.url,
    WORKOS_API_KEY: t.emulator.apiKey,
    WORKOS_CLIENT_ID: t.emulator.clientId,
  };
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

afterAll(async () => {
  await client?.end({ timeout: 5 });
  await t?.close();
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (emptyDir) rmSync(emptyDir, { recursive: true, force: true });
});

describe('configuration errors: one line naming the setting, exit 2', () => {
  it('no config file in the directory', async () => {
    const r = await run(['status'], { cwd: emptyDir });
    expect(r.code).toBe(2);
    const line = oneErrorLine(r.stderr);
    expect(line).toContain('workos-migrate.config.ts');
    expect(line).toContain('--config');
    expect(r.stdout).toBe('');
  });

  it('--config pointing nowhere', async () => {
    const r = await run(['status', '--config', 'nope.config.ts']);
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toContain('--config "nope.config.ts"');
  });

  it('DATABASE_URL that is not a URL, or that nothing answers', async () => {
    let r = await run(['status'], { env: { ...env, DATABASE_URL: 'not a url' } });
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toContain('DATABASE_URL');
    r = await run(['status'], { env: { ...env, DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/x' } });
    expect(r.code).toBe(2);
    const line = oneErrorLine(r.stderr);
    expect(line).toContain('DATABASE_URL');
    expect(line).not.toContain('secret');
  });

  it('a command that calls WorkOS without WORKOS_API_KEY', async () => {
    const { WORKOS_API_KEY: _k, ...noKey } = env;
    const r = await run(['import'], { env: noKey });
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toContain('WORKOS_API_KEY');
  });

  it('a bad flag value', async () => {
    const r = await run(['import', '--rate', 'fast']);
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toContain('--rate');
  });
});

describe('a migration from install to uninstall', () => {
  it('install --print writes drizzle-kit SQL and touches nothing', async () => {
    const r = await run(['install', '--print']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--> statement-breakpoint');
    expect(r.stdout).toContain('CREATE TRIGGER workos_migrate_capture');
    expect(r.stdout).toContain('pg_advisory_xact_lock');
    const [row] = await client`SELECT to_regclass('workos_migrate.outbox') IS NULL AS absent`;
    expect(row?.absent).toBe(true);
  });

  it('import --dry-run reports a duplicate email and an md5 hash, and writes nothing to WorkOS', async () => {
    await client`INSERT INTO users (id, email, password_hash) VALUES (1000, ' USER7@Example.com ', NULL), (1001, 'not-an-email', NULL), (1002, NULL, NULL)`;
    const before = await writes();
    const r = await run(['import', '--dry-run', '--check-workos', '5', '--json']);
    expect(r.code, r.stderr).toBe(1); // users that would be dead-lettered
    const report = json<{
      users: number;
      emails: {
        missing: { count: number; ids: string[] };
        invalid: { count: number; examples: { id: string }[] };
        duplicates: { groups: number; examples: { email: string; ids: string[] }[] };
      };
      hashes: {
        convertible: number;
        unsupported: number;
        noPassword: number;
        formats: Record<string, number>;
      };
      estimate: { writes: number; seconds: number };
      workos: { sampled: number; notFound: number };
      wouldFail: number;
    }>(r);
    expect(report.users).toBe(USERS + 3);
    expect(report.emails.duplicates.groups).toBe(1);
    expect(report.emails.duplicates.examples[0]).toEqual({ email: 'user7@example.com', ids: ['7', '1000'] });
    expect(report.emails.invalid.count).toBe(1);
    expect(report.emails.invalid.examples[0]?.id).toBe('1001');
    expect(report.emails.missing).toEqual({ count: 1, ids: ['1002'] });
    expect(report.hashes.convertible).toBe(USERS - 1);
    expect(report.hashes.unsupported).toBe(1);
    expect(report.hashes.formats.md5).toBe(1);
    expect(report.hashes.noPassword).toBe(3);
    expect(report.estimate.writes).toBe(USERS + 3);
    expect(report.workos).toMatchObject({ sampled: 5, notFound: 5 });
    expect(report.wouldFail).toBe(3);

    const human = await run(['import', '--dry-run']);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('"user7@example.com" (ids 7, 1000)');
    expect(human.stdout).toMatch(/not convertible\s+1/);
    expect(human.stdout).toContain('md5 1');
    expect(human.stdout).toContain('nothing was written to WorkOS');

    expect(await writes()).toBe(before);
    expect(t.emulator.control.userCount()).toBe(0);
    await client`DELETE FROM users WHERE id >= 1000`;
  });

  it('install applies the engine install', async () => {
    const r = await run(['install', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ installed: true, state: 'current' });
    expect((await installedState(db, mapping)).state).toBe('current');
    // Twice is fine.
    expect((await run(['install'])).code).toBe(0);
  });

  it('install --app-role / --worker-role report what each role can do; --worker-role grants the worker', async () => {
    const appRole = await createRole(database, 'cli_app', (role) => [
      `GRANT SELECT, INSERT, UPDATE, DELETE ON users TO "${role}"`,
    ]);
    const workerRole = await createRole(database, 'cli_worker');
    const printed = await run(['install', '--print', '--worker-role', workerRole.role]);
    expect(printed.stdout).toContain(`GRANT USAGE ON SCHEMA workos_migrate TO "${workerRole.role}"`);
    expect(printed.stdout).toContain(
      `GRANT UPDATE ("workos_user_id") ON "public"."users" TO "${workerRole.role}"`,
    );
    const before = await run(['install', '--app-role', appRole.role, '--json']);
    expect(before.code, before.stderr).toBe(0);
    const report = json<{
      roles: { kind: string; role: string; writesUsers: string[]; workerMissing: string[] }[];
    }>(before);
    expect(report.roles).toEqual([
      {
        kind: 'app',
        role: appRole.role,
        writesUsers: ['INSERT', 'UPDATE', 'DELETE'],
        workerMissing: expect.arrayContaining([
          expect.stringContaining('GRANT USAGE ON SCHEMA workos_migrate'),
        ]),
      },
    ]);
    const granted = await run(['install', '--app-role', appRole.role, '--worker-role', workerRole.role]);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toContain(
      `Role ${appRole.role}: its INSERT/UPDATE/DELETE on the users table are captured (no grant on workos_migrate needed)`,
    );
    expect(granted.stdout).toContain(
      `Role ${workerRole.role}: it cannot write the users table; it can run the worker.`,
    );
    const missing = await run(['install', '--worker-role', 'nobody_here']);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing.stderr)).toContain('database role nobody_here does not exist');
  });

  it('a config whose db is a node-postgres pool: the command runs and the pool is ended', async () => {
    writeFileSync(
      join(dir, 'pg.config.ts'),
      CONFIG.replace(
        'export default defineConfig({',
        `import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
export default defineConfig({
  db: drizzle(new pg.Pool({ connectionString: process.env.DATABASE_URL })),`,
      ),
    );
    const r = await run(['status', '--json', '--config', 'pg.config.ts']);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ users: number }>(r).users).toBe(USERS);
  });

  it('import --limit, an interrupted import and a rerun bring every user into WorkOS exactly once', async () => {
    const limited = await run(['import', '--limit', '10', '--rate', '500', '--json']);
    expect(limited.code, limited.stderr).toBe(0);
    expect(json(limited)).toMatchObject({ enqueued: 10, done: 10, pending: 0, dead: {}, interrupted: false });
    expect(json<{ countedOver: unknown }>(limited).countedOver).toEqual({
      thisRun: ['enqueued', 'total', 'done', 'rateLimited', 'writes', 'seconds'],
      wholeOutbox: ['pending', 'dead', 'deletesAwaitingConfirmation', 'lastRechecks'],
    });
    expect(limited.stderr).toContain('pause your WorkOS webhook endpoints');
    expect(t.emulator.control.userCount()).toBe(10);

    // Slow enough to be stopped halfway: 40 users at 10 writes/s.
    const slow = start(['import', '--rate', '10', '--concurrency', '2']);
    await waitFor(() => t.emulator.control.userCount() >= 13);
    slow.child.kill('SIGINT');
    const interrupted = await slow.finished;
    expect(interrupted.code, interrupted.stderr).toBe(1);
    expect(interrupted.stdout).toContain('Interrupted (SIGINT)');
    expect(interrupted.stdout).toContain('run `workos-migrate import` again');
    const midway = t.emulator.control.userCount();
    expect(midway).toBeLessThan(USERS);
    // Piped stderr: periodic plain lines (at least the final one), never a redrawn bar.
    expect(interrupted.stderr).toMatch(/^import: \d+\/\d+ \(/m);
    expect(interrupted.stderr).not.toContain('\r');

    const rest = await run(['import', '--rate', '500', '--json']);
    expect(rest.code, rest.stderr).toBe(0);
    expect(json(rest)).toMatchObject({ pending: 0, dead: {}, interrupted: false });

    const remote = t.emulator.control.listUsers();
    expect(remote).toHaveLength(USERS);
    const externalIds = new Set(remote.map((u) => u.user.external_id));
    expect(externalIds.size).toBe(USERS);
    for (let i = 1; i <= USERS; i++) expect(externalIds.has(`app_${i}`)).toBe(true);
    expect(t.emulator.control.getUser('app_50')).toMatchObject({ hasPassword: false });
    expect(t.emulator.control.getUser('app_1')).toMatchObject({ hasPassword: true, passwordType: 'bcrypt' });
  });

  it('status --json gives the numbers; status prints them readably', async () => {
    const r = await run(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({
      users: USERS,
      synced: USERS,
      pending: { live: 0, backfill: 0 },
      dead: {},
      passwordStates: { synced: USERS - 1, login: 1 },
      deletesAwaitingConfirmation: 0,
    });
    const human = await run(['status']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/synced\s+50 \(100\.0%\)/);
    expect(human.stdout).toMatch(/password states\s+synced 49, login 1/);
    // Per source hash format: no shadow evidence yet, so the default gate keeps them on legacy.
    expect(json(r).formats).toEqual([
      expect.objectContaining({
        format: 'bcrypt',
        users: 49,
        shadowChecked: 0,
        ready: false,
        verdict: 'needs 20 more',
      }),
    ]);
    expect(human.stdout).toMatch(/format\s+users\s+shadow-checked\s+matched\s+mismatched\s+healed\s+verdict/);
    expect(human.stdout).toMatch(/bcrypt\s+49\s+0\s+0\s+0\s+0\s+needs 20 more/);
  });

  it('freeze and rollout set the stored flags, status shows them, a wrong source or value is refused', async () => {
    const frozen = await run(['freeze', 'on']);
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(frozen.stdout).toBe('Signups freeze: on (set by stored setting).\n');
    const ramped = await run(['rollout', '25', '--json']);
    expect(ramped.code, ramped.stderr).toBe(0);
    expect(json(ramped)).toMatchObject({ percent: 25, source: 'stored' });
    const status = json<{ freeze: { on: boolean; source: string }; rollout: { percent: number } }>(
      await run(['status', '--json']),
    );
    expect(status.freeze).toMatchObject({ on: true, source: 'stored' });
    expect(status.rollout.percent).toBe(25);
    expect((await run(['status'])).stdout).toMatch(
      /rollout\s+25% of logins to WorkOS \(set by stored setting\)/,
    );

    const wrongSource = await run(['rollout', '50', '--source', 'unleash']);
    expect(wrongSource.code).toBe(2);
    expect(oneErrorLine(wrongSource.stderr)).toMatch(/comes from the stored setting, not unleash/);
    const tooMuch = await run(['rollout', '101']);
    expect(tooMuch.code).toBe(2);
    expect(oneErrorLine(tooMuch.stderr)).toMatch(/whole percent from 0 to 100 \(got 101\)/);
    // Pinned by the environment: the setter names the variable instead of writing a value that does nothing.
    const pinned = await run(['freeze', 'off'], { env: { ...env, MIGRATION_IN_PROGRESS: 'true' } });
    expect(pinned.code).toBe(2);
    expect(oneErrorLine(pinned.stderr)).toMatch(/MIGRATION_IN_PROGRESS/);
    expect((await run(['freeze', 'off'])).code).toBe(0);
    expect((await run(['rollout', '0'])).code).toBe(0);
  });

  it("freeze and rollout --app-url go through a running app's admin routes (what an embedded database needs)", async () => {
    const token = 'cli-admin-token-0123456789';
    const server = Fastify();
    await server.register(workosMigrate, {
      db,
      users: mapping,
      externalIdPrefix: 'app_',
      workos: { apiKey: t.emulator.apiKey, clientId: t.emulator.clientId, apiUrl: t.emulator.url },
      worker: false,
      admin: { token },
    });
    const appUrl = await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const frozen = await run(['freeze', 'on', '--app-url', appUrl, '--token', token, '--json'], {
        cwd: emptyDir,
      });
      expect(frozen.code, frozen.stderr).toBe(0);
      expect(json(frozen)).toMatchObject({ on: true, source: 'stored' });
      expect(server.workosMigrate.flags.freeze().on).toBe(true);
      const ramped = await run(['rollout', '30', '--app-url', appUrl], {
        cwd: emptyDir,
        env: { ...env, WORKOS_MIGRATE_ADMIN_TOKEN: token },
      });
      expect(ramped.code, ramped.stderr).toBe(0);
      expect(ramped.stdout).toBe('Rollout: 30% of logins to WorkOS (set by stored setting).\n');
      // status --app-url reads the running app's own status route (no database opened here).
      const status = await run(['status', '--app-url', appUrl, '--token', token, '--json'], {
        cwd: emptyDir,
      });
      expect(status.code, status.stderr).toBe(0);
      const [users] = await client`SELECT count(*)::int AS n FROM users`;
      expect(json(status)).toMatchObject({ users: users?.n, freeze: { on: true }, rollout: { percent: 30 } });
      const readable = await run(['status', '--app-url', appUrl, '--token', token], { cwd: emptyDir });
      expect(readable.stdout).toMatch(/rollout\s+30%/);

      const wrongToken = await run(
        ['freeze', 'off', '--app-url', appUrl, '--token', 'not-the-token-at-all'],
        { cwd: emptyDir },
      );
      expect(wrongToken.code).toBe(2);
      expect(oneErrorLine(wrongToken.stderr)).toMatch(/refused --token \(401\)/);
      const wrongSource = await run(
        ['rollout', '50', '--source', 'unleash', '--app-url', appUrl, '--token', token],
        { cwd: emptyDir },
      );
      expect(wrongSource.code).toBe(2);
      expect(oneErrorLine(wrongSource.stderr)).toMatch(/comes from the stored setting, not unleash/);
      const nobody = await run(['freeze', 'off', '--app-url', 'http://127.0.0.1:9', '--token', token], {
        cwd: emptyDir,
      });
      expect(nobody.code).toBe(1);
      expect(oneErrorLine(nobody.stderr)).toMatch(/could not reach .* is the app running\?/);
    } finally {
      await server.close();
    }
    expect((await run(['freeze', 'off'])).code).toBe(0);
    expect((await run(['rollout', '0'])).code).toBe(0);
  });

  it('verify passes, with a login test; then names drift and a WorkOS-only user made behind its back', async () => {
    const ok = await run(['verify', '--full', '--json']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const report = json<{ ok: boolean; checks: { name: string; ok: boolean }[] }>(ok);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      'api',
      'column',
      'trigger',
      'synced',
      'readback',
      'orphans',
    ]);

    const login = await run(['verify', '--sample', '5', '--login-test', 'user3@example.com'], {
      input: 'password-1\n',
    });
    expect(login.code, login.stdout + login.stderr).toBe(0);
    expect(login.stdout).toMatch(/^ok\s+login test\s+user3@example\.com signed in/m);
    expect(login.stdout).not.toContain('password-1');
    expect(login.stderr).not.toContain('password-1');

    const target = t.emulator.control.getUser('app_4');
    await t.workos.userManagement.updateUser({ userId: target?.user.id ?? '', firstName: 'Mallory' });
    await t.emulator.control.seedUsers([{ email: 'stranger@example.com' }]);

    for (const mode of [['--full'], ['--sample', '100']]) {
      const bad = await run(['verify', ...mode, '--json']);
      expect(bad.code).toBe(1);
      const failed = json<{
        ok: boolean;
        drift: {
          userId: string;
          problem: string;
          fields: { field: string; local: unknown; workos: unknown }[];
        }[];
        orphans: { email: string }[];
      }>(bad);
      expect(failed.ok).toBe(false);
      expect(failed.drift).toEqual([
        {
          userId: '4',
          workosUserId: target?.user.id,
          problem: 'field_drift',
          fields: [{ field: 'firstName', local: 'First4', workos: 'Mallory' }],
        },
      ]);
      expect(failed.orphans.map((o) => o.email)).toEqual(['stranger@example.com']);
    }
    // --out: every drift entry as a JSON line in the file; the report says how many and where.
    const out = join(dir, 'drift.jsonl');
    const written = await run(['verify', '--full', '--out', out, '--json']);
    expect(written.code).toBe(1);
    expect(json<{ driftTotal: number; driftFile: string }>(written)).toMatchObject({
      driftTotal: 1,
      driftFile: out,
    });
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ userId: '4', problem: 'field_drift' }),
    ]);
    const human = await run(['verify']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^FAIL\s+read-back/m);
    expect(human.stdout).toContain('firstName "First4" locally, "Mallory" in WorkOS');
    expect(human.stdout).toContain('stranger@example.com');
    expect(human.stdout).toContain('Verification failed');
  });

  it('verify --full as the worker role: the second pass finds a synced user missing in WorkOS, and the run leaves no scratch rows', async () => {
    const role = await createRole(database, 'verify_worker');
    expect((await run(['install', '--worker-role', role.role])).code).toBe(0);
    // A crashed run's rows, two days old: the next run removes them.
    await client`INSERT INTO workos_migrate.verify_seen (run_id, workos_user_id, created_at)
      VALUES ('crashed-run', 'user_01CRASHED', now() - interval '2 days')`;
    const [linked] = await client`SELECT workos_user_id FROM workos_migrate.sync_state WHERE user_id = '6'`;
    const missing = 'user_01VERIFYMISSINGINWORKOS0';
    await client`UPDATE workos_migrate.sync_state SET workos_user_id = ${missing} WHERE user_id = '6'`;
    try {
      const r = await run(['verify', '--full', '--json'], { env: { ...env, DATABASE_URL: role.url } });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const report = json<{ drift: { userId: string; workosUserId: string; problem: string }[] }>(r);
      // User 4's drift (from the test above) comes from the scan; user 6 only from the second pass.
      expect(
        report.drift.map(({ userId, workosUserId, problem }) => ({ userId, workosUserId, problem })),
      ).toEqual([
        { userId: '4', workosUserId: t.emulator.control.getUser('app_4')?.user.id, problem: 'field_drift' },
        { userId: '6', workosUserId: missing, problem: 'missing_in_workos' },
      ]);
      const [left] = await client`SELECT count(*)::int AS n FROM workos_migrate.verify_seen`;
      expect(left?.n).toBe(0);
    } finally {
      await client`UPDATE workos_migrate.sync_state SET workos_user_id = ${linked?.workos_user_id} WHERE user_id = '6'`;
    }
  });

  it('worker mirrors a new user until SIGTERM; retry and confirm-deletes answer', async () => {
    const w = start(['worker']);
    await waitFor(() => w.stderr().includes('worker started'));
    await client`INSERT INTO users (email, first_name) VALUES ('late@example.com', 'Late')`;
    await waitFor(() => t.emulator.control.getUser('late@example.com') !== undefined);
    w.child.kill('SIGTERM');
    const r = await w.finished;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Worker stopped (SIGTERM)');

    const retry = await run(['retry', '--reason', 'invalid_email', '--json']);
    expect(retry.code).toBe(0);
    expect(json(retry)).toEqual({ requeued: 0, reason: 'invalid_email' });
    const confirm = await run(['confirm-deletes', '--json']);
    expect(confirm.code).toBe(0);
    expect(json(confirm)).toEqual({ released: 0 });
  });

  it('uninstall refuses while rows are pending, then --force drops only the library', async () => {
    const printed = await run(['uninstall', '--print']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('DROP SCHEMA IF EXISTS workos_migrate CASCADE');

    await client`UPDATE users SET first_name = 'Changed' WHERE id = 5`;
    const refused = await run(['uninstall']);
    expect(refused.code).toBe(2);
    const line = oneErrorLine(refused.stderr);
    expect(line).toContain('1 pending');
    expect(line).toContain('--force');
    const [still] = await client`SELECT to_regclass('workos_migrate.outbox') IS NOT NULL AS present`;
    expect(still?.present).toBe(true);

    const forced = await run(['uninstall', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    const [gone] = await client`SELECT to_regclass('workos_migrate.outbox') IS NULL AS absent`;
    expect(gone?.absent).toBe(true);
    const [kept] = await client`SELECT count(*)::int AS n, count(workos_user_id)::int AS linked FROM users`;
    expect(kept).toEqual({ n: USERS + 1, linked: USERS + 1 });
    const triggers = await client`SELECT tgname FROM pg_trigger WHERE tgname LIKE 'workos_migrate%'`;
    expect(triggers).toHaveLength(0);
    // Commands that need the library now say so.
    const status = await run(['status']);
    expect(status.code).toBe(2);
    expect(oneErrorLine(status.stderr)).toContain('workos-migrate install');
  });
});

// login()'s legacy attempt limit is one count in PostgreSQL, shared by every instance of the app: two
// Fastify apps (two "instances", each its own pool) on one database, run as roles that own nothing (the
// engine's role holds exactly workerGrantsSql; the owner only installs). Also: the sliding window ends,
// expired rows go, the table holds no email, a count that cannot be taken refuses the attempt, and a role
// without the grant is told what to do.
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import Fastify, { type FastifyInstance } from 'fastify';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createWorkosMigrate,
  type DrizzleDatabase,
  type LegacyCredentials,
  type LoginResult,
  type WorkosMigrateConfig,
} from 'workos-migrate';
import {
  CAPTURE_VERSION,
  captureSql,
  checkRole,
  installedState,
  uninstallSql,
  workerGrantsSql,
} from 'workos-migrate/drizzle';
import workosMigrate from 'workos-migrate/fastify';
import { connectAgain, engineConfig, openPostgres, type PostgresApp } from './helpers/app.js';
import { createRole } from './helpers/db.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

let app: PostgresApp;
let t: TestEmulator;
let second: ReturnType<typeof connectAgain>;
/** Two instances of the same app, each with its own connection pool to the same database. */
let instances: FastifyInstance[] = [];
/** Who the legacy check was asked about, in order. */
const legacyCalls: LegacyCredentials[] = [];
const closers: (() => Promise<unknown>)[] = [];

async function verifyLegacy(user: LegacyCredentials): Promise<boolean> {
  legacyCalls.push(user);
  return user.passwordHash ? bcrypt.compare(user.password, user.passwordHash) : false;
}

async function instance(db: DrizzleDatabase, overrides: Partial<WorkosMigrateConfig> = {}) {
  const fastify = Fastify();
  const { worker: _worker, ...config } = engineConfig(db, t.emulator, overrides);
  await fastify.register(workosMigrate, { ...config, worker: false });
  fastify.post<{ Body: { email: string; password: string } }>('/login', async (request) =>
    request.workosMigrate.login({ email: request.body.email, password: request.body.password, verifyLegacy }),
  );
  await fastify.ready();
  closers.push(() => fastify.close());
  return fastify;
}

async function signIn(on: FastifyInstance, email: string, password: string): Promise<LoginResult> {
  const res = await on.inject({ method: 'POST', url: '/login', payload: { email, password } });
  expect(res.statusCode).toBe(200);
  return res.json();
}

async function insertUser(email: string, password: string): Promise<string> {
  const [row] = await app.exec('INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id', [
    email,
    bcrypt.hashSync(password, 4),
  ]);
  return String(row?.id);
}

const attemptRows = () => app.admin('SELECT t::text AS row, email_key FROM workos_migrate.login_attempts t');

beforeAll(async () => {
  app = await openPostgres({ roles: true });
  t = await startTestEmulator({ requireEmailVerification: false });
  second = connectAgain(app.url);
  instances = [await instance(app.db), await instance(second.db)];
  // Everyone on legacy (the stored setting both instances read).
  await instances[0]?.workosMigrate.flags.setRollout(0);
});

afterEach(async () => {
  legacyCalls.length = 0;
  // (The last test uninstalls.)
  await app.admin(
    `DO $$ BEGIN IF to_regclass('workos_migrate.login_attempts') IS NOT NULL THEN TRUNCATE workos_migrate.login_attempts; END IF; END $$`,
  );
});

afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await second?.close();
  await t?.close();
  await app?.close();
});

describe('one attempt limit for every instance', () => {
  it('10 legacy checks spread over two instances spend the email: the 11th is refused on either, unchecked', async () => {
    const [a, b] = instances as [FastifyInstance, FastifyInstance];
    await insertUser('shared@example.com', 'right-password-1');
    for (let i = 0; i < 10; i++) {
      expect(await signIn(i % 2 ? b : a, 'shared@example.com', `wrong-${i}`)).toMatchObject({
        side: 'legacy',
        ok: false,
        reason: 'kill-switch',
      });
    }
    // Each instance saw only 5: an in-process count would let the right password through here.
    for (const on of [a, b]) {
      expect(await signIn(on, ' Shared@Example.com ', 'right-password-1')).toMatchObject({
        side: 'legacy',
        ok: false,
        reason: 'rate-limited',
      });
    }
    expect(legacyCalls).toHaveLength(10);
    // Another email is not affected.
    await insertUser('other@example.com', 'right-password-2');
    expect(await signIn(b, 'other@example.com', 'right-password-2')).toMatchObject({ ok: true });
  });

  it('20 attempts at once over both instances: exactly 10 reach the legacy check', async () => {
    const [a, b] = instances as [FastifyInstance, FastifyInstance];
    await insertUser('burst@example.com', 'right-password-7');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => signIn(i % 2 ? a : b, 'burst@example.com', `wrong-${i}`)),
    );
    expect(results.filter((result) => result.reason === 'rate-limited')).toHaveLength(10);
    expect(legacyCalls).toHaveLength(10);
  });

  it('an unknown email is counted the same way (its limit does not tell whether the account exists)', async () => {
    const [a, b] = instances as [FastifyInstance, FastifyInstance];
    for (let i = 0; i < 10; i++)
      expect(await signIn(i % 2 ? a : b, 'nobody@example.com', `guess-${i}`)).toMatchObject({
        ok: false,
        reason: 'unknown-user',
      });
    expect(await signIn(a, 'nobody@example.com', 'guess-x')).toMatchObject({
      ok: false,
      reason: 'rate-limited',
    });
    expect(legacyCalls).toHaveLength(10);
    expect(legacyCalls.every((call) => call.localUserId === '')).toBe(true);
  });

  it('the table holds neither the email nor a plain digest of it', async () => {
    const [a] = instances as [FastifyInstance];
    const email = 'private.person@example.com';
    await insertUser(email, 'right-password-3');
    await signIn(a, email, 'wrong');
    const rows = await attemptRows();
    expect(rows).toHaveLength(1);
    const text = rows
      .map((row) => String(row.row))
      .join('\n')
      .toLowerCase();
    expect(text).not.toContain('private.person');
    for (const encoding of ['hex', 'base64', 'base64url'] as const)
      expect(text).not.toContain(createHash('sha256').update(email).digest(encoding).toLowerCase());
    expect(String(rows[0]?.email_key)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('the window', () => {
  it('a limit above 1,000 (one stored time per attempt) is refused by name', () => {
    expect(() =>
      createWorkosMigrate(
        engineConfig(app.db, t.emulator, {
          login: { legacyAttemptLimit: { limit: 1_001, windowMs: 60_000 } },
        }),
      ),
    ).toThrow(/option login\.legacyAttemptLimit\.limit must be a number from 1 to 1000 \(got 1001\)/);
  });

  it('ends: after windowMs the email may try again, and rows whose window passed are removed', async () => {
    const windowMs = 3_000;
    const rule = { login: { legacyAttemptLimit: { limit: 2, windowMs } } };
    const [a, b] = [await instance(app.db, rule), await instance(second.db, rule)];
    await insertUser('window@example.com', 'right-password-4');
    expect(await signIn(a, 'window@example.com', 'wrong-1')).toMatchObject({ reason: 'kill-switch' });
    expect(await signIn(b, 'window@example.com', 'wrong-2')).toMatchObject({ reason: 'kill-switch' });
    expect(await signIn(a, 'window@example.com', 'right-password-4')).toMatchObject({
      reason: 'rate-limited',
    });
    await signIn(b, 'gone-later@example.com', 'guess');
    expect(await attemptRows()).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, windowMs + 300));
    // The window slid past both attempts: the right password now signs in.
    expect(await signIn(b, 'window@example.com', 'right-password-4')).toMatchObject({
      side: 'legacy',
      ok: true,
    });
    // That call removed the expired row of the other email; its own row holds just the new attempt.
    const rows = await app.admin('SELECT cardinality(attempted_at) AS n FROM workos_migrate.login_attempts');
    expect(rows).toEqual([{ n: 1 }]);
  });
});

describe('when the count cannot be taken', () => {
  it('fails closed: the attempt is rate-limited without calling verifyLegacy, and a warning says why', async () => {
    await insertUser('locked@example.com', 'right-password-5');
    const warnings: string[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (_: object, msg: string) => void warnings.push(msg),
      error: () => {},
    };
    // An instance whose statements give up waiting on a lock after 300 ms.
    const impatient = postgres(app.url, { max: 2, onnotice: () => {}, connection: { lock_timeout: 300 } });
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const migrate = createWorkosMigrate(
      engineConfig(drizzle(impatient) as unknown as DrizzleDatabase, t.emulator, { logger }),
    );
    const owner = postgres(app.database.url, { max: 1, onnotice: () => {} });
    try {
      const held = await owner.reserve();
      await held`BEGIN`;
      await held`LOCK TABLE workos_migrate.login_attempts IN ACCESS EXCLUSIVE MODE`;
      const result = await migrate.login({
        email: 'locked@example.com',
        password: 'right-password-5',
        verifyLegacy,
      });
      await held`ROLLBACK`;
      held.release();
      expect(result).toMatchObject({ side: 'legacy', ok: false, reason: 'rate-limited' });
      expect(legacyCalls).toHaveLength(0);
      expect(warnings.join('\n')).toMatch(/attempt limit could not be counted/);
      // Once the database answers again, the same sign-in goes through.
      expect(
        await migrate.login({ email: 'locked@example.com', password: 'right-password-5', verifyLegacy }),
      ).toMatchObject({ ok: true });
    } finally {
      await migrate.close();
      await owner.end({ timeout: 5 });
      await impatient.end({ timeout: 5 });
    }
  });

  it('a role without EXECUTE on the function is told which GRANT it lacks, and sign-ins go on, counted per process meanwhile', async () => {
    const grants = workerGrantsSql(app.mapping, '%ROLE%')
      .split('\n')
      .filter((line) => line.trim() && !line.includes('take_login_attempt'));
    const role = await createRole(app.database, 'nolimit', (name) =>
      grants.map((line) => line.replaceAll('"%ROLE%"', `"${name}"`)),
    );
    expect((await checkRole(app.db, app.mapping, role.role)).workerMissing).toEqual([
      `GRANT EXECUTE ON FUNCTION workos_migrate.take_login_attempt(text, integer, bigint) TO "${role.role}";`,
    ]);
    const connection = connectAgain(role.url);
    const errors: string[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (_: object, msg: string) => void errors.push(msg),
    };
    const migrate = createWorkosMigrate(engineConfig(connection.db, t.emulator, { logger }));
    try {
      await insertUser('nogrant@example.com', 'right-password-6');
      // An upgrade deployed before `install` (or the GRANT) locks nobody out of the legacy sign-in...
      expect(
        await migrate.login({ email: 'nogrant@example.com', password: 'right-password-6', verifyLegacy }),
      ).toMatchObject({ side: 'legacy', ok: true });
      expect(errors.join('\n')).toMatch(/not installed or not granted \(run `workos-migrate install`/);
      // ...and lets no unlimited guesses through: the limit holds in this process.
      for (let i = 1; i < 10; i++) {
        await migrate.login({ email: 'nogrant@example.com', password: `wrong-${i}`, verifyLegacy });
      }
      expect(legacyCalls).toHaveLength(10);
      expect(
        await migrate.login({ email: 'nogrant@example.com', password: 'right-password-6', verifyLegacy }),
      ).toMatchObject({ side: 'legacy', ok: false, reason: 'rate-limited' });
      expect(legacyCalls).toHaveLength(10);
    } finally {
      await migrate.close();
      await connection.close();
    }
  });
});

describe('install check and uninstall', () => {
  it('an install made before the limiter (same capture SQL, no function) is stale: install runs again', async () => {
    expect((await installedState(app.db, app.mapping)).state).toBe('current');
    // The fingerprint such an install carries: a digest of the capture SQL alone.
    const captureOnly = captureSql(app.mapping).replace(/\n\nCOMMENT ON FUNCTION[\s\S]*$/, '');
    const older = `workos-migrate capture v${CAPTURE_VERSION} ${createHash('sha256').update(captureOnly).digest('hex').slice(0, 16)}`;
    await app.admin(`COMMENT ON FUNCTION workos_migrate.capture_user_change() IS '${older}'`);
    expect((await installedState(app.db, app.mapping)).state).toBe('stale');
  });

  it('drops the table and the function with the rest of the schema', async () => {
    await app.admin(uninstallSql(app.mapping));
    const [found] = await app.admin(
      `SELECT to_regclass('workos_migrate.login_attempts') AS attempts,
              to_regprocedure('workos_migrate.take_login_attempt(text, integer, bigint)') AS fn`,
    );
    expect(found).toEqual({ attempts: null, fn: null });
  });
});

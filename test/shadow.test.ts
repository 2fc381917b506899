// Shadow checks (legacy decides, WorkOS is tried in the background) and the cutover gate on their
// evidence, on real PostgreSQL and the emulator told to misread one hash type. Through the public
// engine: migrate.login, migrate.cutover, migrate.status, migrate.close.
import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import Fastify from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyCredentials, Logger, WorkosMigrate } from 'workos-migrate';
import workosMigrate from 'workos-migrate/fastify';
import { type AppDatabase, engine, engineConfig, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

let app: AppDatabase & { url: string };
let t: TestEmulator;
/** Mirrors users (and is the app's engine in most tests). */
let migrate: WorkosMigrate;
const logs: string[] = [];
const secrets = new Set<string>();
const logger: Logger = {
  debug: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
  info: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
  warn: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
  error: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
};

/** `{SSHA}` + base64(sha1(password + salt) + salt): WorkOS's ssha type, as an LDAP directory stores it. */
function sshaHash(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** The app's own check: bcrypt and SSHA. */
function verifyLegacy(user: LegacyCredentials): boolean {
  const stored = user.passwordHash ?? '';
  if (stored.startsWith('$2')) return bcrypt.compareSync(user.password, stored);
  if (stored.startsWith('{SSHA}')) {
    const raw = Buffer.from(stored.slice(6), 'base64');
    const digest = createHash('sha1').update(user.password).update(raw.subarray(20)).digest();
    return digest.equals(raw.subarray(0, 20));
  }
  return false;
}

interface TestUser {
  id: string;
  email: string;
  pass: string;
}

const ADMIN_TOKEN = 'shadow-admin-token-0123456789';
let serial = 0;
async function syncedUser(format: 'bcrypt' | 'ssha'): Promise<TestUser> {
  const pass = `Pw-${randomBytes(9).toString('base64url')}`;
  secrets.add(pass);
  const email = `${format}-${++serial}@example.com`;
  const hash = format === 'bcrypt' ? bcrypt.hashSync(pass, 4) : sshaHash(pass);
  const [row] = await app.exec(
    'INSERT INTO users (email, password_hash, email_verified) VALUES ($1, $2, true) RETURNING id',
    [email, hash],
  );
  const id = String(row?.id);
  expect(await migrate.syncNow(id, { timeoutMs: 10_000 })).toMatchObject({ status: 'synced' });
  return { id, email, pass };
}

const signIn = (user: TestUser, engineUnderTest = migrate, pass = user.pass) =>
  engineUnderTest.login({ email: user.email, password: pass, verifyLegacy });

const formatRow = async (format: string) => (await migrate.status()).formats.find((f) => f.format === format);

/** Waits until this engine's shadow checker has nothing waiting or running. */
async function shadowSettled(engineUnderTest = migrate, checks: number): Promise<void> {
  await waitFor(
    async () => {
      const shadow = (await engineUnderTest.status()).shadow;
      return shadow && shadow.queued === 0 && shadow.checked + shadow.skipped + shadow.failed >= checks;
    },
    30_000,
    'the shadow checks',
  );
}

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator({ requireEmailVerification: false });
  // The gate is on (as by default; the helper turns it off for other files), shadow checks fast.
  migrate = engine(app.db, t.emulator, {
    logger,
    cutover: { requireProvenFormats: { minMatches: 3, maxMismatchRate: 0.01 } },
    shadow: { ratePerSecond: 50 },
    // A client timeout (a third of the lease) far above a loaded machine's answer times: an answer
    // that times out is no evidence ('other'), and these tests count evidence.
    worker: { leaseMs: 30_000 },
  });
  await migrate.start();
});

afterEach(async () => {
  // No plaintext in a log line or a library table, whatever the test did.
  const tables = await app.exec(
    `SELECT string_agg(t::text, ' ') AS text FROM (
       SELECT row_to_json(s)::text AS t FROM workos_migrate.sync_state s
       UNION ALL SELECT row_to_json(f)::text FROM workos_migrate.format_checks f
       UNION ALL SELECT row_to_json(o)::text FROM workos_migrate.outbox o) x`,
  );
  const text = `${tables[0]?.text ?? ''}\n${logs.join('\n')}`;
  for (const secret of secrets) expect(text.includes(secret), 'a plaintext password was written').toBe(false);
  t.emulator.control.configure({ misreadHashTypes: [], faults: {}, rateLimits: false });
  await migrate.flags.setRollout(0);
});

afterAll(async () => {
  await migrate?.close();
  await t?.close();
  await app?.close();
});

describe('shadow checks on legacy sign-ins', () => {
  it('detect a misread format: matches for one, mismatches for the other, per format id; nobody marked as signed in through WorkOS', async () => {
    await app.exec('TRUNCATE workos_migrate.format_checks');
    t.emulator.control.configure({ misreadHashTypes: ['ssha'] });
    await migrate.flags.setRollout(0);
    const readRight = [await syncedUser('bcrypt'), await syncedUser('bcrypt'), await syncedUser('bcrypt')];
    const misread = [await syncedUser('ssha'), await syncedUser('ssha')];
    t.emulator.control.resetCounters();
    const before = (await migrate.status()).shadow?.checked ?? 0;
    for (const user of [...readRight, ...misread]) {
      expect(await signIn(user)).toMatchObject({ side: 'legacy', ok: true, reason: 'kill-switch' });
    }
    await shadowSettled(migrate, before + 5);

    expect(await formatRow('bcrypt')).toMatchObject({
      users: 3,
      shadowChecked: 3,
      matched: 3,
      mismatched: 0,
      healed: 0,
      ready: true,
      verdict: 'ready',
    });
    expect(await formatRow('ssha')).toMatchObject({
      users: 2,
      shadowChecked: 2,
      matched: 0,
      mismatched: 2,
      ready: false,
      verdict: 'blocked: 2 of 2 mismatched',
    });
    const states = await app.exec(
      `SELECT user_id, workos_signed_in_at, password_verified_at FROM workos_migrate.sync_state ORDER BY user_id`,
    );
    for (const state of states)
      expect(state.workos_signed_in_at, 'a shadow check is not a sign-in').toBeNull();
    const verified = new Set(
      states.filter((s) => s.password_verified_at !== null).map((s) => String(s.user_id)),
    );
    expect(readRight.every((user) => verified.has(user.id))).toBe(true);
    expect(misread.some((user) => verified.has(user.id))).toBe(false);
    // Each session WorkOS opened for a match was revoked at once (the emulator knows the session).
    const counters = t.emulator.control.counters();
    expect(counters.byRoute['POST /user_management/authenticate']).toBe(5);
    expect(counters.byRoute['POST /user_management/sessions/revoke']).toBe(3);
    expect(counters.byStatus['400'] ?? 0).toBe(2);
  });

  it('never delays the legacy answer: answered well before WorkOS could have answered', async () => {
    const user = await syncedUser('bcrypt');
    t.emulator.control.configure({ faults: { latencyMs: { min: 1_500, max: 1_500 } } });
    const before = (await migrate.status()).shadow?.checked ?? 0;
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      expect(await signIn(user)).toMatchObject({ side: 'legacy', ok: true });
      times.push(performance.now() - started);
    }
    // A sign-in that waited for the shadow check would take at least the 1.5 s WorkOS takes.
    expect(Math.max(...times)).toBeLessThan(1_000);
    await shadowSettled(migrate, before + 3);
  });

  it('the queue is bounded and drops, and close() stops it: no WorkOS call after it', async () => {
    const slow = engine(app.db, t.emulator, {
      logger,
      shadow: { ratePerSecond: 1, queueSize: 3 },
      // One user signs in 40 times at once: past the legacy attempt limit, which is not under test.
      login: { legacyAttemptLimit: false },
    });
    await slow.start({ worker: false });
    const user = await syncedUser('bcrypt');
    const answers = await Promise.all(Array.from({ length: 40 }, () => signIn(user, slow)));
    expect(answers.every((answer) => answer.ok)).toBe(true);
    const shadow = (await slow.status()).shadow;
    expect(shadow?.offered).toBe(40);
    expect(shadow?.queued).toBeLessThanOrEqual(3);
    expect(shadow?.dropped).toBeGreaterThanOrEqual(36);
    t.emulator.control.resetCounters();
    await slow.close();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(
      t.emulator.control.counters().byRoute['POST /user_management/authenticate'] ?? 0,
    ).toBeLessThanOrEqual(1);
  });
});

describe('the cutover gate (cutover.requireProvenFormats)', () => {
  it('keeps an unproven or blocked format on legacy (format-unproven) unless the user’s own password was verified', async () => {
    await app.exec('TRUNCATE workos_migrate.format_checks');
    await migrate.flags.setRollout(100);
    const fresh = await syncedUser('bcrypt');
    expect(await migrate.cutover({ userId: fresh.id, email: fresh.email })).toEqual({
      target: 'legacy',
      reason: 'format-unproven',
    });
    expect(await formatRow('bcrypt')).toMatchObject({ matched: 0, ready: false, verdict: 'needs 3 more' });
    // Legacy decides (and the shadow check proves this user's own password): then WorkOS.
    const before = (await migrate.status()).shadow?.checked ?? 0;
    expect(await signIn(fresh)).toMatchObject({ side: 'legacy', ok: true, reason: 'format-unproven' });
    await shadowSettled(migrate, before + 1);
    expect(await formatRow('bcrypt')).toMatchObject({ matched: 1, verdict: 'needs 2 more' });
    expect(await migrate.cutover({ userId: fresh.id, email: fresh.email })).toEqual({
      target: 'workos',
      reason: 'in-rollout',
    });
    expect(await signIn(fresh)).toMatchObject({ side: 'workos', ok: true, reason: 'authenticated' });

    // A blocked format: one mismatch in one check is over 1%.
    t.emulator.control.configure({ misreadHashTypes: ['ssha'] });
    const misread = await syncedUser('ssha');
    await migrate.flags.setRollout(0);
    const checked = (await migrate.status()).shadow?.checked ?? 0;
    expect(await signIn(misread)).toMatchObject({ side: 'legacy', ok: true });
    await shadowSettled(migrate, checked + 1);
    await migrate.flags.setRollout(100);
    expect(await formatRow('ssha')).toMatchObject({ ready: false, verdict: 'blocked: 1 of 1 mismatched' });
    expect(await signIn(misread)).toMatchObject({ side: 'legacy', ok: true, reason: 'format-unproven' });
    await shadowSettled(migrate, checked + 2);
  });

  it('a user of a misread format routed to WorkOS anyway (gate off) is healed with the right password, refused with a wrong one', async () => {
    await app.exec('TRUNCATE workos_migrate.format_checks');
    t.emulator.control.configure({ misreadHashTypes: ['ssha'] });
    const ungated = engine(app.db, t.emulator, {
      logger,
      cutover: { requireProvenFormats: false },
      shadow: false,
    });
    await ungated.start({ worker: false });
    try {
      await ungated.flags.setRollout(100);
      const user = await syncedUser('ssha');
      const wrong = `Pw-${randomBytes(9).toString('base64url')}`;
      secrets.add(wrong);
      expect(await signIn(user, ungated, wrong)).toMatchObject({
        side: 'workos',
        ok: false,
        reason: 'invalid-credentials',
      });
      expect(await signIn(user, ungated)).toMatchObject({ side: 'workos', ok: true, healed: true });
      expect(await formatRow('ssha')).toMatchObject({ mismatched: 1, healed: 1, matched: 0 });
      expect((await ungated.status()).shadow).toBeNull();
    } finally {
      await ungated.close();
    }
  });

  it('is validated naming the option', () => {
    expect(() =>
      engine(app.db, t.emulator, { cutover: { requireProvenFormats: { maxMismatchRate: 2 } } }),
    ).toThrow(/cutover\.requireProvenFormats\.maxMismatchRate/);
    expect(() =>
      engine(app.db, t.emulator, { cutover: { requireProvenFormats: { minMatch: 5 } as never } }),
    ).toThrow(/cutover\.requireProvenFormats\.minMatch/);
    expect(() => engine(app.db, t.emulator, { shadow: { percent: 150 } })).toThrow(/shadow\.percent/);
    expect(() => engine(app.db, t.emulator, { shadow: { ratePerSecond: 0 } })).toThrow(
      /shadow\.ratePerSecond/,
    );
  });
});

describe('status', () => {
  it('the admin status route has the per-format evidence', async () => {
    const fastify = Fastify();
    const { worker: _worker, ...config } = engineConfig(app.db, t.emulator);
    await fastify.register(workosMigrate, { ...config, worker: false, admin: { token: ADMIN_TOKEN } });
    try {
      const res = await fastify.inject({
        method: 'GET',
        url: '/workos-migrate/status',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.formats).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            format: 'bcrypt',
            matched: expect.any(Number),
            verdict: expect.any(String),
          }),
        ]),
      );
      expect(body.shadow).toMatchObject({ queued: 0, offered: expect.any(Number) });
    } finally {
      await fastify.close();
    }
  });
});

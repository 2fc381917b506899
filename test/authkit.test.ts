// AuthKit sign-ins through the library, on real PostgreSQL and the emulator's hosted page over HTTP:
// identifier-first routing (`signIn`) by the same cutover rule as login(), the callback
// (`completeSignIn`) with its state check, the code exchange, the identity check, the cutover rule
// applied again to the user WorkOS returns, and WorkOS-only users linked in the app's transaction.
// Through Fastify routes calling `request.workosMigrate`; the real SDK drives the emulator.
import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type {
  CompleteSignInResult,
  Logger,
  PendingSignIn,
  SignInRoute,
  WorkosMigrate,
  WorkosMigrateConfig,
} from 'workos-migrate';
import workosMigrate from 'workos-migrate/fastify';
import { type AppDatabase, engine, engineConfig, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

let app: AppDatabase & { url: string };
let t: TestEmulator;
/** The app without onWorkosOnlyUser. */
let plain: FastifyInstance;
/** The same app with onWorkosOnlyUser creating local rows. */
let adopting: FastifyInstance;
/** The engine that mirrors users (the apps run with `worker: false`). */
let driver: WorkosMigrate;

const logs: string[] = [];
/** Codes, verifiers, tokens and passwords the tests saw: none may reach a log line. */
const secrets = new Set<string>();
const captureLogger: Logger = {
  debug: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
  info: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
  warn: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
  error: (obj, msg) => logs.push(JSON.stringify({ ...obj, msg })),
};

const REDIRECT_URI = 'http://app.test/auth/callback';
const COOKIE_PASSWORD = randomBytes(32).toString('base64url');
/** Local users the onWorkosOnlyUser callback created (its calls, in order). */
const created: string[] = [];

function password(): string {
  const value = `Pw-${randomBytes(9).toString('base64url')}`;
  secrets.add(value);
  return value;
}

async function insertUser(fields: Record<string, unknown>): Promise<string> {
  const keys = Object.keys(fields);
  const rows = await app.exec(
    `INSERT INTO users (${keys.join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    Object.values(fields),
  );
  return String(rows[0]?.id);
}

async function sync(id: string): Promise<void> {
  expect(await driver.syncNow(id, { timeoutMs: 10_000 })).toMatchObject({ status: 'synced' });
}

/** A user mirrored into WorkOS with a bcrypt hash. */
async function syncedUser(name: string, fields: Record<string, unknown> = {}) {
  const pass = password();
  const email = `${name}@example.com`;
  const id = await insertUser({
    email,
    password_hash: bcrypt.hashSync(pass, 4),
    email_verified: true,
    ...fields,
  });
  await sync(id);
  return { id, email, pass };
}

/** A social-login user: no local password. */
async function socialUser(name: string) {
  const email = `${name}@example.com`;
  const id = await insertUser({ email, email_verified: true });
  await sync(id);
  return { id, email };
}

async function route(fastify: FastifyInstance, email: string, state?: string): Promise<SignInRoute> {
  const res = await fastify.inject({
    method: 'POST',
    url: '/sign-in',
    payload: state === undefined ? { email } : { email, state },
  });
  expect(res.statusCode).toBe(200);
  return res.json();
}

async function callback(
  fastify: FastifyInstance,
  query: { code: string; state: string },
  pending: PendingSignIn | undefined,
): Promise<CompleteSignInResult> {
  secrets.add(query.code);
  const res = await fastify.inject({
    method: 'POST',
    url: '/callback',
    payload: { code: query.code, state: query.state, pending },
  });
  expect(res.statusCode).toBe(200);
  const result: CompleteSignInResult = res.json();
  if (result.ok) {
    secrets.add(result.accessToken);
    secrets.add(result.refreshToken);
  }
  return result;
}

function workosRoute(answer: SignInRoute): Extract<SignInRoute, { side: 'workos' }> {
  expect(answer.side).toBe('workos');
  const routed = answer as Extract<SignInRoute, { side: 'workos' }>;
  secrets.add(routed.pending.codeVerifier);
  return routed;
}

async function buildApp(authkit: WorkosMigrateConfig['authkit']): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: { level: 'trace', stream: { write: (line: string) => void logs.push(line) } },
  });
  const { worker: _worker, ...config } = engineConfig(app.db, t.emulator);
  await fastify.register(workosMigrate, { ...config, worker: false, authkit });
  fastify.post<{ Body: { email: string; state?: string } }>('/sign-in', async (request) =>
    request.workosMigrate.signIn(request.body),
  );
  fastify.post<{ Body: { code: string; state: string; pending?: PendingSignIn } }>(
    '/callback',
    async (request) =>
      request.workosMigrate.completeSignIn({
        code: request.body.code,
        state: request.body.state,
        pending: request.body.pending,
      }),
  );
  await fastify.ready();
  return fastify;
}

async function localRows(email: string) {
  return app.exec('SELECT id::text AS id, workos_user_id FROM users WHERE lower(email) = lower($1)', [email]);
}

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator({ requireEmailVerification: false });
  driver = engine(app.db, t.emulator, { logger: captureLogger });
  await driver.worker.start();
  plain = await buildApp({ redirectUri: REDIRECT_URI, cookiePassword: COOKIE_PASSWORD });
  adopting = await buildApp({
    redirectUri: REDIRECT_URI,
    onWorkosOnlyUser: async ({ workosUser, tx }) => {
      const { sql } = await import('drizzle-orm');
      const result = (await tx.execute(
        sql`INSERT INTO users (email, first_name, last_name, email_verified)
            VALUES (${workosUser.email}, ${workosUser.firstName}, ${workosUser.lastName}, ${workosUser.emailVerified})
            RETURNING id::text AS id`,
      )) as { id: string }[] | { rows: { id: string }[] };
      const rows = Array.isArray(result) ? result : result.rows;
      const id = rows[0]?.id as string;
      created.push(id);
      return id;
    },
  });
});

beforeEach(async () => {
  await plain.workosMigrate.flags.setRollout(100);
  await plain.workosMigrate.flags.start();
});

afterEach(async () => {
  const logText = logs.join('\n');
  for (const secret of secrets)
    expect(logText.includes(secret), 'a code, token or password in the logs').toBe(false);
  created.length = 0;
  if (!driver.worker.running) await driver.worker.start();
  t.emulator.control.reset();
  await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state');
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture_truncate');
  await app.exec('TRUNCATE users');
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture_truncate');
});

afterAll(async () => {
  await plain?.close();
  await adopting?.close();
  await driver?.close();
  await t?.close();
  await app?.close();
});

describe('signIn: identifier-first routing', () => {
  it('at 100% a synced user gets the AuthKit URL: provider authkit, the email as login hint, S256 PKCE, the state kept in pending', async () => {
    const user = await syncedUser('route');
    const answer = workosRoute(await route(plain, user.email, '/dashboard'));
    expect(answer).toMatchObject({ reason: 'in-rollout', localUserId: user.id });
    const url = new URL(answer.url);
    expect(`${url.protocol}//${url.host}`).toBe(new URL(t.emulator.url).origin);
    expect(url.pathname).toBe('/user_management/authorize');
    const params = Object.fromEntries(url.searchParams);
    expect(params).toMatchObject({
      provider: 'authkit',
      client_id: t.emulator.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      login_hint: user.email,
      state: answer.pending.state,
      code_challenge_method: 'S256',
      code_challenge: createHash('sha256').update(answer.pending.codeVerifier).digest('base64url'),
    });
    // The app's own state never travels through AuthKit: it comes back from the stored copy.
    expect(answer.pending.appState).toBe('/dashboard');
    expect(answer.url).not.toContain('dashboard');
    // A fresh state and verifier per sign-in.
    const again = workosRoute(await route(plain, user.email));
    expect(again.pending.state).not.toBe(answer.pending.state);
    expect(again.pending.codeVerifier).not.toBe(answer.pending.codeVerifier);
    expect(answer.pending.state.length).toBeGreaterThanOrEqual(32);
  });

  it('at 0% (the kill switch) every user, social ones too, goes to the legacy form', async () => {
    const user = await syncedUser('zero');
    const social = await socialUser('zero-social');
    await plain.workosMigrate.flags.setRollout(0);
    expect(await route(plain, user.email)).toEqual({
      side: 'legacy',
      reason: 'kill-switch',
      localUserId: user.id,
    });
    expect(await route(plain, social.email)).toEqual({
      side: 'legacy',
      reason: 'kill-switch',
      localUserId: social.id,
    });
  });

  it('a social user (no local password) is in the rollout like everyone else, and their WorkOS side is AuthKit', async () => {
    const social = await socialUser('social');
    expect(await route(plain, social.email)).toMatchObject({
      side: 'workos',
      reason: 'in-rollout',
      localUserId: social.id,
    });
  });

  it('the cutover rule decides: pending changes, unsynced and disabled users stay on legacy', async () => {
    const pending = await syncedUser('pending');
    await driver.worker.stop();
    await app.exec("UPDATE users SET first_name = 'Changed' WHERE id = $1", [pending.id]);
    expect(await route(plain, pending.email)).toMatchObject({ side: 'legacy', reason: 'pending-sync' });
    const unsynced = await insertUser({ email: 'unsynced@example.com', email_verified: true });
    expect(await route(plain, 'unsynced@example.com')).toMatchObject({
      side: 'legacy',
      reason: 'not-synced',
      localUserId: unsynced,
    });
    await driver.worker.start();
    const disabled = await syncedUser('disabled', { disabled: true });
    expect(await route(plain, disabled.email)).toEqual({
      side: 'legacy',
      reason: 'disabled',
      localUserId: disabled.id,
    });
  });

  it('an email nobody has is routed by its own bucket: at 100% AuthKit (where signups go), at 0% legacy', async () => {
    expect(await route(plain, 'nobody@example.com')).toMatchObject({
      side: 'workos',
      reason: 'unknown-user',
      localUserId: null,
    });
    await plain.workosMigrate.flags.setRollout(0);
    expect(await route(plain, 'nobody@example.com')).toEqual({
      side: 'legacy',
      reason: 'unknown-user',
      localUserId: null,
    });
  });
});

describe('completeSignIn: the state check', () => {
  it('a callback whose state is not the one stored for this browser is state-mismatch, before any exchange', async () => {
    const user = await syncedUser('csrf');
    const answer = workosRoute(await route(plain, user.email));
    const counters = () => JSON.stringify(t.emulator.control.counters());
    const before = counters();
    // An attacker's own callback link (their code and state) opened in the victim's browser.
    expect(
      await callback(plain, { code: 'code_from_attacker', state: 'attackers-state' }, answer.pending),
    ).toEqual({
      ok: false,
      reason: 'state-mismatch',
      localUserId: null,
    });
    // No stored sign-in at all for this browser.
    expect(await callback(plain, { code: 'code_x', state: answer.pending.state }, undefined)).toMatchObject({
      ok: false,
      reason: 'state-mismatch',
    });
    expect(counters()).toBe(before);
  });
});

describe('options', () => {
  it('bad authkit options fail registration, naming the option', async () => {
    const register = async (authkit: unknown) => {
      const fastify = Fastify();
      const { worker: _worker, ...config } = engineConfig(app.db, t.emulator);
      try {
        await fastify.register(workosMigrate, { ...config, worker: false, authkit } as never);
        await fastify.ready();
        return null;
      } catch (error) {
        return (error as Error).message;
      } finally {
        await fastify.close();
      }
    };
    expect(await register({ cookiePassword: 'short' })).toMatch(/authkit\.cookiePassword.*at least 32/);
    expect(await register({ redirectUrl: REDIRECT_URI })).toMatch(/authkit\.redirectUrl is not an option/);
    expect(await register({ redirectUri: '/auth/callback' })).toMatch(
      /authkit\.redirectUri must be an absolute/,
    );
    expect(await register({ onWorkosOnlyUser: 'create' })).toMatch(
      /authkit\.onWorkosOnlyUser must be a function/,
    );
    expect(await register({ redirectUri: REDIRECT_URI })).toBeNull();
  });
});

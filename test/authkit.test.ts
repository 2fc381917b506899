// AuthKit sign-ins through the library, on real PostgreSQL and the emulator's hosted page over HTTP:
// identifier-first routing (`signIn`) by the same cutover rule as login(), the callback
// (`completeSignIn`) with its state check, the code exchange, the identity check, the cutover rule
// applied again to the user WorkOS returns, and WorkOS-only users linked in the app's transaction.
// Through Fastify routes calling `request.workosMigrate`; the real SDK drives the emulator.
import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type {
  CompleteSignInResult,
  Logger,
  PendingSignIn,
  SignInRoute,
  WorkosMigrate,
  WorkosMigrateConfig,
} from 'workos-migrate';
import { createWorkosMigrateMiddleware } from 'workos-migrate/express';
import workosMigrate from 'workos-migrate/fastify';
import { type AppDatabase, engine, engineConfig, openPostgres } from './helpers/app.js';
import { expectCode, hostedGoogleSignIn, hostedPasswordSignIn, hostedSignUp } from './helpers/authkit.js';
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
      // The app's own policy: this one refuses some signups.
      if (workosUser.email.startsWith('refused')) return null;
      const { sql } = await import('drizzle-orm');
      // A buggy app that gives the new row a password of its own.
      const hash = workosUser.email.startsWith('hashed')
        ? bcrypt.hashSync('not-the-users-password', 4)
        : null;
      const result = (await tx.execute(
        sql`INSERT INTO users (email, first_name, last_name, email_verified, password_hash)
            VALUES (${workosUser.email}, ${workosUser.firstName}, ${workosUser.lastName}, ${workosUser.emailVerified}, ${hash})
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

describe('Express', () => {
  it('req.workosMigrate has the same signIn and completeSignIn', async () => {
    const user = await syncedUser('express');
    const { worker: _worker, ...config } = engineConfig(app.db, t.emulator);
    const mw = createWorkosMigrateMiddleware({ ...config, authkit: { redirectUri: REDIRECT_URI } });
    try {
      const server = express();
      server.use(express.json());
      server.use(mw);
      server.post('/sign-in', async (req, res) => {
        res.json(await req.workosMigrate.signIn({ email: (req.body as { email: string }).email }));
      });
      server.post('/callback', async (req, res) => {
        res.json(
          await req.workosMigrate.completeSignIn(
            req.body as Parameters<typeof req.workosMigrate.completeSignIn>[0],
          ),
        );
      });
      const routed = (await request(server).post('/sign-in').send({ email: user.email })).body as SignInRoute;
      expect(routed).toMatchObject({ side: 'workos', reason: 'in-rollout', localUserId: user.id });
      const forged = await request(server)
        .post('/callback')
        .send({
          code: 'code_x',
          state: 'not-the-stored-one',
          pending: (routed as { pending: PendingSignIn }).pending,
        });
      expect(forged.body).toEqual({ ok: false, reason: 'state-mismatch', localUserId: null });
    } finally {
      await mw.stop();
    }
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

/** signIn, the hosted page with a password, and the redirect's code and state. */
async function passwordCode(fastify: FastifyInstance, email: string, pass: string) {
  secrets.add(pass);
  const answer = workosRoute(await route(fastify, email));
  const redirect = expectCode(await hostedPasswordSignIn(answer.url, { email, password: pass }));
  expect(redirect.location.startsWith(REDIRECT_URI)).toBe(true);
  return { query: { code: redirect.code, state: redirect.state ?? '' }, pending: answer.pending };
}

/** signIn, then "Continue with Google" on the hosted page. */
async function googleCode(fastify: FastifyInstance, email: string) {
  const answer = workosRoute(await route(fastify, email));
  const redirect = expectCode(await hostedGoogleSignIn(answer.url, { email }));
  return { query: { code: redirect.code, state: redirect.state ?? '' }, pending: answer.pending };
}

async function syncState(id: string) {
  const [row] = await app.exec(
    'SELECT workos_user_id, workos_signed_in_at, password_state FROM workos_migrate.sync_state WHERE user_id = $1',
    [id],
  );
  return row;
}

/**
 * An authorization URL built with the SDK directly, as someone who skips signIn would (signIn routes
 * the user to legacy): answers it and what a browser that made it would have stored.
 */
async function directAuthorize(): Promise<{ url: string; pending: PendingSignIn }> {
  const pkce = await t.workos.pkce.generate();
  const state = randomBytes(24).toString('base64url');
  secrets.add(pkce.codeVerifier);
  const url = t.workos.userManagement.getAuthorizationUrl({
    provider: 'authkit',
    clientId: t.emulator.clientId,
    redirectUri: REDIRECT_URI,
    state,
    codeChallenge: pkce.codeChallenge,
    codeChallengeMethod: 'S256',
  });
  return { url, pending: { state, codeVerifier: pkce.codeVerifier } };
}

describe('completeSignIn: the callback', () => {
  it('a synced user signs in on the hosted page and comes back as the linked local user, with tokens, a sealed session and the sign-in recorded', async () => {
    const user = await syncedUser('hosted');
    const linked = (await syncState(user.id))?.workos_user_id;
    const { query, pending } = await passwordCode(plain, user.email, user.pass);
    const result = await callback(plain, query, pending);
    expect(result).toMatchObject({
      ok: true,
      reason: 'authenticated',
      localUserId: user.id,
      workosUser: { id: linked, externalId: `app_${user.id}` },
      authenticationMethod: 'Password',
    });
    if (!result.ok) throw new Error('unreachable');
    expect(result.accessToken).toBeTruthy();
    expect(result.refreshToken).toBeTruthy();
    // The SDK's own helper opens what the library sealed with the cookie password.
    const session = await t.workos.userManagement.getSessionFromCookie({
      sessionData: result.sealedSession as string,
      cookiePassword: COOKIE_PASSWORD,
    });
    expect(session?.user.id).toBe(linked);
    expect((await syncState(user.id))?.workos_signed_in_at).not.toBeNull();
  });

  it('a replayed code is invalid-code: the second exchange signs nobody in', async () => {
    const user = await syncedUser('replay');
    const { query, pending } = await passwordCode(plain, user.email, user.pass);
    expect(await callback(plain, query, pending)).toMatchObject({ ok: true, localUserId: user.id });
    expect(await callback(plain, query, pending)).toEqual({
      ok: false,
      reason: 'invalid-code',
      localUserId: null,
    });
  });

  it("a code exchanged with another sign-in's verifier is refused by WorkOS (PKCE), not signed in", async () => {
    const user = await syncedUser('pkce');
    const first = await passwordCode(plain, user.email, user.pass);
    const other = workosRoute(await route(plain, user.email));
    // The state is right (the attacker copied it), the verifier is not the one the code was issued for.
    const result = await callback(plain, first.query, { ...other.pending, state: first.pending.state });
    expect(result).toMatchObject({ ok: false, reason: 'invalid-code' });
  });

  it('a code for a WorkOS user linked to another local user is identity-mismatch: signed in as neither', async () => {
    const alice = await syncedUser('alice');
    const bob = await syncedUser('bob');
    const aliceWorkos = (await syncState(alice.id))?.workos_user_id as string;
    const bobWorkos = (await syncState(bob.id))?.workos_user_id as string;
    // Someone pointed Alice's WorkOS user at Bob (an admin script, a bad manual link).
    await t.workos.userManagement.updateUser({ userId: bobWorkos, externalId: 'elsewhere_1' });
    await t.workos.userManagement.updateUser({ userId: aliceWorkos, externalId: `app_${bob.id}` });
    const { query, pending } = await passwordCode(plain, alice.email, alice.pass);
    const result = await callback(plain, query, pending);
    expect(result).toEqual({ ok: false, reason: 'identity-mismatch', localUserId: alice.id });
    // And the user is queued for the worker to re-check against WorkOS.
    expect(logs.some((line) => line.includes('maps to no local user it is linked to'))).toBe(true);
  });

  it('a password change still queued (WorkOS holds the old password) refuses a sign-in with the old one: pending-sync', async () => {
    const user = await syncedUser('stale');
    await driver.worker.stop();
    const newPass = password();
    await app.exec('UPDATE users SET password_hash = $1 WHERE id = $2', [
      bcrypt.hashSync(newPass, 4),
      user.id,
    ]);
    // signIn itself sends this user to legacy now; an attacker with the old password goes to AuthKit directly.
    expect(await route(plain, user.email)).toMatchObject({ side: 'legacy', reason: 'pending-sync' });
    const direct = await directAuthorize();
    const redirect = expectCode(
      await hostedPasswordSignIn(direct.url, { email: user.email, password: user.pass }),
    );
    const result = await callback(
      plain,
      { code: redirect.code, state: redirect.state ?? '' },
      direct.pending,
    );
    expect(result).toEqual({ ok: false, reason: 'pending-sync', localUserId: user.id });
    expect((await syncState(user.id))?.workos_signed_in_at).toBeNull();
  });

  it('a social sign-in is not refused for a pending profile change, and a social user signs in through the simulated Google', async () => {
    const social = await socialUser('gina');
    const { query, pending } = await googleCode(plain, social.email);
    await driver.worker.stop();
    await app.exec("UPDATE users SET first_name = 'Gina' WHERE id = $1", [social.id]);
    const result = await callback(plain, query, pending);
    expect(result).toMatchObject({ ok: true, localUserId: social.id, authenticationMethod: 'GoogleOAuth' });
  });

  it('a social sign-in is refused while a local email change is not in WorkOS yet: the old address is not this user', async () => {
    const social = await socialUser('gwen');
    const { query, pending } = await googleCode(plain, social.email);
    await driver.worker.stop();
    await app.exec("UPDATE users SET email = 'gwen-new@example.com' WHERE id = $1", [social.id]);
    expect(await callback(plain, query, pending)).toEqual({
      ok: false,
      reason: 'pending-sync',
      localUserId: social.id,
    });
    expect((await syncState(social.id))?.workos_signed_in_at).toBeNull();
  });

  it('a disabled user is refused whatever WorkOS says: password and Google sign-ins', async () => {
    const user = await syncedUser('dora');
    const social = await socialUser('dora-social');
    // Codes obtained first (signIn routes disabled users to legacy), then the users are disabled
    // before the worker could revoke anything at WorkOS.
    const byPassword = await passwordCode(plain, user.email, user.pass);
    const byGoogle = await googleCode(plain, social.email);
    await driver.worker.stop();
    await app.exec('UPDATE users SET disabled = true WHERE id IN ($1, $2)', [user.id, social.id]);
    const revokes = () => t.emulator.control.counters().byRoute['POST /user_management/sessions/revoke'] ?? 0;
    const revokedBefore = revokes();
    expect(await callback(plain, byPassword.query, byPassword.pending)).toEqual({
      ok: false,
      reason: 'disabled',
      localUserId: user.id,
    });
    expect(await callback(plain, byGoogle.query, byGoogle.pending)).toEqual({
      ok: false,
      reason: 'disabled',
      localUserId: social.id,
    });
    // The sessions WorkOS opened for the refused sign-ins are ended.
    expect(revokes() - revokedBefore).toBe(2);
  });

  it('the kill switch refuses every AuthKit sign-in, social ones too', async () => {
    const social = await socialUser('kenny');
    const { query, pending } = await googleCode(plain, social.email);
    await plain.workosMigrate.flags.setRollout(0);
    expect(await callback(plain, query, pending)).toEqual({
      ok: false,
      reason: 'kill-switch',
      localUserId: social.id,
    });
  });
});

describe('WorkOS-only users (signed up on AuthKit)', () => {
  beforeEach(async () => {
    await adopting.workosMigrate.flags.setRollout(100);
  });

  async function signUpCode(fastify: FastifyInstance, email: string, routed = true) {
    const pass = password();
    const answer = routed ? workosRoute(await route(fastify, email)) : await directAuthorize();
    const redirect = expectCode(
      await hostedSignUp(answer.url, { email, password: pass, firstName: 'Wanda' }),
    );
    return { query: { code: redirect.code, state: redirect.state ?? '' }, pending: answer.pending, pass };
  }

  it('without onWorkosOnlyUser: unknown-workos-user, and no local row', async () => {
    const { query, pending } = await signUpCode(plain, 'newcomer@example.com');
    expect(await callback(plain, query, pending)).toEqual({
      ok: false,
      reason: 'unknown-workos-user',
      localUserId: null,
    });
    expect(await localRows('newcomer@example.com')).toEqual([]);
  });

  it('with onWorkosOnlyUser: the row is created and linked in one step, external_id set, the worker updates instead of creating, the next sign-in is the same user', async () => {
    const { query, pending, pass } = await signUpCode(adopting, 'wanda@example.com');
    const result = await callback(adopting, query, pending);
    expect(result).toMatchObject({ ok: true, created: true, authenticationMethod: 'Password' });
    if (!result.ok) throw new Error('unreachable');
    const rows = await localRows('wanda@example.com');
    expect(rows).toEqual([{ id: result.localUserId, workos_user_id: result.workosUser.id }]);
    expect(await syncState(result.localUserId)).toMatchObject({
      workos_user_id: result.workosUser.id,
      password_state: 'no_local_password',
    });
    const remote = await t.workos.userManagement.getUser(result.workosUser.id);
    expect(remote.externalId).toBe(`app_${result.localUserId}`);
    // The worker's sync of the new row finds the link: no second WorkOS user, the password untouched.
    await sync(result.localUserId);
    const list = await t.workos.userManagement.listUsers({ email: 'wanda@example.com' });
    expect(list.data.map((u) => u.id)).toEqual([result.workosUser.id]);
    const again = await passwordCode(adopting, 'wanda@example.com', pass);
    expect(await callback(adopting, again.query, again.pending)).toMatchObject({
      ok: true,
      localUserId: result.localUserId,
    });
    expect(created).toEqual([result.localUserId]);
    expect(await localRows('wanda@example.com')).toHaveLength(1);
  });

  it('when onWorkosOnlyUser refuses (null): unknown-workos-user, and nothing written', async () => {
    const { query, pending } = await signUpCode(adopting, 'refused@example.com');
    expect(await callback(adopting, query, pending)).toEqual({
      ok: false,
      reason: 'unknown-workos-user',
      localUserId: null,
    });
    expect(await localRows('refused@example.com')).toEqual([]);
    expect(await app.exec('SELECT user_id FROM workos_migrate.sync_state')).toEqual([]);
  });

  it('a row created with a password hash is refused and rolled back: its sync would replace the password the user chose at WorkOS', async () => {
    const { query, pending } = await signUpCode(adopting, 'hashed@example.com');
    const res = await adopting.inject({ method: 'POST', url: '/callback', payload: { ...query, pending } });
    expect(res.statusCode).toBe(500);
    expect(logs.some((line) => line.includes('authkit.onWorkosOnlyUser created local user'))).toBe(true);
    expect(await localRows('hashed@example.com')).toEqual([]);
    expect(await app.exec('SELECT user_id FROM workos_migrate.sync_state')).toEqual([]);
  });

  it('the WorkOS user of a deleted local user (its delete still queued) is never re-created locally', async () => {
    const user = await syncedUser('gone');
    await driver.worker.stop();
    await app.exec('DELETE FROM users WHERE id = $1', [user.id]);
    const { query, pending } = await passwordCode(adopting, user.email, user.pass);
    expect(await callback(adopting, query, pending)).toEqual({
      ok: false,
      reason: 'unknown-workos-user',
      localUserId: null,
    });
    expect(created).toEqual([]);
    expect(await localRows(user.email)).toEqual([]);
  });

  it('two callbacks for one WorkOS-only user at once create one local row', async () => {
    const first = await signUpCode(adopting, 'twice@example.com');
    const second = await passwordCode(adopting, 'twice@example.com', first.pass);
    const results = await Promise.all([
      callback(adopting, first.query, first.pending),
      callback(adopting, second.query, second.pending),
    ]);
    // The second finds the first one's link; it may be refused as pending-sync until the worker ran.
    expect(results.some((r) => r.ok)).toBe(true);
    for (const r of results) if (!r.ok) expect(r.reason).toBe('pending-sync');
    const ids = new Set(results.map((r) => r.localUserId));
    expect(ids.size).toBe(1);
    expect(created).toHaveLength(1);
    expect(await localRows('twice@example.com')).toHaveLength(1);
  });

  it('a WorkOS user whose email a local user already has is not a new account: no callback, not-synced', async () => {
    await driver.worker.stop();
    await insertUser({ email: 'taken@example.com', email_verified: true });
    const { query, pending } = await signUpCode(adopting, 'taken@example.com', false);
    expect(await callback(adopting, query, pending)).toMatchObject({ ok: false, reason: 'not-synced' });
    expect(created).toEqual([]);
    expect(await localRows('taken@example.com')).toHaveLength(1);
  });

  it('when setting external_id fails the link stands and the worker sets it', async () => {
    t.emulator.control.script({
      kind: 'error',
      method: 'PUT',
      path: '/user_management/users/',
      status: 500,
      count: 1,
    });
    await driver.worker.stop();
    const { query, pending } = await signUpCode(adopting, 'later@example.com');
    const result = await callback(adopting, query, pending);
    expect(result).toMatchObject({ ok: true, created: true });
    if (!result.ok) throw new Error('unreachable');
    expect((await t.workos.userManagement.getUser(result.workosUser.id)).externalId).toBeNull();
    await driver.worker.start();
    await sync(result.localUserId);
    expect((await t.workos.userManagement.getUser(result.workosUser.id)).externalId).toBe(
      `app_${result.localUserId}`,
    );
  });
});

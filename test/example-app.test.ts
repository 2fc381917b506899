// The example app over real HTTP (listening on a loopback port, requests by fetch), on a real
// PostgreSQL and the emulator: what a newcomer's first session with it does.
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { install } from 'workos-migrate/drizzle';
import { bucketOf } from 'workos-migrate/flags';
import { type AppDatabase, buildApp } from '../examples/app/src/app.js';
import { EXTERNAL_ID_PREFIX, usersMapping } from '../examples/app/src/config.js';
import { hashPassword } from '../examples/app/src/passwords.js';
import { USERS_DDL } from '../examples/app/src/schema.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

const ADMIN = 'example-admin-token-0123456789';
let database: TestDatabase;
let client: postgres.Sql;
let t: TestEmulator;
let app: Awaited<ReturnType<typeof buildApp>>;
let url: string;

async function call(method: string, path: string, body?: unknown, token?: string) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

const admin = (path: string, body: unknown) => call('POST', `/workos-migrate${path}`, body, ADMIN);

/** Waits until nothing is pending, so WorkOS holds the latest of every user. */
async function drained(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await app.workosMigrate.status();
    if (status.pending.live + status.pending.backfill === 0) return;
    if (Date.now() > deadline) throw new Error(`not drained: ${JSON.stringify(status.pending)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const remoteByLocalId = (id: number) => t.emulator.control.getUser(`${EXTERNAL_ID_PREFIX}${id}`)?.user;

beforeAll(async () => {
  database = await createTestDatabase();
  client = postgres(database.url, { max: 10, onnotice: () => {} });
  const db = drizzle(client) as unknown as AppDatabase;
  await client.unsafe(USERS_DDL);
  await install(db, usersMapping);
  // The example app's signups are unverified; this file rehearses routing, not verification.
  t = await startTestEmulator({ requireEmailVerification: false });
  app = await buildApp({
    db,
    adminToken: ADMIN,
    migration: {
      users: usersMapping,
      externalIdPrefix: EXTERNAL_ID_PREFIX,
      workos: { apiKey: t.emulator.apiKey, clientId: t.emulator.clientId, apiUrl: t.emulator.url },
      worker: { pollMs: 20, leaseMs: 3_000, leaderLeaseMs: 600, retryBaseMs: 50, retryMaxMs: 2_000 },
      flags: { refreshMs: 100 },
      // This file rehearses routing by percent; proving formats first is test/shadow.test.ts's.
      cutover: { requireProvenFormats: false },
    },
  });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app?.close();
  await client?.end({ timeout: 5 });
  await t?.close();
  await database?.drop();
});

it('mirrors a signup, a profile edit, an email change and a delete', async () => {
  const signup = await call('POST', '/signup', {
    email: 'ada@example.com',
    password: 'analytical-engine',
    firstName: 'Ada',
  });
  expect(signup.status).toBe(201);
  const id = signup.body.id as number;
  await drained();
  expect(remoteByLocalId(id)).toMatchObject({ email: 'ada@example.com', first_name: 'Ada' });

  const session = (await call('POST', '/login', { email: 'ada@example.com', password: 'analytical-engine' }))
    .body.session;
  expect((await call('PATCH', '/me', { lastName: 'Lovelace', plan: 'pro' }, session)).status).toBe(200);
  expect((await call('POST', '/me/email', { email: 'ada.lovelace@example.com' }, session)).status).toBe(200);
  await drained();
  expect(remoteByLocalId(id)).toMatchObject({
    email: 'ada.lovelace@example.com',
    last_name: 'Lovelace',
    metadata: { plan: 'pro' },
  });

  expect((await call('DELETE', '/me', undefined, session)).status).toBe(204);
  await drained();
  expect(remoteByLocalId(id)).toBeUndefined();
});

it('freezes signups live: 503 with Retry-After, then accepts again', async () => {
  expect((await admin('/freeze', { on: true })).status).toBe(200);
  const frozen = await call('POST', '/signup', { email: 'frozen@example.com', password: 'frozen-password' });
  expect(frozen.status).toBe(503);
  expect(frozen.headers.get('retry-after')).toBe('60');
  expect(frozen.body).toMatchObject({ error: 'signups_frozen' });
  expect(String(frozen.body.message)).toMatch(/paused/);
  // Logins and other routes are not guarded.
  expect((await call('GET', '/healthz')).status).toBe(200);
  expect((await admin('/freeze', { on: false })).status).toBe(200);
  expect(
    (await call('POST', '/signup', { email: 'thawed@example.com', password: 'thawed-password' })).status,
  ).toBe(201);
});

it('moves logins by percentage: the right side at 0, 50 and 100%, and nobody moves back', async () => {
  const people: { id: number; email: string; password: string }[] = [];
  for (let i = 0; i < 40; i++) {
    const email = `ramp${i}@example.com`;
    const password = `ramp-password-${i}`;
    const signup = await call('POST', '/signup', { email, password });
    people.push({ id: signup.body.id as number, email, password });
  }
  await drained();
  const sidesByPerson = new Map<number, string[]>();
  for (const percent of [0, 50, 100]) {
    expect((await admin('/rollout', { percent })).status).toBe(200);
    for (const person of people) {
      const answer = await call('POST', '/login', { email: person.email, password: person.password });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      // The bucket decides: Unleash's flexibleRollout on the local user id, groupId = the cutover flag.
      const expected = bucketOf('workos-migrate-cutover', String(person.id)) <= percent ? 'workos' : 'legacy';
      expect(answer.body.side, `user ${person.id} at ${percent}%`).toBe(expected);
      sidesByPerson.set(person.id, [...(sidesByPerson.get(person.id) ?? []), answer.body.side]);
    }
  }
  const sides = [...sidesByPerson.values()];
  expect(sides.filter((seq) => seq[1] === 'workos').length).toBeGreaterThan(0);
  expect(sides.filter((seq) => seq[1] === 'legacy').length).toBeGreaterThan(0);
  // Monotonic: once on WorkOS, a user stays there as the percentage rises.
  for (const seq of sides)
    expect(seq.slice(seq.indexOf('workos') < 0 ? seq.length : seq.indexOf('workos'))).not.toContain('legacy');
  expect((await admin('/rollout', { percent: 0 })).status).toBe(200);
});

it('changes a password on the app side, then signs in through WorkOS with the new one only', async () => {
  const signup = await call('POST', '/signup', { email: 'grace@example.com', password: 'first-password-1' });
  const session = (await call('POST', '/login', { email: 'grace@example.com', password: 'first-password-1' }))
    .body.session;
  expect((await call('POST', '/me/password', { password: 'second-password-2' }, session)).status).toBe(200);
  await drained();
  await admin('/rollout', { percent: 100 });
  const fresh = await call('POST', '/login', { email: 'grace@example.com', password: 'second-password-2' });
  expect(fresh.body).toMatchObject({ side: 'workos', reason: 'authenticated', userId: signup.body.id });
  const stale = await call('POST', '/login', { email: 'grace@example.com', password: 'first-password-1' });
  expect(stale.status).toBe(401);
  expect(stale.body).toMatchObject({ side: 'workos', reason: 'invalid-credentials' });
  await admin('/rollout', { percent: 0 });
});

it('migrates a user whose legacy hash WorkOS cannot import (unsalted md5) at their next login', async () => {
  const [legacy] = await client`INSERT INTO users (email, first_name, password_hash, email_verified)
    VALUES ('old@example.com', 'Old', ${await hashPassword('very-old-password', 'md5')}, true) RETURNING id`;
  const id = Number(legacy?.id);
  await drained();
  const [state] =
    await client`SELECT password_state FROM workos_migrate.sync_state WHERE user_id = ${String(id)}`;
  expect(state?.password_state).toBe('login');
  expect(t.emulator.control.getUser(`${EXTERNAL_ID_PREFIX}${id}`)?.hasPassword).toBe(false);

  await admin('/rollout', { percent: 100 });
  const first = await call('POST', '/login', { email: 'old@example.com', password: 'very-old-password' });
  expect(first.body).toMatchObject({ side: 'workos', reason: 'authenticated', userId: id });
  expect(t.emulator.control.getUser(`${EXTERNAL_ID_PREFIX}${id}`)?.hasPassword).toBe(true);
  const [after] =
    await client`SELECT password_state FROM workos_migrate.sync_state WHERE user_id = ${String(id)}`;
  expect(after?.password_state).toBe('synced');
  // A wrong password is WorkOS's call now: no legacy check, no login.
  const wrong = await call('POST', '/login', { email: 'old@example.com', password: 'not-the-password' });
  expect(wrong.status).toBe(401);
  await admin('/rollout', { percent: 0 });
});

// The chaos run of the engine issue: a backfill of 1,000 users while 300 live writes happen, against a
// WorkOS that fails in every way the emulator knows, with the worker restarted three times.
import bcrypt from 'bcryptjs';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrizzleDatabase, Logger, WorkosMigrate } from 'workos-migrate';
import { type AppDatabase, engine, openPostgres, resetTables } from './helpers/app.js';
import { startTestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

const USERS = 1_000;
const LIVE_WRITES = 300;
const API_KEY = 'sk_test_chaos_secret_key';

let app: AppDatabase & { url: string };
let t: Awaited<ReturnType<typeof startTestEmulator>>;
const logLines: string[] = [];
const logger: Logger = {
  debug: (obj, msg) => logLines.push(JSON.stringify([obj, msg])),
  info: (obj, msg) => logLines.push(JSON.stringify([obj, msg])),
  warn: (obj, msg) => logLines.push(JSON.stringify([obj, msg])),
  error: (obj, msg) => logLines.push(JSON.stringify([obj, msg])),
};

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator({ apiKeys: [API_KEY] });
});

afterAll(async () => {
  await t.close();
  await app.close();
});

it('ends with every local user exactly once in WorkOS, equal fields and working passwords', async () => {
  // Legacy users, written before the library: backfilled. A few known passwords to log in with.
  const passwords = new Map<number, string>();
  const hashes: string[] = [];
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture');
  const values: unknown[] = [];
  const rows: string[] = [];
  for (let i = 0; i < USERS; i++) {
    let hash: string | null = null;
    if (i % 10 === 0) {
      const password = `chaos password ${i}`;
      passwords.set(i + 1, password);
      hash = bcrypt.hashSync(password, 4);
      hashes.push(hash);
    }
    values.push(`user${i}@example.com`, `First${i}`, i % 3 === 0, hash);
    rows.push(`($${values.length - 3}, $${values.length - 2}, $${values.length - 1}, $${values.length})`);
  }
  await app.exec(
    `INSERT INTO users (email, first_name, email_verified, password_hash) VALUES ${rows.join(', ')}`,
    values,
  );
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture');

  t.emulator.control.configure({
    faults: { errorRate: 0.1, rateLimitRate: 0.05, dropRate: 0.02, appliedUnansweredRate: 0.02 },
  });
  const start = () =>
    engine(
      app.db,
      { ...t.emulator, apiKey: API_KEY },
      { logger, worker: { concurrency: 16, maxAttempts: 50 } },
    );
  let migrate: WorkosMigrate = start();
  await migrate.worker.start();
  await migrate.enqueueBackfill({ batchSize: 200 });

  // Live traffic meanwhile: renames, email changes, password changes, new signups, deletes.
  let restarts = 0;
  for (let i = 0; i < LIVE_WRITES; i++) {
    const id = 1 + ((i * 37) % USERS);
    switch (i % 5) {
      case 0:
        await app.exec('UPDATE users SET first_name = $1 WHERE id = $2', [`Renamed${i}`, id]);
        break;
      case 1:
        await app.exec('UPDATE users SET email = $1 WHERE id = $2', [`moved${i}@example.com`, id]);
        break;
      case 2: {
        const password = `changed password ${i}`;
        const hash = bcrypt.hashSync(password, 4);
        hashes.push(hash);
        passwords.set(id, password);
        await app.exec('UPDATE users SET password_hash = $1 WHERE id = $2', [hash, id]);
        break;
      }
      case 3:
        await app.exec('INSERT INTO users (email, first_name) VALUES ($1, $2)', [
          `signup${i}@example.com`,
          'New',
        ]);
        break;
      default:
        if (i % 50 === 4) {
          await app.exec('DELETE FROM users WHERE id = $1', [id]);
          passwords.delete(id);
        } else {
          await app.exec('UPDATE users SET last_name = $1, plan = $2 WHERE id = $3', [
            `Last${i}`,
            `plan${i % 4}`,
            id,
          ]);
        }
    }
    if (i % 100 === 99 && restarts < 3) {
      // A deploy: the process stops, a new one starts with the same config.
      await migrate.worker.stop();
      migrate = start();
      await migrate.worker.start();
      restarts += 1;
    }
  }
  expect(restarts).toBe(3);

  const deadline = Date.now() + 150_000;
  for (;;) {
    const status = await migrate.status();
    if (status.pending.live + status.pending.backfill === 0) break;
    if (Date.now() > deadline) {
      // Say which rows are stuck and what the worker logged about them, so a failure can be read.
      const stuck = await app.exec(
        `SELECT user_id, version, attempts, uncertain, verifying, held, last_error,
                next_attempt_at::text, lease_expires_at::text, now()::text AS now
         FROM workos_migrate.outbox WHERE NOT dead`,
      );
      const ids = new Set(stuck.map((row) => String(row.user_id)));
      const related = logLines.filter((line) => [...ids].some((id) => line.includes(`"userId":"${id}"`)));
      throw new Error(
        `not drained: ${JSON.stringify(status)}\nstuck: ${JSON.stringify(stuck)}\nlogs: ${related.slice(-40).join('\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // Let any verification pass scheduled after an unanswered attempt run too.
  await migrate.worker.stop();
  t.emulator.control.configure({ faults: {} });

  const status = await migrate.status();
  const deadRows = await app.exec(
    'SELECT user_id, dead_reason, last_error FROM workos_migrate.outbox WHERE dead',
  );
  expect(status.dead, JSON.stringify(deadRows)).toEqual({});
  const local = await app.exec(
    'SELECT id::text AS id, email, first_name, last_name, email_verified, plan, workos_user_id FROM users ORDER BY id',
  );
  const remote = t.emulator.control.listUsers();
  // Exactly once: one WorkOS user per local user, and nothing else.
  expect(remote).toHaveLength(local.length);
  const byExternalId = new Map(remote.map((view) => [view.user.external_id, view.user]));
  expect(byExternalId.size).toBe(local.length);
  for (const row of local) {
    const user = byExternalId.get(`app_${row.id}`);
    expect(user, `local user ${row.id}`).toBeDefined();
    expect(user).toMatchObject({
      id: row.workos_user_id,
      email: row.email,
      first_name: row.first_name,
      email_verified: row.email_verified,
    });
    if (row.last_name !== null) expect(user?.last_name).toBe(row.last_name);
    expect(user?.metadata).toEqual(row.plan === null ? {} : { plan: row.plan });
  }
  // Working passwords, for a sample of the users who have one.
  const sample = [...passwords.entries()]
    .filter(([id]) => local.some((row) => Number(row.id) === id))
    .slice(0, 60);
  for (const [id, password] of sample) {
    const row = local.find((candidate) => Number(candidate.id) === id);
    const signIn = t.workos.userManagement.authenticateWithPassword({
      email: String(row?.email),
      password,
      clientId: t.emulator.clientId,
    });
    // Email verification is on by default (as in WorkOS): an unverified user's correct password is
    // answered with the verification step, a wrong one would be invalid_credentials.
    if (row?.email_verified) await signIn;
    else await expect(signIn).rejects.toMatchObject({ code: 'email_verification_required' });
  }

  // No secret in a log line or in any table but the app's own.
  const secrets = [API_KEY, ...hashes, ...passwords.values()];
  const logText = logLines.join('\n');
  for (const secret of secrets) expect(logText.includes(secret)).toBe(false);
  const libraryTables = await app.exec(
    `SELECT (SELECT coalesce(json_agg(o), '[]')::text FROM workos_migrate.outbox o) ||
            (SELECT coalesce(json_agg(s), '[]')::text FROM workos_migrate.sync_state s) ||
            (SELECT coalesce(json_agg(x), '[]')::text FROM workos_migrate.settings x) AS dump`,
  );
  const dump = String(libraryTables[0]?.dump);
  for (const secret of secrets) expect(dump.includes(secret)).toBe(false);
  const faults = t.emulator.control.counters().faults;
  expect(faults.error ?? 0).toBeGreaterThan(0);
  expect(faults.applied_unanswered ?? 0).toBeGreaterThan(0);
}, 240_000);

it('a worker killed after WorkOS applied its creates, emails changed, a stranger planted: ours adopted, the stranger untouched', async () => {
  t.emulator.control.reset();
  await resetTables(app);
  const CRASHED = 10;
  const pending = async () =>
    Number((await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE NOT dead'))[0]?.n);

  // 1. A worker on its own connection pool; every create is applied by WorkOS but answered only after
  // 800 ms (inside the client timeout). While they are in flight the process "dies": its database
  // connections end, so nothing of what WorkOS did is recorded.
  const client = postgres(app.url, { max: 5, onnotice: () => {} });
  const crashing = engine(
    drizzle(client) as unknown as DrizzleDatabase,
    { ...t.emulator, apiKey: API_KEY },
    { logger, worker: { concurrency: 16, leaseMs: 6_000 } },
  );
  t.emulator.control.script({
    kind: 'stall',
    method: 'POST',
    path: '/user_management/users',
    delayMs: 800,
    count: CRASHED,
  });
  await crashing.worker.start();
  const crashed: string[] = [];
  for (let i = 0; i < CRASHED; i++) {
    const [row] = await app.exec(
      `INSERT INTO users (email, first_name, email_verified) VALUES ($1, 'Crash', true) RETURNING id::text AS id`,
      [`crash${i}@example.com`],
    );
    crashed.push(String(row?.id));
  }
  await waitFor(
    () => t.emulator.control.counters().faults.stall === CRASHED,
    20_000,
    'every create in flight',
  );
  await client.end({ timeout: 0 });
  await waitFor(() => t.emulator.control.userCount() === CRASHED, 20_000, 'every create applied in WorkOS');
  await crashing.worker.stop();
  expect(await app.exec('SELECT user_id FROM workos_migrate.sync_state')).toEqual([]);

  // 2. Before the restart: every one of them changes email.
  for (const [i, id] of crashed.entries())
    await app.exec('UPDATE users SET email = $1 WHERE id = $2', [`moved-crash${i}@example.com`, id]);

  // 3. Legacy users for the backfill, and just before it, a stranger carrying one of their external ids.
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture');
  const legacy = (
    await app.exec(
      `INSERT INTO users (email, first_name) SELECT 'legacy' || g || '@example.com', 'Legacy' FROM generate_series(1, 5) g
       RETURNING id::text AS id`,
    )
  ).map((row) => String(row.id));
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture');
  const [stranger] = await t.emulator.control.seedUsers([
    { email: 'stranger@example.com', first_name: 'Stranger', external_id: `app_${legacy[0]}` },
  ]);

  // 4. The restarted worker and the backfill.
  const migrate = engine(app.db, { ...t.emulator, apiKey: API_KEY }, { logger, worker: { maxAttempts: 5 } });
  await migrate.worker.start();
  try {
    await migrate.enqueueBackfill({ batchSize: 100 });
    await waitFor(async () => (await pending()) === 0, 60_000, 'outbox drained');
  } finally {
    await migrate.worker.stop();
  }

  // Ours: no dead letter; the stranger: untouched, and its local user dead-lettered as a conflict.
  const dead = await app.exec('SELECT user_id, dead_reason FROM workos_migrate.outbox WHERE dead');
  expect(dead).toEqual([{ user_id: legacy[0], dead_reason: 'external_id_conflict' }]);
  expect(t.emulator.control.getUser(String(stranger?.user.id))?.user).toEqual(stranger?.user);
  const local = await app.exec(
    'SELECT id::text AS id, email, first_name, email_verified, workos_user_id FROM users WHERE id::text <> $1 ORDER BY id',
    [legacy[0]],
  );
  expect(t.emulator.control.userCount()).toBe(local.length + 1);
  for (const row of local) {
    expect(t.emulator.control.getUser(`app_${row.id}`)?.user, `local user ${row.id}`).toMatchObject({
      id: row.workos_user_id,
      email: row.email,
      first_name: row.first_name,
      email_verified: row.email_verified,
    });
  }
}, 120_000);

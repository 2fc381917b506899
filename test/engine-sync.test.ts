import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WorkosMigrate } from 'workos-migrate';
import { type AppDatabase, engine, openPostgres } from './helpers/app.js';
import { startTestEmulator } from './helpers/emulator.js';

type TestEmulator = Awaited<ReturnType<typeof startTestEmulator>>;

let app: AppDatabase & { url: string };
let t: TestEmulator;
let migrate: WorkosMigrate;

const hash = (password: string) => bcrypt.hashSync(password, 4);

async function insertUser(fields: Record<string, unknown>): Promise<string> {
  const keys = Object.keys(fields);
  const rows = await app.exec(
    `INSERT INTO users (${keys.join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    Object.values(fields),
  );
  return String(rows[0]?.id);
}

async function login(email: string, password: string): Promise<boolean> {
  try {
    await t.workos.userManagement.authenticateWithPassword({
      email,
      password,
      clientId: t.emulator.clientId,
    });
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function pendingRows(): Promise<number> {
  const rows = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE NOT dead');
  return Number(rows[0]?.n);
}

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator();
});

beforeEach(async () => {
  migrate = engine(app.db, t.emulator);
  await migrate.worker.start();
});

afterEach(async () => {
  await migrate.worker.stop();
  t.emulator.control.reset();
  t.emulator.control.configure({ faults: {}, rateLimits: false, emailTaken: 'user_creation_error' });
  await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state');
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture_truncate');
  await app.exec('TRUNCATE users');
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture_truncate');
});

afterAll(async () => {
  await t.close();
  await app.close();
});

describe('capture and mirror', () => {
  it('mirrors an insert with every mapped field, links the WorkOS id back, and the password logs in', async () => {
    const id = await insertUser({
      email: 'ada@example.com',
      first_name: 'Ada',
      last_name: 'Lovelace',
      email_verified: true,
      password_hash: hash('analytical engine'),
      plan: 'pro',
    });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const remote = t.emulator.control.getUser(`app_${id}`);
    expect(remote?.user).toMatchObject({
      email: 'ada@example.com',
      first_name: 'Ada',
      last_name: 'Lovelace',
      email_verified: true,
      external_id: `app_${id}`,
      metadata: { plan: 'pro' },
    });
    expect(remote?.passwordType).toBe('bcrypt');
    expect(await login('ada@example.com', 'analytical engine')).toBe(true);
    expect(await login('ada@example.com', 'difference engine')).toBe(false);
    const [row] = await app.exec('SELECT workos_user_id FROM users WHERE id = $1', [id]);
    expect(row?.workos_user_id).toBe(remote?.user.id);
    // Writing the id back is not a change to mirror.
    expect(await pendingRows()).toBe(0);
    const status = await migrate.status();
    expect(status).toMatchObject({ users: 1, synced: 1, passwordStates: { synced: 1 } });
  });

  it('mirrors updates of each field and password changes made through raw SQL', async () => {
    const id = await insertUser({
      email: 'grace@example.com',
      first_name: 'Grace',
      password_hash: hash('first pass'),
    });
    await migrate.syncNow(id);
    await app.exec(
      `UPDATE users SET email = 'grace.hopper@example.com', first_name = 'Rear Admiral', last_name = 'Hopper',
         email_verified = true, plan = 'team' WHERE id = $1`,
      [id],
    );
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.getUser(`app_${id}`)?.user).toMatchObject({
      email: 'grace.hopper@example.com',
      first_name: 'Rear Admiral',
      last_name: 'Hopper',
      email_verified: true,
      metadata: { plan: 'team' },
    });
    await app.exec('UPDATE users SET password_hash = $1 WHERE id = $2', [hash('second pass'), id]);
    await migrate.syncNow(id);
    expect(await login('grace.hopper@example.com', 'second pass')).toBe(true);
    expect(await login('grace.hopper@example.com', 'first pass')).toBe(false);
    // Removing the metadata value removes the key.
    await app.exec('UPDATE users SET plan = NULL WHERE id = $1', [id]);
    await migrate.syncNow(id);
    expect(t.emulator.control.getUser(`app_${id}`)?.user.metadata).toEqual({});
  });

  it('ignores updates that touch no mirrored column', async () => {
    const id = await insertUser({ email: 'quiet@example.com' });
    await migrate.syncNow(id);
    await app.exec(`UPDATE users SET email = email WHERE id = $1`, [id]);
    expect(await pendingRows()).toBe(0);
  });

  it('never sends email_verified from true to false', async () => {
    const id = await insertUser({ email: 'v@example.com', email_verified: true });
    await migrate.syncNow(id);
    await app.exec('UPDATE users SET email_verified = false, first_name = $2 WHERE id = $1', [id, 'Vera']);
    await migrate.syncNow(id);
    expect(t.emulator.control.getUser(`app_${id}`)?.user).toMatchObject({
      email_verified: true,
      first_name: 'Vera',
    });
  });

  it('mirrors a delete, only for a WorkOS user that carries our external id', async () => {
    const id = await insertUser({ email: 'gone@example.com' });
    await migrate.syncNow(id);
    expect(t.emulator.control.userCount()).toBe(1);
    await app.exec('DELETE FROM users WHERE id = $1', [id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.userCount()).toBe(0);
    const [state] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.sync_state');
    expect(state?.n).toBe(0);
  });

  it('a user without a local password is created without one (no_local_password)', async () => {
    const id = await insertUser({ email: 'social@example.com' });
    await migrate.syncNow(id);
    expect(t.emulator.control.getUser(`app_${id}`)?.hasPassword).toBe(false);
    expect((await migrate.status()).passwordStates).toEqual({ no_local_password: 1 });
  });

  it('an unconvertible hash creates the user without a password, state login', async () => {
    const id = await insertUser({
      email: 'md5@example.com',
      password_hash: '5f4dcc3b5aa765d61d8327deb882cf99',
    });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.getUser(`app_${id}`)?.hasPassword).toBe(false);
    const [state] = await app.exec('SELECT password_state, password_reason FROM workos_migrate.sync_state');
    expect(state?.password_state).toBe('login');
    // The reason says why without quoting the hash.
    expect(String(state?.password_reason)).not.toContain('5f4dcc3b');
  });

  it('dead-letters invalid data with a reason and keeps going with the others', async () => {
    const bad = await insertUser({ email: 'not-an-email' });
    const missing = await insertUser({ email: null });
    const good = await insertUser({ email: 'fine@example.com' });
    expect(await migrate.syncNow(bad)).toMatchObject({ status: 'dead', reason: 'invalid_email' });
    expect(await migrate.syncNow(missing)).toMatchObject({ status: 'dead', reason: 'missing_email' });
    expect(await migrate.syncNow(good)).toMatchObject({ status: 'synced' });
    // Fixing the row revives it: a new change is a new chance.
    await app.exec(`UPDATE users SET email = 'fixed@example.com' WHERE id = $1`, [bad]);
    expect(await migrate.syncNow(bad)).toMatchObject({ status: 'synced' });
    expect((await migrate.status()).dead).toEqual({ missing_email: 1 });
  });
});

describe('coalescing and outages', () => {
  it('50 updates while WorkOS is slow end with the last value in far fewer calls', async () => {
    const id = await insertUser({ email: 'busy@example.com', first_name: 'v0' });
    await migrate.syncNow(id);
    t.emulator.control.configure({ faults: { latencyMs: { min: 100, max: 150 } } });
    t.emulator.control.resetCounters();
    for (let i = 1; i <= 50; i++)
      await app.exec('UPDATE users SET first_name = $1 WHERE id = $2', [`v${i}`, id]);
    await waitFor(async () => (await pendingRows()) === 0);
    expect(t.emulator.control.getUser(`app_${id}`)?.user.first_name).toBe('v50');
    const puts = t.emulator.control.counters().byRoute['PUT /user_management/users/{id}'] ?? 0;
    expect(puts).toBeGreaterThan(0);
    expect(puts).toBeLessThan(10);
  });

  it('loses nothing while WorkOS is down during 200 writes, and mirrors all once it returns', async () => {
    t.emulator.control.configure({ faults: { errorRate: 1 } });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++)
      ids.push(await insertUser({ email: `down${i}@example.com`, first_name: `n${i}` }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(t.emulator.control.userCount()).toBe(0);
    t.emulator.control.configure({ faults: {} });
    await waitFor(async () => (await pendingRows()) === 0, 60_000);
    expect(t.emulator.control.userCount()).toBe(200);
    for (const [i, id] of ids.entries()) {
      expect(t.emulator.control.getUser(`app_${id}`)?.user.first_name).toBe(`n${i}`);
    }
  });
});

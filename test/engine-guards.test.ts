// The engine's guards against the failures that lose, duplicate or misdirect a user: answers that never
// come back, stalled requests, identity conflicts, every "email taken", 429 storms, dropped connections,
// mass deletes, two workers, a refused API key; and no secret in any log line.
// Real PostgreSQL, the emulator, the real SDK.
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DrizzleDatabase, WorkosMigrate, WorkosMigrateConfig } from 'workos-migrate';
import type { EmulatorResponseRecord } from 'workos-migrate/emulator';
import { type AppDatabase, connectAgain, engine, openPostgres, sql } from './helpers/app.js';
import { startTestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

type TestEmulator = Awaited<ReturnType<typeof startTestEmulator>>;

let app: AppDatabase & { url: string };
let t: TestEmulator;

// ---------------------------------------------------------------------------------------------
// Every log line of every engine in this file, and every secret the file used: checked at the end.
const logLines: string[] = [];
const secrets = { passwords: new Set<string>(), hashes: new Set<string>(), apiKeys: new Set<string>() };
/** Rows of the library's own tables, captured before each reset: no secret may reach them either. */
const tableDumps: string[] = [];

function serialise(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item instanceof Error
      ? { name: item.name, message: item.message, stack: item.stack, ...(item as object) }
      : item,
  );
}

const record =
  (level: string) =>
  (obj: object, msg?: string): void => {
    logLines.push(`${level} ${serialise(obj)} ${msg ?? ''}`);
  };
const logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };

// ---------------------------------------------------------------------------------------------
const started: WorkosMigrate[] = [];
const connections: { close(): Promise<void> }[] = [];
/** Observes every emulator response (after it is written); a test may set it. */
let onResponse: ((record: EmulatorResponseRecord) => void) | null = null;

function makeEngine(
  overrides: Partial<WorkosMigrateConfig> = {},
  db: DrizzleDatabase = app.db,
): WorkosMigrate {
  const migrate = engine(db, t.emulator, { logger, ...overrides });
  started.push(migrate);
  return migrate;
}

async function startEngine(
  overrides: Partial<WorkosMigrateConfig> = {},
  db: DrizzleDatabase = app.db,
): Promise<WorkosMigrate> {
  const migrate = makeEngine(overrides, db);
  await migrate.worker.start();
  return migrate;
}

let emailCounter = 0;
/** A unique email per call. */
function email(tag: string): string {
  emailCounter += 1;
  return `${tag}-${emailCounter}@example.com`;
}

/** A bcrypt hash of a fresh password, both remembered as secrets. */
function passwordHash(tag: string): { password: string; hash: string } {
  const password = `pw ${tag} ${emailCounter} ${Math.random().toString(36).slice(2)}`;
  const hash = bcrypt.hashSync(password, 4);
  secrets.passwords.add(password);
  secrets.hashes.add(hash);
  return { password, hash };
}

async function insertUser(fields: Record<string, unknown>): Promise<string> {
  const keys = Object.keys(fields);
  const rows = await app.exec(
    `INSERT INTO users (${keys.join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    Object.values(fields),
  );
  return String(rows[0]?.id);
}

/** Inserts `n` users with passwords; answers their ids. */
async function insertMany(tag: string, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(await insertUser({ email: email(tag), password_hash: passwordHash(tag).hash, ...extra }));
  }
  return ids;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function pendingRows(): Promise<number> {
  const rows = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE NOT dead');
  return Number(rows[0]?.n);
}

async function deadRows(): Promise<Record<string, unknown>[]> {
  return app.exec('SELECT user_id, dead_reason, last_error FROM workos_migrate.outbox WHERE dead');
}

async function drained(timeoutMs = 20_000): Promise<void> {
  try {
    await waitFor(async () => (await pendingRows()) === 0, timeoutMs, 'outbox drained');
  } catch (error) {
    const rows = await app.exec(
      `SELECT user_id, version, attempts, uncertain, verifying, lease_expires_at > now() AS leased,
         next_attempt_at - now() AS due_in, last_error FROM workos_migrate.outbox WHERE NOT dead LIMIT 10`,
    );
    throw new Error(`${(error as Error).message}; still pending: ${JSON.stringify(rows)}`);
  }
}

async function localWorkosId(id: string): Promise<string | null> {
  const [row] = await app.exec('SELECT workos_user_id FROM users WHERE id = $1', [id]);
  return (row?.workos_user_id as string | null) ?? null;
}

async function login(address: string, password: string): Promise<boolean> {
  try {
    await t.workos.userManagement.authenticateWithPassword({
      email: address,
      password,
      clientId: t.emulator.clientId,
    });
    return true;
  } catch {
    return false;
  }
}

/** WorkOS users with this email, through the real API (what any client would see). */
async function remoteByEmail(address: string) {
  return (await t.workos.userManagement.listUsers({ email: address, limit: 10 })).data;
}

beforeAll(async () => {
  app = await openPostgres();
  // Sign-ins here check the imported password, not email verification (on by default in WorkOS).
  t = await startTestEmulator({
    requireEmailVerification: false,
    onResponse: (response) => onResponse?.(response),
  });
  secrets.apiKeys.add(t.emulator.apiKey);
});

afterEach(async () => {
  onResponse = null;
  await Promise.all(started.splice(0).map((migrate) => migrate.worker.stop()));
  await Promise.all(connections.splice(0).map((connection) => connection.close()));
  for (const table of ['outbox', 'sync_state', 'settings', 'leader']) {
    const rows = await app.exec(`SELECT row_to_json(x)::text AS row FROM workos_migrate.${table} x`);
    for (const row of rows) tableDumps.push(`${table}: ${String(row.row)}`);
  }
  t.emulator.control.reset();
  t.emulator.control.configure({ faults: {}, rateLimits: false, emailTaken: 'user_creation_error' });
  await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader');
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture_truncate');
  await app.exec('TRUNCATE users');
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture_truncate');
});

afterAll(async () => {
  await t?.close();
  await app?.close();
});

describe('no duplicate when an answer is lost', () => {
  it('applied-but-unanswered on create: synced, exactly one WorkOS user, id linked back', async () => {
    // A shorter lease makes the follow-up verification pass (2 x lease) quick.
    const migrate = await startEngine({ worker: { leaseMs: 1_500 } });
    const address = email('unanswered');
    const { password, hash } = passwordHash('unanswered');
    t.emulator.control.script({ kind: 'applied_unanswered', method: 'POST', path: '/user_management/users' });
    const id = await insertUser({
      email: address,
      first_name: 'Una',
      email_verified: true,
      password_hash: hash,
    });

    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const counters = t.emulator.control.counters();
    expect(counters.faults.applied_unanswered).toBe(1);
    // Found by external id on the retry: never created twice.
    expect(counters.byRoute['POST /user_management/users']).toBe(1);
    expect(t.emulator.control.userCount()).toBe(1);
    const matches = await remoteByEmail(address);
    expect(matches).toHaveLength(1);
    expect(matches[0]?.externalId).toBe(`app_${id}`);
    expect(await localWorkosId(id)).toBe(matches[0]?.id);
    expect(await login(address, password)).toBe(true);
    expect(await migrate.status()).toMatchObject({ synced: 1, dead: {} });
  });

  it('a process killed between "created in WorkOS" and "stored the id": linked, not duplicated', async () => {
    const address = email('killed');
    const { password, hash } = passwordHash('killed');
    // The worker is not running: the row waits in the outbox.
    const id = await insertUser({ email: address, first_name: 'Kim', password_hash: hash });
    // What the killed worker got done: the WorkOS user exists with our external id...
    const created = await t.workos.userManagement.createUser({
      email: address,
      externalId: `app_${id}`,
      firstName: 'Kim',
      passwordHash: hash,
      passwordHashType: 'bcrypt',
    });
    // ...and it still held the row's lease when it died.
    await app.exec(
      `UPDATE workos_migrate.outbox SET lease_token = 'killed-worker', lease_expires_at = now() + interval '400 milliseconds',
         attempts = 1 WHERE user_id = $1`,
      [id],
    );
    expect(await localWorkosId(id)).toBeNull();

    const migrate = await startEngine();
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.counters().byRoute['POST /user_management/users']).toBe(1);
    expect(t.emulator.control.userCount()).toBe(1);
    expect(await localWorkosId(id)).toBe(created.id);
    const [state] = await app.exec(
      'SELECT workos_user_id FROM workos_migrate.sync_state WHERE user_id = $1',
      [id],
    );
    expect(state?.workos_user_id).toBe(created.id);
    expect(await login(address, password)).toBe(true);
  });

  it('our own unanswered create landing between the two lookups is linked, not dead-lettered', async () => {
    const migrate = await startEngine({ worker: { leaseMs: 1_500 } });
    const address = email('late-create');
    // The first create gets no answer; it lands in WorkOS just after the retry's lookup by external id
    // (404) and before its lookup by email, as a create that was slow rather than lost does.
    t.emulator.control.script({ kind: 'drop', method: 'POST', path: '/user_management/users' });
    let landed: Promise<unknown> | null = null;
    onResponse = (response) => {
      if (!landed && response.status === 404 && response.path.includes('/external_id/')) {
        landed = t.emulator.control.seedUsers([
          { email: address, external_id: `app_${id}`, first_name: 'Late' },
        ]);
      }
    };
    const id = await insertUser({ email: address, first_name: 'Late', email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(landed).not.toBeNull();
    expect(t.emulator.control.userCount()).toBe(1);
    expect(await localWorkosId(id)).toBe(t.emulator.control.getUser(`app_${id}`)?.user.id);
  });

  it('our own unanswered create, then an email change before the retry: updated, not a conflict', async () => {
    // The retry finds our WorkOS user by external id carrying the email we sent before the change.
    // Seen in the rehearsal as an external_id_conflict dead letter under load (a create that timed out).
    const migrate = await startEngine({ worker: { leaseMs: 1_500, retryBaseMs: 1_000 } });
    const before = email('changed-before-retry');
    const after = email('changed-after-retry');
    t.emulator.control.script({ kind: 'applied_unanswered', method: 'POST', path: '/user_management/users' });
    const id = await insertUser({ email: before, first_name: 'Eve', email_verified: true });
    await waitFor(async () => {
      const [row] = await app.exec('SELECT uncertain FROM workos_migrate.outbox WHERE user_id = $1', [id]);
      return row?.uncertain === true;
    });
    await app.exec('UPDATE users SET email = $1 WHERE id = $2', [after, id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.userCount()).toBe(1);
    expect(t.emulator.control.getUser(`app_${id}`)?.user.email).toBe(after);
    expect(await localWorkosId(id)).toBe(t.emulator.control.getUser(`app_${id}`)?.user.id);
    expect((await migrate.status()).dead).toEqual({});
  });

  it('a stalled update that lands after a newer one leaves no stale value in WorkOS', async () => {
    // leaseMs 900: the client gives up after 300 ms, well before the stalled request lands (1,200 ms).
    const migrate = await startEngine({ worker: { leaseMs: 900 } });
    const id = await insertUser({ email: email('stall'), first_name: 'Initial' });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });

    // The order in which WorkOS applied first_name values (the stalled response is written late).
    const applied: string[] = [];
    onResponse = (response) => {
      if (response.method === 'PUT' && response.status === 200) {
        applied.push(String((response.body as { first_name?: string }).first_name));
      }
    };
    const stallMs = 1_200;
    t.emulator.control.script({
      kind: 'stall',
      method: 'PUT',
      path: '/user_management/users',
      delayMs: stallMs,
    });
    await app.exec(`UPDATE users SET first_name = 'A' WHERE id = $1`, [id]);
    await waitFor(() => t.emulator.control.counters().faults.stall === 1, 5_000, 'the stalled PUT');
    const stalledAt = Date.now();
    await app.exec(`UPDATE users SET first_name = 'B' WHERE id = $1`, [id]);

    await drained();
    const wait = stalledAt + stallMs + 300 - Date.now();
    if (wait > 0) await sleep(wait);
    // The hazard really happened: 'B' reached WorkOS before the stalled 'A' landed...
    const stalledIndex = applied.indexOf('A');
    expect(stalledIndex).toBeGreaterThan(0);
    expect(applied.slice(0, stalledIndex)).toContain('B');
    // ...and WorkOS still ends with the newest value.
    expect(t.emulator.control.getUser(`app_${id}`)?.user.first_name).toBe('B');
    expect(applied.at(-1)).toBe('B');
    expect(await deadRows()).toEqual([]);
  });

  it('a write of the verification pass that stalls too leaves no stale value either', async () => {
    const migrate = await startEngine({ worker: { leaseMs: 900 } });
    const id = await insertUser({ email: email('stall2'), first_name: 'Initial' });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const stallMs = 1_200;
    const stalls = () => t.emulator.control.counters().faults.stall ?? 0;
    const firstName = () => t.emulator.control.getUser(`app_${id}`)?.user.first_name;

    // 1. 'A' stalls; the retry sends it again and a verification pass is scheduled (2 x lease).
    t.emulator.control.script({
      kind: 'stall',
      method: 'PUT',
      path: '/user_management/users',
      delayMs: stallMs,
    });
    await app.exec(`UPDATE users SET first_name = 'A' WHERE id = $1`, [id]);
    await waitFor(() => stalls() === 1, 5_000, 'the first stalled PUT');
    await waitFor(() => firstName() === 'A', 5_000, "'A' in WorkOS");
    // 2. A change while the verification is pending: the verification pass sends 'B', and that stalls.
    t.emulator.control.script({
      kind: 'stall',
      method: 'PUT',
      path: '/user_management/users',
      delayMs: stallMs,
    });
    await app.exec(`UPDATE users SET first_name = 'B' WHERE id = $1`, [id]);
    await waitFor(() => stalls() === 2, 10_000, 'the second stalled PUT');
    const secondStallAt = Date.now();
    // 3. A newer change goes out before the stalled 'B' lands.
    await waitFor(() => firstName() === 'B', 5_000, "'B' in WorkOS");
    await app.exec(`UPDATE users SET first_name = 'C' WHERE id = $1`, [id]);

    await drained();
    const wait = secondStallAt + stallMs + 300 - Date.now();
    if (wait > 0) await sleep(wait);
    await drained();
    expect(firstName()).toBe('C');
    expect(await deadRows()).toEqual([]);
  });
});

describe('identity guards', () => {
  it('an unverified local email never adopts an existing WorkOS user with that email', async () => {
    const migrate = await startEngine();
    const address = email('unverified');
    const [seeded] = await t.emulator.control.seedUsers([{ email: address, first_name: 'Theirs' }]);
    const id = await insertUser({ email: address, first_name: 'Mine', email_verified: false });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'email_owned_elsewhere' });
    expect(t.emulator.control.userCount()).toBe(1);
    expect(t.emulator.control.getUser(address)?.user).toEqual(seeded?.user);
    expect(await localWorkosId(id)).toBeNull();
  });

  it('a WorkOS user that already signed in is never adopted, even for a verified local email', async () => {
    const migrate = await startEngine();
    const address = email('signedin');
    const [seeded] = await t.emulator.control.seedUsers([
      {
        email: address,
        first_name: 'Theirs',
        last_sign_in_at: new Date(Date.now() - 86_400_000).toISOString(),
      },
    ]);
    const id = await insertUser({ email: address, first_name: 'Mine', email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'email_owned_elsewhere' });
    expect(t.emulator.control.userCount()).toBe(1);
    expect(t.emulator.control.getUser(address)?.user).toEqual(seeded?.user);
    expect(await localWorkosId(id)).toBeNull();
  });

  it('a verified local email adopts an unused WorkOS user without an external id', async () => {
    const migrate = await startEngine();
    const address = email('adopt');
    const { password, hash } = passwordHash('adopt');
    const [seeded] = await t.emulator.control.seedUsers([{ email: address, first_name: 'Old' }]);
    const id = await insertUser({
      email: address,
      first_name: 'Mine',
      email_verified: true,
      password_hash: hash,
    });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.userCount()).toBe(1);
    expect(t.emulator.control.getUser(address)?.user).toMatchObject({
      id: seeded?.user.id,
      external_id: `app_${id}`,
      first_name: 'Mine',
      email_verified: true,
    });
    expect(await localWorkosId(id)).toBe(seeded?.user.id);
    expect(await login(address, password)).toBe(true);
  });

  it('an email swap between two synced users converges without a dead letter', async () => {
    const migrate = await startEngine();
    const first = email('swap-a');
    const second = email('swap-b');
    const a = await insertUser({ email: first, first_name: 'Ann', email_verified: true });
    const b = await insertUser({ email: second, first_name: 'Bob', email_verified: true });
    expect(await migrate.syncNow(a)).toMatchObject({ status: 'synced' });
    expect(await migrate.syncNow(b)).toMatchObject({ status: 'synced' });
    const remoteA = await localWorkosId(a);
    const remoteB = await localWorkosId(b);

    // One transaction, through a temporary email (as an app with a unique email index has to).
    await app.db.transaction(async (tx) => {
      await tx.execute(sql`UPDATE users SET email = ${`swap-tmp-${a}@example.com`} WHERE id = ${Number(a)}`);
      await tx.execute(sql`UPDATE users SET email = ${first} WHERE id = ${Number(b)}`);
      await tx.execute(sql`UPDATE users SET email = ${second} WHERE id = ${Number(a)}`);
    });

    await drained(30_000);
    expect(await deadRows()).toEqual([]);
    expect(t.emulator.control.userCount()).toBe(2);
    // Verified again after the placeholder step (WorkOS unverifies on every email change).
    expect(t.emulator.control.getUser(`app_${a}`)?.user).toMatchObject({
      id: remoteA,
      email: second,
      email_verified: true,
    });
    expect(t.emulator.control.getUser(`app_${b}`)?.user).toMatchObject({
      id: remoteB,
      email: first,
      email_verified: true,
    });
    expect((await migrate.status()).dead).toEqual({});
    // What the engine believes WorkOS holds is what it holds (no placeholder left behind).
    const states = await app.exec(
      'SELECT user_id, email FROM workos_migrate.sync_state ORDER BY user_id::int',
    );
    expect(states).toEqual([
      { user_id: a, email: second },
      { user_id: b, email: first },
    ]);
  });

  it('a three-way email rotation converges without a dead letter', async () => {
    const migrate = await startEngine();
    const emails = [email('rot-a'), email('rot-b'), email('rot-c')];
    const ids: string[] = [];
    for (const address of emails) ids.push(await insertUser({ email: address, email_verified: true }));
    for (const id of ids) expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });

    // Each user takes the next one's email, in one statement.
    await app.exec(
      `UPDATE users SET email = CASE id WHEN $1::int THEN $5 WHEN $2::int THEN $6 WHEN $3::int THEN $4 END
       WHERE id IN ($1::int, $2::int, $3::int)`,
      [...ids, ...emails],
    );
    await drained(30_000);
    expect(await deadRows()).toEqual([]);
    expect(t.emulator.control.userCount()).toBe(3);
    for (const [i, id] of ids.entries()) {
      expect(t.emulator.control.getUser(`app_${id}`)?.user.email).toBe(emails[(i + 1) % 3]);
    }
  });

  it('refuses to run against a different WorkOS environment', async () => {
    const migrate = await startEngine();
    const id = await insertUser({ email: email('env') });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    await migrate.worker.stop();

    const other = makeEngine({
      workos: { apiKey: t.emulator.apiKey, clientId: 'client_other_environment', apiUrl: t.emulator.url },
    });
    await expect(other.worker.start()).rejects.toMatchObject({ code: 'environment_mismatch' });
    expect(other.worker.running).toBe(false);
  });

  it('a 404 on a stored WorkOS id is dead-lettered as deleted_in_workos, never re-created', async () => {
    const migrate = await startEngine();
    const id = await insertUser({ email: email('gone'), first_name: 'Here' });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const remote = (await localWorkosId(id)) as string;
    await t.workos.userManagement.deleteUser(remote);
    expect(t.emulator.control.userCount()).toBe(0);

    await app.exec(`UPDATE users SET first_name = 'Still here' WHERE id = $1`, [id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'deleted_in_workos' });
    expect(t.emulator.control.userCount()).toBe(0);
    expect(t.emulator.control.counters().byRoute['POST /user_management/users']).toBe(1);
  });
});

describe('identity: a reused id, a lost link, a delete that is not ours', () => {
  it('a delete then an insert with the same id (delete still pending): the old WorkOS user goes, a new one is made', async () => {
    const migrate = await startEngine();
    const before = passwordHash('reused-old');
    const oldEmail = email('reused-old');
    const id = await insertUser({ email: oldEmail, password_hash: before.hash, email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const oldRemote = (await localWorkosId(id)) as string;

    await migrate.worker.stop();
    const after = passwordHash('reused-new');
    const newEmail = email('reused-new');
    await app.exec('DELETE FROM users WHERE id = $1', [id]);
    await app.exec('INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)', [
      id,
      newEmail,
      after.hash,
    ]);
    await migrate.worker.start();
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });

    const newRemote = await localWorkosId(id);
    expect(newRemote).not.toBe(oldRemote);
    expect(t.emulator.control.getUser(oldRemote)).toBeUndefined();
    expect(t.emulator.control.getUser(`app_${id}`)?.user).toMatchObject({ id: newRemote, email: newEmail });
    expect(t.emulator.control.userCount()).toBe(1);
    // Neither person can use the other's account.
    expect(await login(oldEmail, before.password)).toBe(false);
    expect(await login(newEmail, after.password)).toBe(true);
  });

  it('TRUNCATE and a reload with other people under the same ids: new WorkOS users, none of the old', async () => {
    const migrate = await startEngine();
    const ids = await insertMany('reload-old', 3);
    await drained();
    const oldRemotes = await Promise.all(ids.map(localWorkosId));
    await migrate.worker.stop();
    await app.exec('TRUNCATE users');
    const newEmails = ids.map(() => email('reload-new'));
    for (const [i, id] of ids.entries())
      await app.exec('INSERT INTO users (id, email) VALUES ($1, $2)', [id, newEmails[i]]);
    await migrate.worker.start();
    await drained();
    expect(await deadRows()).toEqual([]);
    const remaining = t.emulator.control.listUsers().map((view) => view.user.email);
    expect(remaining.sort()).toEqual([...newEmails].sort());
    for (const remote of oldRemotes) expect(t.emulator.control.getUser(remote as string)).toBeUndefined();
    // The mass-delete test below expects no TRUNCATE on record.
    await app.exec(`DELETE FROM workos_migrate.settings WHERE key = 'last_truncate_at'`);
  });

  it('a reload over deleteThreshold is held like the deletes it implies, then released by confirmDeletes', async () => {
    const migrate = await startEngine({ deleteThreshold: 2 });
    const ids = await insertMany('reload-held', 3);
    await drained();
    await migrate.worker.stop();
    await app.exec('DELETE FROM users');
    for (const id of ids)
      await app.exec('INSERT INTO users (id, email) VALUES ($1, $2)', [id, email('reload-held-new')]);
    await migrate.worker.start();
    await waitFor(
      async () => (await migrate.status()).deletesAwaitingConfirmation === 3,
      10_000,
      'replacements held',
    );
    await sleep(300);
    expect(t.emulator.control.listUsers().map((view) => view.user.email)).not.toContain(
      expect.stringContaining('reload-held-new'),
    );
    expect(await migrate.confirmDeletes()).toBe(3);
    await drained();
    const remaining = t.emulator.control.listUsers().map((view) => view.user.email);
    expect(remaining).toHaveLength(3);
    for (const address of remaining) expect(address).toContain('reload-held-new');
  });

  it('a row that lost its workos_user_id: the same email relinks, another email is identity_unclear', async () => {
    const migrate = await startEngine();
    const address = email('unlinked');
    const id = await insertUser({ email: address, first_name: 'Una', email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const remote = await localWorkosId(id);

    await app.exec(`UPDATE users SET workos_user_id = NULL, first_name = 'Une' WHERE id = $1`, [id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(await localWorkosId(id)).toBe(remote);

    await app.exec(`UPDATE users SET workos_user_id = NULL, email = $2 WHERE id = $1`, [
      id,
      email('stranger'),
    ]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'identity_unclear' });
    expect(t.emulator.control.getUser(remote as string)?.user.email).toBe(address);
  });

  it("a delete never removes a WorkOS user that carries our external id but is someone else's (not_ours)", async () => {
    const migrate = await startEngine();
    const id = await insertUser({ email: email('conflicted') });
    const [seeded] = await t.emulator.control.seedUsers([
      { email: email('owner'), external_id: `app_${id}` },
    ]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'external_id_conflict' });

    await app.exec('DELETE FROM users WHERE id = $1', [id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'not_ours' });
    expect(t.emulator.control.getUser(seeded?.user.id as string)).toBeDefined();
  });
});

describe('email changes and written-means-confirmed', () => {
  it('an email change of a verified user keeps it verified in WorkOS (WorkOS unverifies on change)', async () => {
    const migrate = await startEngine();
    const id = await insertUser({ email: email('verified-move'), email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const moved = email('verified-moved');
    await app.exec('UPDATE users SET email = $2 WHERE id = $1', [id, moved]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.getUser(`app_${id}`)?.user).toMatchObject({
      email: moved,
      email_verified: true,
    });
    const [state] = await app.exec(
      'SELECT email_verified FROM workos_migrate.sync_state WHERE user_id = $1',
      [id],
    );
    expect(state?.email_verified).toBe(true);
  });

  it('a chain of email moves (no cycle) needs no placeholder; everyone ends verified', async () => {
    const migrate = await startEngine();
    const [first, second, fresh] = [email('chain-a'), email('chain-b'), email('chain-new')];
    const a = await insertUser({ email: first, email_verified: true });
    const b = await insertUser({ email: second, email_verified: true });
    for (const id of [a, b]) expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    const placeholders: string[] = [];
    onResponse = (response) => {
      const sent = (response.body as { email?: unknown } | undefined)?.email;
      if (typeof sent === 'string' && sent.endsWith('.invalid')) placeholders.push(sent);
    };
    // A takes B's email while B moves to a new one: A waits for B, nobody steps aside.
    await app.db.transaction(async (tx) => {
      await tx.execute(sql`UPDATE users SET email = ${fresh} WHERE id = ${Number(b)}`);
      await tx.execute(sql`UPDATE users SET email = ${second} WHERE id = ${Number(a)}`);
    });
    await drained(30_000);
    expect(await deadRows()).toEqual([]);
    expect(placeholders).toEqual([]);
    expect(t.emulator.control.getUser(`app_${a}`)?.user).toMatchObject({
      email: second,
      email_verified: true,
    });
    expect(t.emulator.control.getUser(`app_${b}`)?.user).toMatchObject({
      email: fresh,
      email_verified: true,
    });
  });

  it('a create WorkOS answers without a field sent: the field is sent again, and what WorkOS answered is recorded', async () => {
    const migrate = await startEngine();
    t.emulator.control.script({ kind: 'ignore_field', field: 'first_name', method: 'POST', count: 1 });
    const id = await insertUser({ email: email('ignored-create'), first_name: 'Cora', email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.getUser(`app_${id}`)?.user.first_name).toBe('Cora');
    const [state] = await app.exec('SELECT first_name FROM workos_migrate.sync_state WHERE user_id = $1', [
      id,
    ]);
    expect(state?.first_name).toBe('Cora');
  });

  it('an update WorkOS answers without the field sent: retried once, then dead workos_ignored_change naming it', async () => {
    const migrate = await startEngine();
    const id = await insertUser({ email: email('ignored'), first_name: 'Ivy', email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });

    // Once: the retry takes it.
    t.emulator.control.script({ kind: 'ignore_field', field: 'first_name', method: 'PUT', count: 1 });
    await app.exec(`UPDATE users SET first_name = 'Ida' WHERE id = $1`, [id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.getUser(`app_${id}`)?.user.first_name).toBe('Ida');

    // Every time: dead, with the field named, and nothing recorded as synced.
    // More than two: under load a PUT can time out and be retried, and every one must be ignored.
    t.emulator.control.script({ kind: 'ignore_field', field: 'email', method: 'PUT', count: 20 });
    const wanted = email('ignored-new');
    await app.exec('UPDATE users SET email = $2 WHERE id = $1', [id, wanted]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'workos_ignored_change' });
    t.emulator.control.clearScripts();
    const [row] = await deadRows();
    expect(String(row?.last_error)).toContain('email');
    const [state] = await app.exec('SELECT email FROM workos_migrate.sync_state WHERE user_id = $1', [id]);
    expect(state?.email).not.toBe(wanted);
  });
});

describe('every "email taken" answer', () => {
  for (const [mode, status, code] of [
    ['user_creation_error', 400, 'user_creation_error'],
    ['email_not_available', 400, 'email_not_available'],
    ['conflict', 409, 'user_already_exists'],
  ] as const) {
    it(`create answered ${mode} (${status}) for a stranger's email: dead email_owned_elsewhere, no retry storm`, async () => {
      t.emulator.control.configure({ emailTaken: mode });
      const migrate = await startEngine();
      const address = email(`taken-${mode}`);
      // A stranger (a signup straight into WorkOS) already has the email; our local email is not
      // verified, so it cannot be adopted. The first attempt creates optimistically and meets the taken
      // email in this variant; the retry looks the holder up.
      await t.emulator.control.seedUsers([{ email: address, first_name: 'Stranger' }]);
      const creates: { status: number; code: unknown }[] = [];
      onResponse = (response) => {
        if (response.method === 'POST' && response.path === '/user_management/users') {
          creates.push({ status: response.status, code: (response.body as { code?: unknown }).code });
        }
      };
      const id = await insertUser({ email: address, first_name: 'Mine', email_verified: false });

      expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'email_owned_elsewhere' });
      // This variant was answered, once: one create, then a lookup, not a retry storm.
      expect(creates).toEqual([{ status, code }]);
      const [row] = await app.exec('SELECT attempts FROM workos_migrate.outbox WHERE user_id = $1', [id]);
      expect(Number(row?.attempts)).toBeLessThanOrEqual(3);
      expect(t.emulator.control.userCount()).toBe(1);
      expect(t.emulator.control.getUser(address)?.user).toMatchObject({
        first_name: 'Stranger',
        external_id: null,
      });
      expect(migrate.worker.running).toBe(true);
    });
  }

  it("an email change onto a stranger's WorkOS email: dead email_owned_elsewhere, the stranger untouched", async () => {
    const migrate = await startEngine();
    const mine = email('change-mine');
    const theirs = email('change-theirs');
    const [stranger] = await t.emulator.control.seedUsers([
      { email: theirs, first_name: 'Stranger', last_sign_in_at: new Date().toISOString() },
    ]);
    const id = await insertUser({ email: mine, email_verified: true });
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    await app.exec('UPDATE users SET email = $1 WHERE id = $2', [theirs, id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'email_owned_elsewhere' });
    expect(t.emulator.control.getUser(theirs)?.user).toEqual(stranger?.user);
    expect(t.emulator.control.getUser(`app_${id}`)?.user.email).toBe(mine);
  });
});

describe('rate limits and dropped connections', () => {
  it('a 429 storm: 40 users all synced, rate-limited answers seen, no dead letters', async () => {
    t.emulator.control.configure({ rateLimits: { writes: { limit: 5, windowMs: 1_000 } } });
    const migrate = await startEngine();
    const ids = await insertMany('storm', 40);
    await drained(45_000);
    expect(await deadRows()).toEqual([]);
    expect(t.emulator.control.userCount()).toBe(40);
    expect(t.emulator.control.counters().rateLimited).toBeGreaterThan(0);
    for (const id of ids) expect(t.emulator.control.getUser(`app_${id}`)).toBeDefined();
    expect(await migrate.status()).toMatchObject({ synced: 40, dead: {} });
  }, 60_000);

  it('30% dropped connections during 30 inserts: every user synced exactly once', async () => {
    t.emulator.control.configure({ faults: { dropRate: 0.3 } });
    // A retry after no answer makes three calls (lookup by external id, by email, create), so at a 30%
    // drop rate a pass fails with p = 1 - 0.7^3 = 0.66. The backoff doubles per attempt (from 1 ms
    // here), so the unluckiest of 30 users can wait a minute: the drops last for the inserts and a
    // few seconds of mirroring, then stop, which bounds the wait for the tail by that window.
    const migrate = await startEngine({ worker: { leaseMs: 1_500, retryBaseMs: 1 } });
    const ids: string[] = [];
    const emails: string[] = [];
    for (let i = 0; i < 30; i++) {
      const address = email('drop');
      emails.push(address);
      ids.push(await insertUser({ email: address, password_hash: passwordHash('drop').hash }));
    }
    await drained(3_000).catch(() => undefined);
    const faults = t.emulator.control.counters().faults;
    t.emulator.control.configure({ faults: {} });
    await drained(30_000);
    expect(await deadRows()).toEqual([]);
    // The storm was real: many requests dropped, creates among them.
    expect(faults.drop).toBeGreaterThan(10);
    expect(t.emulator.control.userCount()).toBe(30);
    for (const [i, id] of ids.entries()) {
      const remote = t.emulator.control.getUser(`app_${id}`)?.user;
      expect(remote?.email).toBe(emails[i]);
      expect(await localWorkosId(id)).toBe(remote?.id);
    }
    expect(await migrate.status()).toMatchObject({ synced: 30, dead: {} });
  }, 60_000);
});

describe('mass deletes', () => {
  it('a mass delete is held for confirmation, then released', async () => {
    const migrate = await startEngine({ deleteThreshold: 5 });
    await insertMany('massdel', 10);
    await drained();
    expect(t.emulator.control.userCount()).toBe(10);

    await app.exec('DELETE FROM users');
    await waitFor(
      async () => (await migrate.status()).deletesAwaitingConfirmation === 10,
      10_000,
      'deletes held',
    );
    await sleep(500);
    expect(t.emulator.control.userCount()).toBe(10);
    expect((await migrate.status()).deletesAwaitingConfirmation).toBe(10);

    expect(await migrate.confirmDeletes()).toBe(10);
    await drained();
    expect(t.emulator.control.userCount()).toBe(0);
    expect(await migrate.status()).toMatchObject({ synced: 0, deletesAwaitingConfirmation: 0, dead: {} });
  });

  it('a TRUNCATE of the users table is recorded and held the same way', async () => {
    const migrate = await startEngine({ deleteThreshold: 5 });
    await insertMany('truncate', 10);
    await drained();
    expect(t.emulator.control.userCount()).toBe(10);
    expect((await migrate.status()).lastTruncateAt).toBeNull();

    await app.exec('TRUNCATE users');
    expect((await migrate.status()).lastTruncateAt).not.toBeNull();
    await waitFor(
      async () => (await migrate.status()).deletesAwaitingConfirmation === 10,
      10_000,
      'deletes held',
    );
    await sleep(500);
    expect(t.emulator.control.userCount()).toBe(10);

    expect(await migrate.confirmDeletes()).toBe(10);
    await drained();
    expect(t.emulator.control.userCount()).toBe(0);
  });
});

describe('two workers on one database', () => {
  async function twoWorkers(): Promise<[WorkosMigrate, WorkosMigrate, ReturnType<typeof connectAgain>[]]> {
    const pools = [connectAgain(app.url), connectAgain(app.url)];
    connections.push(...pools);
    const one = await startEngine({}, pools[0]?.db);
    const two = await startEngine({}, pools[1]?.db);
    await waitFor(() => one.worker.leader || two.worker.leader, 5_000, 'a leader');
    // Exactly one leads, and keeps leading while it renews.
    for (let i = 0; i < 8; i++) {
      expect(Number(one.worker.leader) + Number(two.worker.leader)).toBe(1);
      await sleep(100);
    }
    return [one, two, pools];
  }

  it('one leads; stop it and the other takes over and finishes the batch', async () => {
    const [one, two] = await twoWorkers();
    const [leader, standby] = one.worker.leader ? [one, two] : [two, one];
    t.emulator.control.configure({ faults: { latencyMs: { min: 20, max: 40 } } });
    const ids = await insertMany('twoworkers', 20);
    await waitFor(() => t.emulator.control.userCount() > 0, 10_000, 'the leader started');

    await leader.worker.stop();
    const stoppedAt = Date.now();
    // stop() gave back what it had not sent: no row is left marked "no answer" or charged an attempt.
    expect(await app.exec('SELECT user_id, last_error FROM workos_migrate.outbox WHERE uncertain')).toEqual(
      [],
    );
    await waitFor(() => standby.worker.leader, 1_800, 'the standby took over');
    expect(Date.now() - stoppedAt).toBeLessThan(1_800);
    expect(leader.worker.leader).toBe(false);

    await drained();
    expect(await deadRows()).toEqual([]);
    expect(t.emulator.control.userCount()).toBe(20);
    for (const id of ids)
      expect(await localWorkosId(id)).toBe(t.emulator.control.getUser(`app_${id}`)?.user.id);
  });

  it('a leader that can no longer renew stops calling; the other takes over once its lease expires', async () => {
    const [one, two, pools] = await twoWorkers();
    const leaderIndex = one.worker.leader ? 0 : 1;
    const standby = leaderIndex === 0 ? two : one;
    const leader = leaderIndex === 0 ? one : two;
    t.emulator.control.configure({ faults: { latencyMs: { min: 20, max: 40 } } });
    const ids = await insertMany('renewals', 20);
    await waitFor(() => t.emulator.control.userCount() > 0, 10_000, 'the leader started');

    // The leader's database connections die: it cannot renew (nor record results).
    await pools[leaderIndex]?.close();
    await waitFor(() => !leader.worker.leader, 1_800, 'the old leader stood down');
    await waitFor(() => standby.worker.leader, 3_000, 'the standby took over');

    await drained();
    expect(await deadRows()).toEqual([]);
    expect(t.emulator.control.userCount()).toBe(20);
    for (const id of ids)
      expect(await localWorkosId(id)).toBe(t.emulator.control.getUser(`app_${id}`)?.user.id);
  });
});

describe('a refused API key', () => {
  it('stops the worker with an error naming the API key; nothing dead-lettered', async () => {
    const wrongKey = 'sk_test_this_key_is_wrong_0123456789';
    secrets.apiKeys.add(wrongKey);
    const migrate = await startEngine({
      workos: { apiKey: wrongKey, clientId: t.emulator.clientId, apiUrl: t.emulator.url },
    });
    const id = await insertUser({ email: email('badkey'), password_hash: passwordHash('badkey').hash });
    await expect(migrate.syncNow(id, { timeoutMs: 10_000 })).rejects.toThrow(/API key/);
    await waitFor(() => !migrate.worker.running, 5_000, 'the worker stopped');
    expect(await deadRows()).toEqual([]);
    expect(await pendingRows()).toBe(1);
    expect(t.emulator.control.userCount()).toBe(0);
  });
});

// Runs last and reads what every test above logged and stored: run the whole file, not this test alone.
describe('no secrets', () => {
  it('no log line and no library table holds a password, a hash or an API key', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(secrets.passwords.size).toBeGreaterThan(50);
    const everything = [...logLines, ...tableDumps];
    for (const line of everything) {
      for (const secret of [...secrets.passwords, ...secrets.hashes, ...secrets.apiKeys]) {
        if (line.includes(secret)) throw new Error(`a secret leaked into: ${line.slice(0, 200)}`);
      }
    }
  });
});

// Worker guards. Poison rows (issue 11.2): a row that fails with something other than a WorkOS answer
// counts its attempts and dead-letters as internal_error, stores no SQL text or parameter values, and
// never holds up the others; an external id that is no local id of the key type is never taken for one
// of ours. The mass-delete guard over a sliding window (issue 11.6): deletes done in batches slower
// than the worker add up (applied in WorkOS within deleteWindowMs plus pending) to deleteThreshold.
// Real PostgreSQL, the emulator, the real SDK.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { WorkosMigrateConfig } from 'workos-migrate';
import { type AppDatabase, openPostgres, resetTables, startedEngines } from './helpers/app.js';
import { startTestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

let app: AppDatabase & { url: string };
let t: Awaited<ReturnType<typeof startTestEmulator>>;
const engines = startedEngines(() => t.emulator);

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator();
});

afterEach(async () => {
  await engines.stopAll();
  t.emulator.control.reset();
  await app.exec('DROP TRIGGER IF EXISTS poison ON workos_migrate.sync_state');
  await resetTables(app);
});

afterAll(async () => {
  await t?.close();
  await app?.close();
});

function startEngine(overrides: Partial<WorkosMigrateConfig> = {}) {
  return engines.start(app.db, overrides);
}

async function insertUser(address: string): Promise<string> {
  const [row] = await app.exec(
    `INSERT INTO users (email, first_name, email_verified) VALUES ($1, 'Poison', true) RETURNING id::text AS id`,
    [address],
  );
  return String(row?.id);
}

async function outboxRow(id: string): Promise<Record<string, unknown> | undefined> {
  const [row] = await app.exec(
    'SELECT dead, dead_reason, attempts, last_error FROM workos_migrate.outbox WHERE user_id = $1',
    [id],
  );
  return row;
}

it("a foreign WorkOS user's external id that is no integer id (default prefix ''): dead email_owned_elsewhere, no SQL stored", async () => {
  await t.emulator.control.seedUsers([{ email: 'foreign@example.com', external_id: 'okta|00u1abc' }]);
  const migrate = await startEngine({ externalIdPrefix: '', worker: { maxAttempts: 4 } });
  const id = await insertUser('foreign@example.com');
  const result = await migrate.syncNow(id, { timeoutMs: 20_000 });
  expect(result).toMatchObject({ status: 'dead', reason: 'email_owned_elsewhere' });
  const row = await outboxRow(id);
  expect(String(row?.last_error)).not.toMatch(/Failed query|params:|select|okta/i);
  expect(t.emulator.control.getUser('okta|00u1abc')?.user.email).toBe('foreign@example.com');
});

it('a row the database refuses is retried as an attempt, dead-letters internal_error, and never slows the others', async () => {
  const migrate = await startEngine({ worker: { maxAttempts: 3, retryBaseMs: 100 } });
  const poisoned = await insertUser('poisoned@example.com');
  // Every attempt to record this one user fails inside PostgreSQL (a bug, a constraint, a cast: anything
  // that is not a WorkOS answer).
  await app.exec(`CREATE OR REPLACE FUNCTION pg_temp_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.user_id = '${poisoned}' THEN RAISE EXCEPTION 'poison row refused'; END IF; RETURN NEW; END $$`);
  await app.exec(
    'CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON workos_migrate.sync_state FOR EACH ROW EXECUTE FUNCTION pg_temp_poison()',
  );
  const others: string[] = [];
  for (let i = 0; i < 20; i++) others.push(await insertUser(`healthy${i}-${poisoned}@example.com`));

  const startedAt = Date.now();
  await waitFor(
    async () => {
      const [row] = await app.exec(
        `SELECT count(*)::int AS n FROM workos_migrate.sync_state WHERE user_id IN (${others.map((_, i) => `$${i + 1}`).join(', ')})`,
        others,
      );
      return Number(row?.n) === others.length;
    },
    20_000,
    'every healthy user synced',
  );
  const healthyMs = Date.now() - startedAt;
  const dead = await waitFor(
    async () => {
      const row = await outboxRow(poisoned);
      return row?.dead ? row : null;
    },
    30_000,
    'the poison row dead-lettered',
  );
  expect(dead).toMatchObject({ dead_reason: 'internal_error', attempts: 3 });
  const stored = String(dead.last_error);
  // PostgreSQL's own message, not drizzle's "Failed query: <sql> params: <values>".
  expect(stored).toContain('poison row refused');
  expect(stored).not.toMatch(/Failed query|params:|INSERT|sync_state|poisoned@example\.com/);
  expect((await migrate.status()).dead).toEqual({ internal_error: 1 });
  // The healthy users did not wait for the poison row's retries.
  expect(healthyMs).toBeLessThan(15_000);
});

const pending = async () =>
  Number(
    (await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE NOT dead AND NOT held'))[0]
      ?.n,
  );

it('three batches of 4 deletes, each drained before the next: the third is held (threshold 8 within the window)', async () => {
  const migrate = await startEngine({ deleteThreshold: 8 });
  const values = Array.from({ length: 15 }, (_, i) => `('window${i}@example.com')`).join(', ');
  await app.exec(`INSERT INTO users (email) VALUES ${values}`);
  await waitFor(
    async () => (await pending()) === 0 && t.emulator.control.userCount() === 15,
    20_000,
    'synced',
  );

  const deleteBatch = async () => {
    await app.exec('DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 4)');
    await waitFor(async () => (await pending()) === 0, 20_000, 'batch done');
  };
  // 4 then 8 within the window: at the threshold, not beyond it; each batch alone is far below it.
  await deleteBatch();
  await deleteBatch();
  expect(t.emulator.control.userCount()).toBe(7);
  // 12 within the window: held for an operator, nothing more deleted in WorkOS.
  await app.exec('DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 4)');
  await waitFor(
    async () => (await migrate.status()).deletesAwaitingConfirmation === 4,
    10_000,
    'deletes held',
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(t.emulator.control.userCount()).toBe(7);

  expect(await migrate.confirmDeletes()).toBe(4);
  await waitFor(async () => (await pending()) === 0, 20_000, 'confirmed deletes done');
  expect(t.emulator.control.userCount()).toBe(3);
  // Confirmed deletes do not count against the window: a single delete afterwards still goes through.
  await app.exec('DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 1)');
  await waitFor(() => t.emulator.control.userCount() === 2, 10_000, 'a later single delete applied');
  expect((await migrate.status()).dead).toEqual({});
});

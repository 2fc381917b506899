// Poison rows (issue 11.2): a row that fails with something other than a WorkOS answer counts its
// attempts and dead-letters as internal_error, stores no SQL text or parameter values, and never holds
// up the others; an external id that is no local id of the key type is never taken for one of ours.
// Real PostgreSQL, the emulator, the real SDK.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { WorkosMigrateConfig } from 'workos-migrate';
import { type AppDatabase, openPostgres, startedEngines } from './helpers/app.js';
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
  await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader');
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

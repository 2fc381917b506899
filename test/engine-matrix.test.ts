// The user's setup, not ours: an app role that does not own the users table (granted only table
// privileges), a worker role holding exactly what `workerGrantsSql` prints, each key type and each
// Drizzle driver. Capture, backfill (cursor over several pages), live changes, deletes and status.
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRole } from 'workos-migrate/drizzle';
import { type Driver, engine, type KeyType, openPostgres, type PostgresApp, sql } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

const cases: { key: KeyType; driver: Driver }[] = [
  { key: 'integer', driver: 'postgres-js' },
  { key: 'uuid', driver: 'node-postgres' },
  { key: 'bigint', driver: 'node-postgres' },
  { key: 'text', driver: 'postgres-js' },
  { key: 'uuid', driver: 'postgres-js' },
  { key: 'integer', driver: 'node-postgres' },
];

let t: TestEmulator;
beforeAll(async () => {
  t = await startTestEmulator();
});
afterAll(() => t.close());

describe.each(cases)('$key keys on $driver, app role not the owner', ({ key, driver }) => {
  let app: PostgresApp;
  beforeAll(async () => {
    app = await openPostgres({ key, driver, roles: true });
  });
  afterAll(() => app.close());

  // One emulator for every case: each case's emails and external ids are its own.
  const domain = `${key}.${driver}.example.com`;
  const prefix = `${key}_${driver}_`;
  const remote = (id: string) => t.emulator.control.getUser(`${prefix}${id}`)?.user;

  it('the app role writes through the trigger without any grant on workos_migrate', async () => {
    // Raw SQL through the driver and a Drizzle statement, both as the app role.
    const hash = bcrypt.hashSync('correct horse', 4);
    const raw = await app.exec(
      'INSERT INTO users (email, password_hash) VALUES ($1, $2), ($3, $4) RETURNING id::text AS id',
      [`raw1@${domain}`, hash, `raw2@${domain}`, hash],
    );
    await app.appDb.execute(
      sql`INSERT INTO users (email, first_name) VALUES (${`drizzle@${domain}`}, 'Dee')`,
    );
    await app.exec('UPDATE users SET first_name = $1 WHERE id = $2', ['Ray', raw[0]?.id]);
    const queued = await app.admin('SELECT count(*)::int AS n FROM workos_migrate.outbox');
    expect(queued[0]?.n).toBe(3);
    // The library's schema stays closed to the app role: it cannot call enqueue or read the outbox.
    await expect(app.exec("SELECT workos_migrate.enqueue('1', false, false, NULL)")).rejects.toThrow(
      /permission denied/,
    );
    await expect(app.exec('SELECT * FROM workos_migrate.outbox')).rejects.toThrow(/permission denied/);
    const report = await checkRole(app.db, app.mapping, `${app.database.name}_app`);
    expect(report.writesUsers).toEqual(['INSERT', 'UPDATE', 'DELETE']);
    expect(report.workerMissing.length).toBeGreaterThan(0);
    expect((await checkRole(app.db, app.mapping, `${app.database.name}_worker`)).workerMissing).toEqual([]);
  });

  it('backfills every user across cursor pages, then mirrors live changes and deletes', async () => {
    // 23 more users, then forget every queued row: all 26 are "existing users" for the backfill.
    await app.exec(
      `INSERT INTO users (email) SELECT 'bulk' || g || '@' || $1 FROM generate_series(1, 23) g`,
      [domain],
    );
    await app.admin('TRUNCATE workos_migrate.outbox');
    const migrate = engine(app.db, t.emulator, { users: app.mapping, externalIdPrefix: prefix });
    try {
      // Pages of 5: the cursor is compared in the key's own type (no max() over a uuid).
      expect(await migrate.enqueueBackfill({ batchSize: 5 })).toBe(26);
      expect(await migrate.enqueueBackfill({ batchSize: 5 })).toBe(0);
      await migrate.worker.start();
      await waitFor(async () => {
        const status = await migrate.status();
        return status.synced === 26 && status.pending.backfill === 0 && status.pending.live === 0;
      }, 60_000);
      const status = await migrate.status();
      expect(status).toMatchObject({ users: 26, synced: 26, dead: {} });

      const [target, gone] = await app.exec(
        "SELECT id::text AS id FROM users WHERE email LIKE 'bulk%' ORDER BY email LIMIT 2",
      );
      const targetId = String(target?.id);
      const goneId = String(gone?.id);
      expect(remote(targetId)?.email).toMatch(/^bulk/);
      await app.exec('UPDATE users SET email = $1 WHERE id = $2', [`moved@${domain}`, targetId]);
      await app.exec('DELETE FROM users WHERE id = $1', [goneId]);
      expect(await migrate.syncNow(targetId, { timeoutMs: 30_000 })).toMatchObject({ status: 'synced' });
      // The delete is done once its sync_state row is gone too (it goes after the WorkOS call).
      await waitFor(
        async () => remote(goneId) === undefined && (await migrate.status()).synced === 25,
        30_000,
      );
      expect(remote(targetId)?.email).toBe(`moved@${domain}`);
      const after = await migrate.status();
      expect(after).toMatchObject({ users: 25, synced: 25, dead: {} });
      // The worker role wrote workos_user_id back through its column grant.
      const [linked] = await app.exec('SELECT workos_user_id FROM users WHERE id = $1', [targetId]);
      expect(linked?.workos_user_id).toBe(remote(targetId)?.id);
    } finally {
      await migrate.close();
    }
  }, 180_000);
});

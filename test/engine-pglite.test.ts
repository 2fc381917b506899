// The core data path on PGlite (the embedded default): same trigger, same worker, one process.
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkosMigrate } from 'workos-migrate';
import { type AppDatabase, engine, openPglite } from './helpers/app.js';
import { startTestEmulator } from './helpers/emulator.js';

let app: AppDatabase;
let t: Awaited<ReturnType<typeof startTestEmulator>>;
let migrate: WorkosMigrate;

beforeAll(async () => {
  app = await openPglite();
  t = await startTestEmulator();
  migrate = engine(app.db, t.emulator);
  await migrate.worker.start();
});

afterAll(async () => {
  await migrate.worker.stop();
  await t.close();
  await app.close();
});

describe('PGlite', () => {
  it('mirrors insert, update, password change and delete', async () => {
    const [row] = await app.exec(
      `INSERT INTO users (email, first_name, email_verified, password_hash) VALUES ($1, $2, true, $3) RETURNING id`,
      ['lite@example.com', 'Lite', bcrypt.hashSync('embedded one', 4)],
    );
    const id = String(row?.id);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.getUser(`app_${id}`)?.user).toMatchObject({
      email: 'lite@example.com',
      first_name: 'Lite',
    });

    await app.exec('UPDATE users SET first_name = $1, password_hash = $2 WHERE id = $3', [
      'Lighter',
      bcrypt.hashSync('embedded two', 4),
      id,
    ]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.getUser(`app_${id}`)?.user.first_name).toBe('Lighter');
    await t.workos.userManagement.authenticateWithPassword({
      email: 'lite@example.com',
      password: 'embedded two',
      clientId: t.emulator.clientId,
    });

    await app.exec('DELETE FROM users WHERE id = $1', [id]);
    expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
    expect(t.emulator.control.userCount()).toBe(0);
  });

  it('backfills existing users and reports status', async () => {
    // Rows written before the library existed: no outbox rows for them.
    await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture');
    for (let i = 0; i < 25; i++)
      await app.exec('INSERT INTO users (email) VALUES ($1)', [`old${i}@example.com`]);
    await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture');
    expect((await migrate.status()).pending).toEqual({ live: 0, backfill: 0 });
    expect(await migrate.enqueueBackfill({ batchSize: 10 })).toBe(25);
    // Safe to run again: nothing new is added.
    expect(await migrate.enqueueBackfill({ batchSize: 10 })).toBe(0);
    // Done means nothing pending, not just 25 synced: under load a write can time out (lease / 3) and
    // its row then waits 2 x lease for a verification pass after the user is already synced.
    const deadline = Date.now() + 30_000;
    const done = async () => {
      const { synced, pending } = await migrate.status();
      return synced === 25 && pending.live + pending.backfill === 0;
    };
    while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const status = await migrate.status();
    expect(status).toMatchObject({ users: 25, synced: 25, pending: { live: 0, backfill: 0 }, dead: {} });
    expect(status.leader).not.toBeNull();
    expect(t.emulator.control.userCount()).toBe(25);
  });
});

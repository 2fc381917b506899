// Issue 11 item 8, the re-link: after the local state was lost (the library's tables reinstalled,
// WorkOS already holding every user) a backfill links each user again. The create answers "email
// taken", the retry finds the user by our external_id, and an update follows only when something
// must be sent: a field that differs, or a password (WorkOS never shows its password state, so a
// local password is always sent: skipping it could keep an older one alive). Calls are counted on
// the emulator. Real PostgreSQL, the emulator, the real SDK.
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkosMigrate } from 'workos-migrate';
import { type AppDatabase, engine, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

let app: AppDatabase & { url: string };
let t: TestEmulator;
/** Paths of the PUTs WorkOS answered 200 (the users each update went to). */
const updated: string[] = [];
let watchUpdates = false;

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator({
    requireEmailVerification: false,
    onResponse: (response) => {
      if (watchUpdates && response.method === 'PUT' && response.status === 200) updated.push(response.path);
    },
  });
});

afterAll(async () => {
  await t?.close();
  await app?.close();
});

async function drained(migrate: WorkosMigrate): Promise<void> {
  await waitFor(
    async () => {
      const [row] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox');
      return Number(row?.n) === 0;
    },
    60_000,
    'outbox drained',
  );
  expect((await migrate.status()).dead).toEqual({});
}

describe('re-link after the local state was lost', () => {
  it('2 calls for a passwordless user WorkOS already holds as is, 3 when a password or a field must be sent', async () => {
    const hash = bcrypt.hashSync('correct horse battery', 4);
    const groups = { same: 12, password: 8, changed: 6 };
    const ids: Record<keyof typeof groups, string[]> = { same: [], password: [], changed: [] };
    for (const [group, n] of Object.entries(groups) as [keyof typeof groups, number][]) {
      for (let i = 0; i < n; i++) {
        const [row] = await app.exec(
          `INSERT INTO users (email, first_name, last_name, email_verified, password_hash, plan)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [
            `${group}-${i}@example.com`,
            `First ${i}`,
            i % 2 === 0 ? `Last ${i}` : null,
            i % 3 === 0,
            group === 'password' ? hash : null,
            i % 2 === 0 ? 'pro' : null,
          ],
        );
        ids[group].push(String(row?.id));
      }
    }
    const first = engine(app.db, t.emulator, { worker: { retryBaseMs: 20 } });
    await first.worker.start();
    await first.enqueueBackfill();
    await drained(first);
    await first.worker.stop();
    const total = groups.same + groups.password + groups.changed;
    expect(t.emulator.control.userCount()).toBe(total);
    const workosIdOf = new Map(
      (await app.exec('SELECT id::text AS id, workos_user_id FROM users')).map((r) => [
        String(r.id),
        String(r.workos_user_id),
      ]),
    );

    // The local state is lost (the library's tables emptied, as a reinstall leaves them; the link
    // column cleared), and while nothing captured them, some users changed a field.
    await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader');
    await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture');
    await app.exec('UPDATE users SET workos_user_id = NULL');
    for (const [i, id] of ids.changed.entries()) {
      const change =
        i % 3 === 0 ? `first_name = 'Renamed'` : i % 3 === 1 ? `plan = 'team'` : 'email_verified = true';
      await app.exec(`UPDATE users SET ${change} WHERE id = $1`, [id]);
    }
    await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture');

    t.emulator.control.resetCounters();
    watchUpdates = true;
    const again = engine(app.db, t.emulator, { worker: { retryBaseMs: 20 } });
    await again.worker.start();
    expect(await again.enqueueBackfill()).toBe(total);
    await drained(again);
    await again.worker.stop();
    watchUpdates = false;

    const { byRoute } = t.emulator.control.counters();
    const calls = Object.values(byRoute).reduce((a, n) => a + n, 0);
    // Per user: the create ("taken") and the lookup by external id; an update only for those below.
    expect(byRoute['POST /user_management/users']).toBe(total);
    expect(byRoute['GET /user_management/users/external_id/{external_id}']).toBe(total);
    expect(byRoute['PUT /user_management/users/{id}']).toBe(groups.password + groups.changed);
    expect(calls).toBe(2 * total + groups.password + groups.changed);
    // The updates went to exactly the users with a password or a changed field.
    const mustSend = [...ids.password, ...ids.changed].map(
      (id) => `/user_management/users/${workosIdOf.get(id)}`,
    );
    expect([...updated].sort()).toEqual(mustSend.sort());
    // Linked again to the same WorkOS users, nothing duplicated, the changes in WorkOS.
    expect(t.emulator.control.userCount()).toBe(total);
    for (const [id, workosId] of workosIdOf) {
      const [row] = await app.exec('SELECT workos_user_id FROM users WHERE id = $1', [id]);
      expect(row?.workos_user_id).toBe(workosId);
    }
    expect(t.emulator.control.getUser(`app_${ids.changed[0]}`)?.user.first_name).toBe('Renamed');
    expect(t.emulator.control.getUser(`app_${ids.changed[1]}`)?.user.metadata).toEqual({ plan: 'team' });
    expect(t.emulator.control.getUser(`app_${ids.changed[2]}`)?.user.email_verified).toBe(true);
    // The password went again (WorkOS never shows it, so it cannot be known to be the same).
    const [state] = await app.exec(
      `SELECT count(*)::int AS n FROM workos_migrate.sync_state WHERE password_state = 'synced'`,
    );
    expect(state?.n).toBe(groups.password);
  }, 120_000);
});

// Worker cost per synced user (issue 11.7): a full queue is claimed in batches, and a batch shares its
// starting reads and its create intents, so the worker runs far fewer than the five statements per user
// it used to (a claim of one, two reads, an intent and the completion). The CPU figure itself is in
// bench/worker-cpu.mjs; this counts the statements the worker sends through the app's own database.
// Real PostgreSQL, the emulator, the real SDK.
import type { SQL } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrizzleDatabase } from 'workos-migrate';
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

afterAll(async () => {
  await engines.stopAll();
  await t?.close();
  await app?.close();
});

it('a queue of 96 new users is synced with fewer than 3 statements per user, every one of them created once with its own email', async () => {
  const count = 96;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const [row] = await app.exec(
      `INSERT INTO users (email, first_name, email_verified) VALUES ($1, 'Batch', true) RETURNING id::text AS id`,
      [`batch${i}@example.com`],
    );
    ids.push(String(row?.id));
  }
  let statements = 0;
  const counted: DrizzleDatabase = {
    execute: (statement: SQL) => {
      statements += 1;
      return app.db.execute(statement);
    },
    transaction: (work) =>
      app.db.transaction((tx) =>
        work({
          execute: (statement: SQL) => {
            statements += 1;
            return tx.execute(statement);
          },
        }),
      ),
  };
  await engines.start(counted, { worker: { concurrency: 16, ratePerSecond: 100_000 } });
  await waitFor(
    async () => {
      const [row] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox');
      return row?.n === 0;
    },
    60_000,
    'outbox drained',
  );
  const perUser = statements / count;
  // Before batching: about 5 per user (4.4 measured here); the leader lease and idle polls add a few.
  expect(perUser).toBeLessThan(3);
  const [synced] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.sync_state');
  expect(synced?.n).toBe(count);
  for (const [i, id] of ids.entries()) {
    expect(t.emulator.control.getUser(`app_${id}`)?.user.email).toBe(`batch${i}@example.com`);
  }
  expect(t.emulator.control.listUsers()).toHaveLength(count);
});

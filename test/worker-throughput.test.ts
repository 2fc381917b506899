// Worker throughput. Cost per synced user (issue 11.7): a full queue is claimed in batches, and a batch
// shares its starting reads and its create intents, so the worker runs far fewer than the five
// statements per user it used to (a claim of one, two reads, an intent and the completion); the CPU
// figure is in bench/worker-cpu.mjs. The write rate at WorkOS's documented limit (issue 11.8): by
// default the worker starts safely under 500 writes per 10 s, probes upward to it on clean answers, and
// live changes take rate tokens before waiting backfill writes; the figure is in
// bench/backfill-throughput.mjs. Real PostgreSQL, the emulator, the real SDK.
import type { SQL } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { DrizzleDatabase } from 'workos-migrate';
import { type AppDatabase, engine, openPostgres, resetTables, startedEngines } from './helpers/app.js';
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
  await resetTables(app);
});

afterAll(async () => {
  await t?.close();
  await app?.close();
});

it("on defaults the rate starts at 45/s and clean answers raise it to WorkOS's documented 50/s, never above", async () => {
  for (let i = 0; i < 150; i++) {
    await app.exec(`INSERT INTO users (email, first_name, email_verified) VALUES ($1, 'Rate', true)`, [
      `rate${i}@example.com`,
    ]);
  }
  const migrate = engine(app.db, t.emulator, { worker: { ratePerSecond: undefined } });
  expect(migrate.worker.currentRate).toBe(45);
  const started = await engines.start(app.db, { worker: { ratePerSecond: undefined } });
  await waitFor(
    async () => {
      const [row] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.sync_state');
      return row?.n === 150;
    },
    30_000,
    'backfill synced',
  );
  expect(started.worker.currentRate).toBe(50);
});

it('a live change claimed behind waiting backfill writes takes the next rate token', async () => {
  const backfill: string[] = [];
  for (let i = 0; i < 12; i++) {
    const [row] = await app.exec(
      `INSERT INTO users (email, first_name, email_verified) VALUES ($1, 'Backfill', true) RETURNING id::text AS id`,
      [`backfill${i}@example.com`],
    );
    backfill.push(String(row?.id));
  }
  // Installed before these users existed would queue them live: queue them as a backfill does.
  await app.exec('UPDATE workos_migrate.outbox SET priority = 1');
  // 1.8 writes/s at first: the 8 claimed backfill rows wait for tokens one after another.
  await engines.start(app.db, { worker: { ratePerSecond: 2, concurrency: 8 } });
  await waitFor(
    async () =>
      Number((await app.exec('SELECT count(*)::int AS n FROM workos_migrate.sync_state'))[0]?.n ?? 0) >= 1,
    15_000,
    'first backfill write',
  );
  const [live] = await app.exec(
    `INSERT INTO users (email, first_name, email_verified) VALUES ('live@example.com', 'Live', true) RETURNING id::text AS id`,
  );
  const liveId = String(live?.id);
  await waitFor(
    async () =>
      (await app.exec('SELECT 1 FROM workos_migrate.sync_state WHERE user_id = $1', [liveId])).length > 0,
    30_000,
    'live change synced',
  );
  const [before] = await app.exec(
    `SELECT count(*)::int AS n FROM workos_migrate.sync_state s, workos_migrate.sync_state l
     WHERE l.user_id = $1 AND s.user_id <> $1 AND s.synced_at < l.synced_at`,
    [liveId],
  );
  // Claimed once half the 8 slots were free (4 writes at most after it was queued), then first in
  // line for a token: at most 6 backfill writes before it. Without the priority it waited behind every
  // backfill row claimed before it (9 here).
  expect(before?.n).toBeLessThanOrEqual(6);
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

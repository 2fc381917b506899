// Lease discipline as a property (issue 11.1): whatever the interleaving of local writes, 429s with a
// Retry-After longer than the lease, dropped connections, answers that never come, slow answers and a
// short lease, WorkOS ends equal to the local rows for every user, exactly once each.
// Real PostgreSQL, the emulator, the real SDK. LEASE_PROPERTY_RUNS raises the number of runs
// (bench/lease-property.mjs runs the long version).
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ScriptedFault } from 'workos-migrate/emulator';
import { type AppDatabase, engine, openPostgres, resetTables } from './helpers/app.js';
import { startTestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

const RUNS = Number(process.env.LEASE_PROPERTY_RUNS ?? 6);
const USERS = 3;
const LEASE_MS = 1_200;

let app: AppDatabase & { url: string };
let t: Awaited<ReturnType<typeof startTestEmulator>>;

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator();
});

afterAll(async () => {
  await t?.close();
  await app?.close();
});

type Step =
  | { kind: 'write'; user: number; field: 'email' | 'first_name' }
  | { kind: 'fault'; fault: ScriptedFault }
  | { kind: 'pause'; ms: number };

const writes = '/user_management/users';
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      user: fc.nat(USERS - 1),
      field: fc.constantFrom('email' as const, 'first_name' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      fault: fc.oneof(
        // Retry-After up to 2.5 lease lengths: tasks wait in the limiter past their lease.
        fc.record({
          kind: fc.constant('rate_limit' as const),
          method: fc.constant('PUT'),
          path: fc.constant(writes),
          retryAfterSeconds: fc.integer({ min: 1, max: 3 }),
        }),
        fc.record({
          kind: fc.constant('drop' as const),
          method: fc.constant('PUT'),
          path: fc.constant(writes),
        }),
        fc.record({
          kind: fc.constant('applied_unanswered' as const),
          method: fc.constantFrom('PUT', 'POST'),
          path: fc.constant(writes),
        }),
        // Answered inside the 400 ms client timeout, or landing after it (a stray, before verification).
        fc.record({
          kind: fc.constant('stall' as const),
          method: fc.constant('PUT'),
          path: fc.constant(writes),
          delayMs: fc.constantFrom(250, 700),
        }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 50, max: 1_500 }) }),
  },
);

async function pending(): Promise<number> {
  const [row] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE NOT dead');
  return Number(row?.n);
}

let counter = 0;

async function runInterleaving(steps: Step[]): Promise<void> {
  t.emulator.control.reset();
  await resetTables(app);
  const ids: string[] = [];
  for (let i = 0; i < USERS; i++) {
    counter += 1;
    const [row] = await app.exec(
      `INSERT INTO users (email, first_name) VALUES ($1, 'Start') RETURNING id::text AS id`,
      [`p${counter}@example.com`],
    );
    ids.push(String(row?.id));
  }
  const migrate = engine(app.db, t.emulator, { worker: { leaseMs: LEASE_MS, maxAttempts: 1_000 } });
  await migrate.worker.start();
  try {
    for (const action of steps) {
      if (action.kind === 'fault') t.emulator.control.script(action.fault);
      else if (action.kind === 'pause') await new Promise((resolve) => setTimeout(resolve, action.ms));
      else {
        counter += 1;
        const value = action.field === 'email' ? `p${counter}@example.com` : `Name${counter}`;
        await app.exec(`UPDATE users SET ${action.field} = $1 WHERE id = $2`, [value, ids[action.user]]);
      }
    }
    // Drained, then past any stray request and its verification pass, drained again.
    await waitFor(async () => (await pending()) === 0, 40_000, 'outbox drained');
    t.emulator.control.clearScripts();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await waitFor(async () => (await pending()) === 0, 40_000, 'outbox drained after the strays');
  } finally {
    await migrate.worker.stop();
  }
  const dead = await app.exec(
    'SELECT user_id, dead_reason, last_error FROM workos_migrate.outbox WHERE dead',
  );
  expect(dead).toEqual([]);
  const local = await app.exec(
    'SELECT id::text AS id, email, first_name, workos_user_id FROM users ORDER BY id',
  );
  expect(t.emulator.control.userCount()).toBe(local.length);
  for (const row of local) {
    const remote = t.emulator.control.getUser(`app_${row.id}`)?.user;
    expect(remote, `user ${row.id} after ${JSON.stringify(steps)}`).toMatchObject({
      id: row.workos_user_id,
      email: row.email,
      first_name: row.first_name,
    });
    const [state] = await app.exec(
      'SELECT email, first_name FROM workos_migrate.sync_state WHERE user_id = $1',
      [row.id],
    );
    expect(state).toMatchObject({ email: row.email, first_name: row.first_name });
  }
}

it(
  `${RUNS} random interleavings end with WorkOS equal to the local rows`,
  async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 12 }), runInterleaving), {
      numRuns: RUNS,
      endOnFailure: true,
    });
  },
  55_000 + RUNS * 60_000,
);

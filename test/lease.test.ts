// Lease discipline (issue 11.1): one sync per user at a time, nothing sent after a lease is lost,
// sync_state written only under the lease, and a write whose lease was lost afterwards re-verified.
// Real PostgreSQL, the emulator, the real SDK.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { WorkosMigrateConfig } from 'workos-migrate';
import { type AppDatabase, openPostgres, startedEngines } from './helpers/app.js';
import { startTestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

let app: AppDatabase & { url: string };
let t: Awaited<ReturnType<typeof startTestEmulator>>;
const engines = startedEngines(() => t.emulator);
/** Emails of the user updates WorkOS applied, in order (a test resets it). */
let appliedEmails: string[] = [];

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator({
    onResponse: (response) => {
      if (response.method === 'PUT' && response.status === 200)
        appliedEmails.push(String((response.body as { email?: string }).email));
    },
  });
});

afterEach(async () => {
  await engines.stopAll();
  t.emulator.control.reset();
  t.emulator.control.configure({ faults: {} });
});

afterAll(async () => {
  await t?.close();
  await app?.close();
});

function startEngine(overrides: Partial<WorkosMigrateConfig> = {}) {
  return engines.start(app.db, overrides);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function pending(): Promise<number> {
  const [row] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE NOT dead');
  return Number(row?.n);
}

it('a 429 with Retry-After longer than the lease, then e0 -> e1 -> e2: WorkOS, sync_state and local all end on e2', async () => {
  const migrate = await startEngine({ worker: { leaseMs: 1_500 } });
  const [inserted] = await app.exec(
    `INSERT INTO users (email, first_name) VALUES ('e0@example.com', 'Lease') RETURNING id::text AS id`,
  );
  const id = String(inserted?.id);
  expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });

  appliedEmails = [];
  t.emulator.control.script({
    kind: 'rate_limit',
    method: 'PUT',
    path: '/user_management/users',
    retryAfterSeconds: 3,
  });
  await app.exec(`UPDATE users SET email = 'e1@example.com' WHERE id = $1`, [id]);
  await waitFor(() => t.emulator.control.counters().rateLimited > 0, 10_000, 'the scripted 429');
  // Past the first lease (1.5 s), inside the Retry-After pause (3 s): the row is re-claimable.
  await sleep(1_800);
  await app.exec(`UPDATE users SET email = 'e2@example.com' WHERE id = $1`, [id]);

  await waitFor(async () => (await pending()) === 0, 30_000, 'outbox drained');
  // Anything still waiting in this process (a stale task) has had its chance to send by now.
  await sleep(4_000);
  await waitFor(async () => (await pending()) === 0, 30_000, 'outbox drained again');
  // The task that read e1 waited out its lease in the rate limiter: it sent nothing, and no second
  // task ran for the same user meanwhile. Only the current row went out.
  expect(appliedEmails).toEqual(['e2@example.com']);
  expect(t.emulator.control.getUser(`app_${id}`)?.user.email).toBe('e2@example.com');
  const [state] = await app.exec('SELECT email FROM workos_migrate.sync_state WHERE user_id = $1', [id]);
  expect(state?.email).toBe('e2@example.com');
  expect((await migrate.status()).dead).toEqual({});
}, 90_000);

async function insertUser(address: string): Promise<string> {
  const [row] = await app.exec(
    `INSERT INTO users (email, first_name) VALUES ($1, 'Lease') RETURNING id::text AS id`,
    [address],
  );
  return String(row?.id);
}

async function syncedEmail(id: string): Promise<unknown> {
  const [row] = await app.exec('SELECT email FROM workos_migrate.sync_state WHERE user_id = $1', [id]);
  return row?.email;
}

it('a write answered after its lease was taken records nothing and queues the user for verification', async () => {
  const migrate = await startEngine({ worker: { leaseMs: 1_500 } });
  const id = await insertUser('lost-before@example.com');
  expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });

  // The PUT is answered after 300 ms (inside its 500 ms client timeout); meanwhile the lease is taken,
  // as by another worker after a failover.
  t.emulator.control.script({ kind: 'stall', method: 'PUT', path: '/user_management/users', delayMs: 300 });
  await app.exec(`UPDATE users SET email = 'lost-after@example.com' WHERE id = $1`, [id]);
  await waitFor(() => t.emulator.control.counters().faults.stall === 1, 10_000, 'the stalled PUT');
  const [before] = await app.exec(
    `UPDATE workos_migrate.outbox SET lease_token = 'another-worker' WHERE user_id = $1 RETURNING version::int AS version`,
    [id],
  );
  const version = Number(before?.version);
  // The write landed; its sync noticed the lease was gone: nothing recorded, the user queued again.
  const requeued = await waitFor(
    async () => {
      const [row] = await app.exec(
        'SELECT version::int AS version, verifying FROM workos_migrate.outbox WHERE user_id = $1',
        [id],
      );
      return row && Number(row.version) > version ? row : null;
    },
    10_000,
    'the user queued for verification',
  );
  expect(requeued.verifying).toBe(true);
  expect(await syncedEmail(id)).toBe('lost-before@example.com');
  // Once the taken lease runs out, the verification pass records what WorkOS holds.
  await waitFor(async () => (await pending()) === 0, 30_000, 'outbox drained');
  expect(await syncedEmail(id)).toBe('lost-after@example.com');
  expect(t.emulator.control.getUser(`app_${id}`)?.user.email).toBe('lost-after@example.com');
}, 60_000);

it('a sync longer than its lease extends it: one pass, never claimed twice', async () => {
  const migrate = await startEngine({ worker: { leaseMs: 900 } });
  // The first create fails (so the retry looks the user up first), then every call takes 250 ms of
  // the 300 ms client timeout: three calls, longer than two thirds of the lease.
  t.emulator.control.script({ kind: 'error', method: 'POST', path: '/user_management/users', status: 500 });
  t.emulator.control.script({ kind: 'stall', path: '/user_management/users', delayMs: 250, count: 3 });
  const id = await insertUser('long-sync@example.com');
  const expiries = new Map<string, Set<string>>();
  const watching = (async () => {
    while (t.emulator.control.userCount() === 0 || (await pending()) > 0) {
      const [row] = await app.exec(
        'SELECT lease_token, lease_expires_at::text AS expires FROM workos_migrate.outbox WHERE user_id = $1',
        [id],
      );
      if (row?.lease_token) {
        const seen = expiries.get(String(row.lease_token)) ?? new Set<string>();
        seen.add(String(row.expires));
        expiries.set(String(row.lease_token), seen);
      }
      await sleep(20);
    }
  })();
  expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
  await watching;
  expect(t.emulator.control.counters().faults.stall).toBe(3);
  expect(t.emulator.control.userCount()).toBe(1);
  // The same lease (token) was seen with a later expiry: extended, not re-claimed.
  expect([...expiries.values()].some((seen) => seen.size > 1)).toBe(true);
  expect(await syncedEmail(id)).toBe('long-sync@example.com');
}, 60_000);

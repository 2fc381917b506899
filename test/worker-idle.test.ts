// An idle worker is cheap: after a few empty polls it backs off (to 5 x pollMs) and asks with a read on
// the claim index, never with the claim's UPDATE, until something is due; a change after the quiet
// spell is still mirrored, and syncNow() wakes it. Statements counted as the real driver sends them.

import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrizzleDatabase } from 'workos-migrate';
import { engine, openPostgres, type PostgresApp } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

let app: PostgresApp;
let t: TestEmulator;
let client: postgres.Sql;
/** Every statement the engine's connection pool sent, with when. */
const sent: { at: number; text: string }[] = [];

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator();
  client = postgres(app.url, {
    max: 3,
    onnotice: () => {},
    debug: (_connection, text) => sent.push({ at: Date.now(), text: String(text) }),
  });
});
afterAll(async () => {
  await client?.end({ timeout: 5 });
  await t?.close();
  await app?.close();
});

const POLL_MS = 100;
const isClaim = (text: string) => /UPDATE workos_migrate\.outbox o\s+SET lease_token/.test(text);
const isProbe = (text: string) => /SELECT EXISTS \(SELECT 1 FROM workos_migrate\.outbox/.test(text);

it('backs off while idle, asks by a read, and still mirrors the next change at once', async () => {
  const migrate = engine(drizzle(client) as unknown as DrizzleDatabase, t.emulator, {
    worker: { pollMs: POLL_MS },
  });
  await migrate.worker.start();
  try {
    // Past the first empty polls and the backoff's ramp (100, 200, 400, then 500 ms).
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const windowStart = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const inWindow = sent.filter((s) => s.at >= windowStart).map((s) => s.text);
    // Before: a claim (an UPDATE with row locks and the count trigger) every 100 ms, 15 in this window.
    expect(inWindow.filter(isClaim)).toEqual([]);
    const probes = inWindow.filter(isProbe).length;
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThanOrEqual(5);

    // A change after the quiet spell: found by the next probe, claimed and mirrored.
    await app.exec(`INSERT INTO users (email) VALUES ('idle-after@example.com')`);
    await waitFor(async () => (await migrate.status()).synced === 1, 20_000);

    // syncNow() wakes this process's worker: it claims without waiting out the backoff.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const [row] = await app.exec(`INSERT INTO users (email) VALUES ('idle-now@example.com') RETURNING id`);
    const result = await migrate.syncNow(Number(row?.id));
    expect(result.status).toBe('synced');
  } finally {
    await migrate.worker.stop();
  }
}, 60_000);

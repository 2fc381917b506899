// `npm start` twice in the same directory (the example app on embedded PGlite and the in-process
// emulator): the second start must tell the truth. Its database remembers every user as synced, so the
// emulator must still hold them (its data file beside the database), and a login through WorkOS works.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { type Collected, spawnCollecting } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';

const MAIN = fileURLToPath(new URL('../examples/app/dist/main.js', import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), 'wm-example-restart-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(cwd, { recursive: true, force: true });
});

async function start(): Promise<Collected> {
  const {
    WORKOS_API_KEY: _k,
    WORKOS_CLIENT_ID: _c,
    WORKOS_API_URL: _u,
    DATABASE_URL: _d,
    ...env
  } = process.env;
  const started = spawnCollecting(process.execPath, [MAIN], {
    cwd,
    env: {
      ...env,
      PORT: '0',
      SEED_USERS: '20',
      WORKOS_MIGRATE_ADMIN_TOKEN: 'restart-admin-token-0123456789',
    },
  });
  children.push(started.child);
  await waitFor(() => started.output().includes('Backfill done'), 120_000, 'the backfill to finish');
  return started;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  await exited;
}

/** The emulator's own answer (not the app's database): is this user in WorkOS? */
async function inWorkos(output: string, email: string): Promise<boolean> {
  const url = /the local WorkOS emulator at (http:\/\/[\d.:]+)/.exec(output)?.[1];
  expect(url).toBeDefined();
  const response = await fetch(`${url}/user_management/users?email=${encodeURIComponent(email)}`, {
    headers: { authorization: 'Bearer sk_test_emulator' },
  });
  const list = (await response.json()) as { data: unknown[] };
  return list.data.length === 1;
}

it('a second npm start finds WorkOS as the first left it', async () => {
  const first = await start();
  const done = /Backfill done in [\d.]+ s: (\d+) of (\d+) users in WorkOS/.exec(first.output());
  expect(Number(done?.[1])).toBeGreaterThan(0);
  expect(await inWorkos(first.output(), 'user1@example.com')).toBe(true);
  await stop(first.child);

  const second = await start();
  expect(second.output()).not.toContain('Seeding');
  const again = /Backfill done in [\d.]+ s: (\d+) of (\d+) users in WorkOS/.exec(second.output());
  expect(again?.[1]).toBe(done?.[1]);
  // What the line says is true: the users the database calls synced are in WorkOS.
  expect(await inWorkos(second.output(), 'user1@example.com')).toBe(true);
  await stop(second.child);
}, 300_000);

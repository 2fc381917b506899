// The dry run predicts exactly what the import dead-letters: both use one normalisation (all edge
// whitespace, lower case) and one validation (core/validate.ts). Every category of dirty data is seeded,
// `import --dry-run --json` is read, then `import` runs and the dead letters are counted by reason.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Text keys: an id of 61 characters makes app_<id> longer than WorkOS's 64-character external_id.
const TOO_LONG_ID = 'x'.repeat(61);

const CONFIG = `import { pgTable, text } from 'drizzle-orm/pg-core';
import { defineConfig, defineUsersMapping } from 'workos-migrate';
import { workosUserId } from 'workos-migrate/drizzle';

const users = pgTable('users', {
  id: text('id').primaryKey(),
  email: text('email'),
  passwordHash: text('password_hash'),
  workosUserId: workosUserId(),
});

export default defineConfig({
  users: defineUsersMapping({ table: users, id: users.id, email: users.email, passwordHash: users.passwordHash }),
  externalIdPrefix: 'app_',
  worker: { pollMs: 20, leaseMs: 3_000, leaderLeaseMs: 600, retryBaseMs: 20, retryMaxMs: 200, maxAttempts: 3 },
});
`;

let database: TestDatabase;
let client: postgres.Sql;
let t: TestEmulator;
let dir: string;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/cli/bin.js'), ...args], {
    cwd: dir,
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      WORKOS_API_URL: t.emulator.url,
      WORKOS_API_KEY: t.emulator.apiKey,
      WORKOS_CLIENT_ID: t.emulator.clientId,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  database = await createTestDatabase();
  client = postgres(database.url, { max: 2, onnotice: () => {} });
  await client.unsafe('CREATE TABLE users (id text PRIMARY KEY, email text, password_hash text)');
  t = await startTestEmulator({ requireEmailVerification: false });
  dir = mkdtempSync(join(tmpdir(), 'wm-agree-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'workos-migrate'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'drizzle-orm'), join(dir, 'node_modules', 'drizzle-orm'), 'dir');
  writeFileSync(join(dir, 'workos-migrate.config.ts'), CONFIG);
});

afterAll(async () => {
  await client?.end({ timeout: 5 });
  await t?.close();
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('dry run counts equal the import dead letters, category by category', async () => {
  const long = `${'a'.repeat(250)}@example.com`; // 262 characters: RFC 5321 allows 254
  const rows: [string, string | null][] = [
    ['u1', 'ok1@example.com'],
    ['u2', 'ok2@example.com'],
    ['u3', '\tspaced@example.com\n'], // valid once trimmed, as the import trims
    ['u4', null],
    ['u5', ''],
    ['u6', ' \t\r\n'], // whitespace only: missing
    ['u7', 'not-an-email'],
    ['u8', long],
    ['u9', 'dup@example.com'],
    ['u10', ' DUP@Example.com\t'], // the same address: tabs and case
    ['u11', 'dup@example.com\n'],
    [TOO_LONG_ID, 'toolong@example.com'], // its external_id is 65 characters
  ];
  for (const [id, email] of rows) await client`INSERT INTO users (id, email) VALUES (${id}, ${email})`;

  const dry = await run(['import', '--dry-run', '--json']);
  expect(dry.stdout, dry.stderr).not.toBe('');
  const report = JSON.parse(dry.stdout) as {
    emails: {
      missing: { count: number };
      invalid: { count: number };
      duplicates: { groups: number; users: number };
    };
    ids: { externalIdTooLong: { count: number } };
    wouldFail: number;
  };
  expect(report.emails.missing.count).toBe(3);
  expect(report.emails.invalid.count).toBe(2);
  expect(report.emails.duplicates).toMatchObject({ groups: 1, users: 3 });
  expect(report.ids.externalIdTooLong.count).toBe(1);
  expect(report.wouldFail).toBe(3 + 2 + 2 + 1);

  expect((await run(['install'])).code).toBe(0);
  const imported = await run(['import', '--rate', '500', '--json']);
  expect([0, 1]).toContain(imported.code);
  const status = JSON.parse((await run(['status', '--json'])).stdout) as {
    synced: number;
    dead: Record<string, number>;
  };
  expect(status.dead.missing_email).toBe(report.emails.missing.count);
  expect(status.dead.invalid_email).toBe(report.emails.invalid.count);
  expect(status.dead.external_id_too_long).toBe(report.ids.externalIdTooLong.count);
  const dead = Object.values(status.dead).reduce((a, n) => a + n, 0);
  expect(dead).toBe(report.wouldFail);
  expect(status.synced).toBe(rows.length - report.wouldFail);
}, 180_000);

it('a damaged hash is predicted and imported as needing a reset, never as a login-time migration', async () => {
  const good = '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy';
  const rows: [string, string][] = [
    ['h1', good],
    ['h2', good.slice(0, 40)], // truncated by a short column
    ['h3', `$2b$31$${good.slice(7)}`], // a cost no login could wait for
    ['h4', '5f4dcc3b5aa765d61d8327deb882cf99'], // md5: unimportable but verifiable, so migrated at login
  ];
  for (const [id, hash] of rows) {
    await client`INSERT INTO users (id, email, password_hash) VALUES (${id}, ${`${id}@example.com`}, ${hash})`;
  }
  const dry = await run(['import', '--dry-run']);
  expect(dry.stdout, dry.stderr).toMatch(/unverifiable\s+2: damaged hashes no login can verify/);
  const json = JSON.parse((await run(['import', '--dry-run', '--json'])).stdout) as {
    hashes: { reasons: Record<string, { count: number }> };
  };
  expect(json.hashes.reasons.malformed?.count).toBe(1);
  expect(json.hashes.reasons.cost_out_of_range?.count).toBe(1);

  const imported = await run(['import', '--rate', '500', '--json']);
  expect([0, 1]).toContain(imported.code);
  const states = await client<{ user_id: string; password_state: string }[]>`
    SELECT user_id, password_state FROM workos_migrate.sync_state WHERE user_id LIKE 'h%' ORDER BY user_id`;
  expect(Object.fromEntries(states.map((row) => [row.user_id, row.password_state]))).toEqual({
    h1: 'synced',
    h2: 'reset',
    h3: 'reset',
    h4: 'login',
  });
}, 180_000);

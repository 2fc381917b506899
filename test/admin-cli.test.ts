// Dead letters from a terminal, through the built binary as subprocesses: `status --dead` lists them
// per user (reason, limit, pages, --json, masked emails; also from a running app with --app-url), and
// `retry --user ID` requeues one user, which a worker then syncs.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkosMigrate } from 'workos-migrate';
import workosMigrate from 'workos-migrate/fastify';
import { type AppDatabase, engineConfig, openPostgres } from './helpers/app.js';
import { type CliWorkspace, cliWorkspace } from './helpers/cli.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

let app: AppDatabase & { url: string };
let t: TestEmulator;
let cli: CliWorkspace;
const ids: string[] = [];

const json = (stdout: string) => {
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] ?? '') as { deadLetters: Record<string, unknown>[]; next: string | null };
};

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator({ requireEmailVerification: false });
  cli = cliWorkspace({
    DATABASE_URL: app.url,
    WORKOS_API_URL: t.emulator.url,
    WORKOS_API_KEY: t.emulator.apiKey,
    WORKOS_CLIENT_ID: t.emulator.clientId,
    WORKOS_ROLLOUT_PERCENT: '',
    MIGRATION_IN_PROGRESS: '',
  });
  // Three users dead-lettered for two reasons (no worker ran: the trigger queued them).
  for (const [email, reason] of [
    ['dora@example.com', 'email_owned_elsewhere'],
    ['erin@example.com', 'invalid_email'],
    ['fay@example.com', 'email_owned_elsewhere'],
  ] as const) {
    const [row] = await app.exec(`INSERT INTO users (email, email_verified) VALUES ($1, true) RETURNING id`, [
      email,
    ]);
    ids.push(String(row?.id));
    await app.exec(
      `UPDATE workos_migrate.outbox SET dead = true, dead_reason = $2, attempts = 3, last_error = 'refused by WorkOS' WHERE user_id = $1`,
      [String(row?.id), reason],
    );
  }
});

afterAll(async () => {
  cli?.remove();
  await t?.close();
  await app?.close();
});

describe('status --dead', () => {
  it('lists dead letters per user, filtered by reason, a page at a time, with masked emails', async () => {
    const all = await cli.run(['status', '--dead', '--json']);
    expect(all.code, all.stderr).toBe(0);
    const page = json(all.stdout);
    expect(page.deadLetters.map((d) => [d.userId, d.reason])).toEqual([
      [ids[0], 'email_owned_elsewhere'],
      [ids[1], 'invalid_email'],
      [ids[2], 'email_owned_elsewhere'],
    ]);
    expect(page.deadLetters[0]).toMatchObject({
      attempts: 3,
      message: 'refused by WorkOS',
      email: 'd***@example.com',
    });
    expect(all.stdout).not.toContain('dora@');

    const reason = json(
      (await cli.run(['status', '--dead', '--reason', 'email_owned_elsewhere', '--limit', '1', '--json']))
        .stdout,
    );
    expect(reason.deadLetters.map((d) => d.userId)).toEqual([ids[0]]);
    expect(reason.next).toBe(ids[0]);
    const next = json(
      (
        await cli.run([
          'status',
          '--dead',
          '--reason',
          'email_owned_elsewhere',
          '--after',
          String(reason.next),
          '--json',
        ])
      ).stdout,
    );
    expect(next.deadLetters.map((d) => d.userId)).toEqual([ids[2]]);

    const human = await cli.run(['status', '--dead', '--limit', '2']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^${ids[0]}\\s+email_owned_elsewhere\\s+3\\s+`, 'm'));
    expect(human.stdout).toContain('e***@example.com');
    expect(human.stdout).toContain(`status --dead --after ${ids[1]}`);
  });

  it('refuses a bad --limit, or --reason without --dead, in one line with exit 2', async () => {
    for (const args of [
      ['status', '--dead', '--limit', '0'],
      ['status', '--dead', '--limit', 'ten'],
      ['status', '--reason', 'invalid_email'],
    ]) {
      const r = await cli.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--limit|--dead/);
    }
  });

  it('reads the same list from a running app with --app-url', async () => {
    const token = 'cli-admin-token-0123456789';
    // Through the real HTTP listener of a Fastify app.
    const server = Fastify();
    const { worker: _w, ...config } = engineConfig(app.db, t.emulator);
    await server.register(workosMigrate, { ...config, worker: false, admin: { token } });
    const appUrl = await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const r = await cli.run([
        'status',
        '--dead',
        '--reason',
        'invalid_email',
        '--app-url',
        appUrl,
        '--token',
        token,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(json(r.stdout).deadLetters).toMatchObject([{ userId: ids[1], email: 'e***@example.com' }]);
    } finally {
      await server.close();
    }
  });
});

describe('retry --user', () => {
  it('requeues that one user, which a worker syncs; a user who is not dead-lettered exits 1', async () => {
    const notDead = await cli.run(['retry', '--user', '999999']);
    expect(notDead.code).toBe(1);
    expect(notDead.stdout).toContain('User 999999 is not dead-lettered');

    const r = await cli.run(['retry', '--user', String(ids[1]), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ requeued: 1, reason: null, user: ids[1] });
    const migrate = createWorkosMigrate(engineConfig(app.db, t.emulator));
    try {
      expect((await migrate.status()).dead).toEqual({ email_owned_elsewhere: 2 });
      await migrate.worker.start();
      const deadline = Date.now() + 30_000;
      while (
        (await app.exec(`SELECT 1 FROM workos_migrate.outbox WHERE user_id = $1`, [ids[1]])).length > 0
      ) {
        if (Date.now() > deadline) throw new Error('the retried user was not synced in time');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const [state] = await app.exec(
        `SELECT workos_user_id FROM workos_migrate.sync_state WHERE user_id = $1`,
        [ids[1]],
      );
      expect(state?.workos_user_id).toMatch(/^user_/);
      // The others stay dead: only the named user was requeued.
      expect((await migrate.status()).dead).toEqual({ email_owned_elsewhere: 2 });
    } finally {
      await migrate.close();
    }
  });
});

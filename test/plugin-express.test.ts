// The Express 5 middleware through supertest, on real PostgreSQL and the emulator: start()/stop(),
// the freeze guard (live, also when flipped by another instance) and sign-in through req.workosMigrate.
import bcrypt from 'bcryptjs';
import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWorkosMigrate, type LegacyCredentials, type WorkosMigrateConfig } from 'workos-migrate';
import { createWorkosMigrateMiddleware, type WorkosMigrateMiddleware } from 'workos-migrate/express';
import { type AppDatabase, connectAgain, engineConfig, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { waitFor } from './helpers/wait.js';

let app: AppDatabase & { url: string };
let t: TestEmulator;
const stops: (() => Promise<void>)[] = [];

const legacyCalls: string[] = [];
async function verifyLegacy(user: LegacyCredentials): Promise<boolean> {
  legacyCalls.push(user.email);
  return user.passwordHash !== null && bcrypt.compare(user.password, user.passwordHash);
}

function build(overrides: Partial<WorkosMigrateConfig> = {}): {
  server: Express;
  mw: WorkosMigrateMiddleware;
} {
  const mw = createWorkosMigrateMiddleware(engineConfig(app.db, t.emulator, overrides));
  stops.push(() => mw.stop());
  const server = express();
  server.use(express.json());
  server.use(mw);
  server.post('/signup', mw.freezeGuard(), (_req, res) => {
    res.status(201).json({ created: true });
  });
  server.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  server.post('/login', async (req, res) => {
    const { email, password } = req.body as { email: string; password: string };
    res.json(await req.workosMigrate.login({ email, password, verifyLegacy }));
  });
  server.post('/cutover', async (req, res) => {
    res.json(await req.workosMigrate.cutover(req.body as { userId: string; email: string }));
  });
  return { server, mw };
}

async function insertUser(email: string, password: string): Promise<string> {
  const [row] = await app.exec(
    `INSERT INTO users (email, password_hash, email_verified) VALUES ($1, $2, true) RETURNING id`,
    [email, bcrypt.hashSync(password, 4)],
  );
  return String(row?.id);
}

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator();
});

afterEach(async () => {
  while (stops.length > 0) await stops.pop()?.();
  legacyCalls.length = 0;
  await app.exec('DELETE FROM workos_migrate.settings');
  await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader');
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture_truncate');
  await app.exec('TRUNCATE users');
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture_truncate');
  t.emulator.control.reset();
});

afterAll(async () => {
  await t?.close();
  await app?.close();
});

describe('start and stop', () => {
  it('start() runs the worker that mirrors writes; stop() stops it and releases the lease', async () => {
    const { mw } = build();
    expect(mw.migrate.worker.running).toBe(false);
    await mw.start();
    expect(mw.migrate.worker.running).toBe(true);
    const id = await insertUser('live@example.com', 'Live-password-1');
    await waitFor(async () => t.emulator.control.getUser(`app_${id}`), 10_000);
    await mw.stop();
    expect(mw.migrate.worker.running).toBe(false);
    expect(await app.exec('SELECT * FROM workos_migrate.leader')).toEqual([]);
  });

  it('start({ worker: false }) starts the flags only', async () => {
    const { mw } = build();
    await mw.start({ worker: false });
    expect(mw.migrate.worker.running).toBe(false);
    expect(mw.migrate.flags.ready).toBe(true);
    await insertUser('queued@example.com', 'Queued-password-1');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(t.emulator.control.userCount()).toBe(0);
  });
});

describe('freeze guard', () => {
  it('answers 503 with Retry-After and the body while frozen, live, and 201 again after', async () => {
    const { server, mw } = build({ flags: { retryAfterSeconds: 30 } });
    await mw.start({ worker: false });
    await request(server).post('/signup').send({ email: 'a@example.com' }).expect(201, { created: true });

    await mw.migrate.flags.setFreeze(true);
    const refused = await request(server).post('/signup').send({ email: 'a@example.com' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.body).toEqual({ error: 'signups_frozen', message: expect.stringContaining('30 seconds') });
    // Unguarded routes go on.
    await request(server).get('/health').expect(200, { ok: true });

    await mw.migrate.flags.setFreeze(false);
    await request(server).post('/signup').send({}).expect(201);
  });

  it('sees a flip made by another instance on its own connection within about a second', async () => {
    const { server, mw } = build();
    await mw.start({ worker: false });
    const second = connectAgain(app.url);
    const other = createWorkosMigrate(engineConfig(second.db, t.emulator));
    try {
      const flip = async (on: boolean) => {
        await other.flags.setFreeze(on);
        const from = Date.now();
        await waitFor(
          async () => (await request(server).post('/signup').send({})).status === (on ? 503 : 201),
          5_000,
        );
        return Date.now() - from;
      };
      const onMs = await flip(true);
      const offMs = await flip(false);
      console.log(`express app saw freeze on after ${onMs} ms, off after ${offMs} ms (refreshMs 1000)`);
      expect(onMs).toBeLessThan(5_000);
      expect(offMs).toBeLessThan(5_000);
    } finally {
      await other.close();
      await second.close();
    }
  });

  it('holds a stored freeze even when the app forgot start()', async () => {
    const setter = createWorkosMigrate(engineConfig(app.db, t.emulator));
    await setter.flags.setFreeze(true);
    await setter.close();
    const { server } = build();
    const refused = await request(server).post('/signup').send({});
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: 'signups_frozen' });
  });
});

describe('sign-in through req.workosMigrate', () => {
  it('follows the same cutover rule as the Fastify plugin', async () => {
    const { server, mw } = build();
    await mw.start();
    const id = await insertUser('ada@example.com', 'Analytical-engine-1');
    expect(await mw.migrate.syncNow(id, { timeoutMs: 10_000 })).toMatchObject({ status: 'synced' });

    // Rollout 0 (the default): the kill switch keeps everybody on legacy.
    const legacy = await request(server)
      .post('/login')
      .send({ email: 'ada@example.com', password: 'Analytical-engine-1' })
      .expect(200);
    expect(legacy.body).toMatchObject({ side: 'legacy', ok: true, reason: 'kill-switch' });
    expect(legacyCalls).toEqual(['ada@example.com']);

    await mw.migrate.flags.setRollout(100);
    const cutover = await request(server).post('/cutover').send({ userId: id, email: 'ada@example.com' });
    expect(cutover.body).toEqual({ target: 'workos', reason: 'in-rollout' });
    const workos = await request(server)
      .post('/login')
      .send({ email: 'ada@example.com', password: 'Analytical-engine-1' })
      .expect(200);
    expect(workos.body).toMatchObject({
      side: 'workos',
      ok: true,
      reason: 'authenticated',
      localUserId: id,
      workosUser: { email: 'ada@example.com', externalId: `app_${id}` },
      accessToken: expect.any(String),
    });
    const wrong = await request(server)
      .post('/login')
      .send({ email: 'ada@example.com', password: 'Difference-engine-2' })
      .expect(200);
    expect(wrong.body).toMatchObject({
      side: 'workos',
      ok: false,
      reason: 'invalid-credentials',
      fellBack: false,
    });
    expect(legacyCalls).toHaveLength(1);

    // A never-mirrored user stays on legacy (not-synced).
    await mw.migrate.worker.stop();
    await insertUser('new@example.com', 'Brand-new-pass-3');
    const fresh = await request(server)
      .post('/login')
      .send({ email: 'new@example.com', password: 'Brand-new-pass-3' })
      .expect(200);
    expect(fresh.body).toMatchObject({ side: 'legacy', ok: true, reason: 'not-synced' });
  });
});

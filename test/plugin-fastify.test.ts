// The Fastify plugin through Fastify's own inject, on real PostgreSQL and the emulator: registration
// errors, the worker's life cycle, the live freeze guard (also seen by a second app instance on the
// same database) and the admin routes.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from 'workos-migrate';
import workosMigrate, { type WorkosMigrateFastifyOptions } from 'workos-migrate/fastify';
import { type AppDatabase, connectAgain, engineConfig, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { startResettingServer } from './helpers/unreachable.js';
import { waitFor } from './helpers/wait.js';

let app: AppDatabase & { url: string };
let t: TestEmulator;
const opened: FastifyInstance[] = [];

const TOKEN = 'admin-token-0123456789abcdef-XYZ';

function options(overrides: Partial<WorkosMigrateFastifyOptions> = {}): WorkosMigrateFastifyOptions {
  const { worker, ...config } = engineConfig(app.db, t.emulator);
  return { ...config, worker, ...overrides } as WorkosMigrateFastifyOptions;
}

/** A Fastify app with the plugin, a guarded signup route and two unguarded ones. */
async function build(overrides: Partial<WorkosMigrateFastifyOptions> = {}): Promise<FastifyInstance> {
  const fastify = Fastify();
  opened.push(fastify);
  await fastify.register(workosMigrate, options(overrides));
  fastify.post('/signup', { config: { workosMigrate: { freeze: true } } }, async () => ({ created: true }));
  fastify.post('/signup-unguarded', { config: { workosMigrate: { freeze: false } } }, async () => ({
    created: true,
  }));
  fastify.get('/health', async () => ({ ok: true }));
  await fastify.ready();
  return fastify;
}

async function registrationError(
  opts: WorkosMigrateFastifyOptions,
): Promise<Error & { option?: string; code?: string }> {
  const fastify = Fastify();
  try {
    await fastify.register(workosMigrate, opts);
    await fastify.ready();
  } catch (error) {
    return error as Error;
  } finally {
    await fastify.close().catch(() => {});
  }
  throw new Error('registration succeeded');
}

const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  app = await openPostgres();
  t = await startTestEmulator();
});

afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
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

describe('registration', () => {
  it('fails register with an error naming the option', async () => {
    const short = await registrationError(options({ admin: { token: 'too-short' } }));
    expect(short).toBeInstanceOf(ConfigError);
    expect(short.message).toContain('admin.token');
    expect(short.option).toBe('admin.token');

    const prefix = await registrationError(options({ admin: { prefix: 'no-leading-slash', token: TOKEN } }));
    expect(prefix).toBeInstanceOf(ConfigError);
    expect(prefix.message).toContain('admin.prefix');
    expect(prefix.message).toContain('no-leading-slash');

    const worker = await registrationError(options({ worker: 'yes' as never }));
    expect(worker.message).toContain('worker');

    const retry = await registrationError(options({ flags: { retryAfterSeconds: 0 } }));
    expect(retry).toBeInstanceOf(ConfigError);
    expect(retry.message).toContain('flags.retryAfterSeconds');
  });

  it('refuses unknown option keys, at every level, naming the key', async () => {
    const bogus = await registrationError({ ...options(), bogus: 1 } as WorkosMigrateFastifyOptions);
    expect(bogus).toBeInstanceOf(ConfigError);
    expect(bogus.message).toMatch(/option bogus is not an option \(known: db, users, /);
    const admin = await registrationError(options({ admin: { tokn: TOKEN } as never }));
    expect(admin.message).toContain('option admin.tokn is not an option (known: prefix, token, metrics)');
    const worker = await registrationError(options({ worker: { leseMs: 1_000 } as never }));
    expect(worker.message).toContain('option worker.leseMs is not an option');
    const unleash = await registrationError(options({ flags: { unleash: { urll: 'x' } as never } }));
    expect(unleash.message).toContain('option flags.unleash.urll is not an option');
  });

  it('a route config typo fails to compile and fails the route; only opted-in routes carry the guard', async () => {
    const fastify = Fastify();
    opened.push(fastify);
    await fastify.register(workosMigrate, options({ worker: false }));
    expect(() =>
      // @ts-expect-error `frezee` is not a key of the route config (freeze is required)
      fastify.post('/typo', { config: { workosMigrate: { frezee: true } } }, async () => ({})),
    ).toThrow(/route POST \/typo: config\.workosMigrate\.frezee is not an option \(known: freeze\)/);
    expect(() =>
      fastify.post('/typo2', { config: { workosMigrate: { freeze: 'yes' as never } } }, async () => ({})),
    ).toThrow(/config\.workosMigrate\.freeze must be true or false/);
    const ownHook = async () => {};
    fastify.post(
      '/signup',
      { config: { workosMigrate: { freeze: true } }, preHandler: ownHook },
      async () => ({}),
    );
    fastify.post('/open', { config: { workosMigrate: { freeze: false } } }, async () => ({}));
    fastify.get('/health', async () => ({ ok: true }));
    await fastify.ready();
    const routes = fastify.printRoutes({ includeHooks: true, commonPrefix: false });
    const hooksOf = (path: string) => {
      const lines = routes.split('\n');
      const start = lines.findIndex((line) => line.includes(`${path} (`));
      const hooks: string[] = [];
      for (const line of lines.slice(start + 1)) {
        if (!/•|\(/.test(line) || /\/\w+ \(/.test(line)) break;
        hooks.push(line.trim());
      }
      return hooks.join(' ');
    };
    expect(hooksOf('/signup')).toMatch(/preHandler/);
    expect(hooksOf('/open')).not.toMatch(/preHandler/);
    expect(hooksOf('/health')).not.toMatch(/preHandler/);
  });

  it('a missing API key names workos.apiKey (WORKOS_API_KEY unset)', async () => {
    const saved = process.env.WORKOS_API_KEY;
    delete process.env.WORKOS_API_KEY;
    try {
      const { workos, ...rest } = options();
      const error = await registrationError({ ...rest, workos: { apiUrl: workos?.apiUrl } });
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toContain('workos.apiKey');
      expect(error.message).toContain('WORKOS_API_KEY');
    } finally {
      if (saved !== undefined) process.env.WORKOS_API_KEY = saved;
    }
  });
});

describe('worker life cycle', () => {
  it('starts the worker on ready, mirrors a write, and stops it on close', async () => {
    const fastify = Fastify();
    opened.push(fastify);
    await fastify.register(workosMigrate, options());
    // Registered, not ready yet: the worker waits for onReady.
    expect(fastify.workosMigrate.worker.running).toBe(false);
    await fastify.ready();
    const migrate = fastify.workosMigrate;
    expect(migrate.worker.running).toBe(true);
    const [row] = await app.exec(
      `INSERT INTO users (email, password_hash) VALUES ('live@example.com', NULL) RETURNING id`,
    );
    await waitFor(async () => t.emulator.control.getUser(`app_${row?.id}`), 10_000);
    await fastify.close();
    expect(migrate.worker.running).toBe(false);
    // close() released the leader lease, so another instance can take over at once.
    expect(await app.exec('SELECT * FROM workos_migrate.leader')).toEqual([]);
  });

  it('worker: false runs no worker in this app', async () => {
    const fastify = await build({ worker: false });
    expect(fastify.workosMigrate.worker.running).toBe(false);
    await app.exec(`INSERT INTO users (email) VALUES ('queued@example.com')`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fastify.workosMigrate.worker.running).toBe(false);
    expect(t.emulator.control.userCount()).toBe(0);
    const [pending] = await app.exec('SELECT count(*)::int AS n FROM workos_migrate.outbox');
    expect(pending?.n).toBe(1);
    expect(await app.exec('SELECT * FROM workos_migrate.leader')).toEqual([]);
  });
});

describe('freeze guard', () => {
  it('answers 503 with Retry-After while frozen, live, without a restart; unguarded routes go on', async () => {
    const fastify = await build({ worker: false, admin: { token: TOKEN } });
    expect((await fastify.inject({ method: 'POST', url: '/signup' })).statusCode).toBe(200);

    const frozen = await fastify.inject({
      method: 'POST',
      url: '/workos-migrate/freeze',
      headers: auth(),
      payload: { on: true },
    });
    expect(frozen.statusCode).toBe(200);
    expect(frozen.json()).toMatchObject({ on: true, source: 'stored', sources: { stored: true } });

    const refused = await fastify.inject({ method: 'POST', url: '/signup', payload: { email: 'x@y.z' } });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('60');
    const body = refused.json();
    expect(body).toEqual({ error: 'signups_frozen', message: expect.any(String) });
    expect(body.message).toContain('60 seconds');

    // Unguarded routes are not affected.
    expect((await fastify.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await fastify.inject({ method: 'POST', url: '/signup-unguarded' })).statusCode).toBe(200);
    // The status route reports it.
    const status = await fastify.inject({ method: 'GET', url: '/workos-migrate/status', headers: auth() });
    expect(status.json().freeze).toMatchObject({ on: true, source: 'stored' });

    const thawed = await fastify.inject({
      method: 'POST',
      url: '/workos-migrate/freeze',
      headers: auth(),
      payload: { on: false },
    });
    expect(thawed.json()).toMatchObject({ on: false });
    const again = await fastify.inject({ method: 'POST', url: '/signup' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ created: true });
  });

  it('a second app instance on the same database (its own connection, worker: false) sees the flip within about a second', async () => {
    const first = await build({ worker: false, admin: { token: TOKEN } });
    const second = connectAgain(app.url);
    try {
      const other = await build({ db: second.db, worker: false, flags: { retryAfterSeconds: 5 } });
      expect((await other.inject({ method: 'POST', url: '/signup' })).statusCode).toBe(200);

      const flip = async (on: boolean) => {
        const answer = await first.inject({
          method: 'POST',
          url: '/workos-migrate/freeze',
          headers: auth(),
          payload: { on },
        });
        expect(answer.statusCode).toBe(200);
        const from = Date.now();
        const seen = await waitFor(async () => {
          const res = await other.inject({ method: 'POST', url: '/signup' });
          return res.statusCode === (on ? 503 : 200) ? res : null;
        }, 5_000);
        return { ms: Date.now() - from, seen };
      };

      const on = await flip(true);
      expect(on.seen.headers['retry-after']).toBe('5');
      expect(on.seen.json()).toMatchObject({ error: 'signups_frozen' });
      const off = await flip(false);
      console.log(`second instance saw freeze on after ${on.ms} ms, off after ${off.ms} ms (refreshMs 1000)`);
      expect(on.ms).toBeLessThan(5_000);
      expect(off.ms).toBeLessThan(5_000);
    } finally {
      while (opened.length > 0) await opened.pop()?.close();
      await second.close();
    }
  });
});

describe('freeze guard while the flags are not ready', () => {
  it('with freezeFailClosed answers 503 saying the flags are not available; without it lets signups through', async () => {
    const unleash = await startResettingServer();
    try {
      const unreachable = {
        url: unleash.url,
        apiToken: 'default:development.not-a-secret',
        readyTimeoutMs: 200,
      };
      const closed = await build({ worker: false, flags: { unleash: unreachable, freezeFailClosed: true } });
      expect(closed.workosMigrate.flags.ready).toBe(false);
      const refused = await closed.inject({ method: 'POST', url: '/signup' });
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('60');
      expect(refused.json()).toEqual({ error: 'signups_frozen', message: expect.stringContaining('flags') });
      expect((await closed.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

      const open = await build({ worker: false, flags: { unleash: unreachable } });
      expect((await open.inject({ method: 'POST', url: '/signup' })).statusCode).toBe(200);
    } finally {
      while (opened.length > 0) await opened.pop()?.close();
      await unleash.close();
    }
  });
});

describe('admin routes', () => {
  it('are not registered without a token', async () => {
    const fastify = await build({ worker: false });
    for (const [method, url] of [
      ['GET', '/workos-migrate/status'],
      ['POST', '/workos-migrate/freeze'],
      ['POST', '/workos-migrate/rollout'],
    ] as const) {
      const res = await fastify.inject({ method, url, headers: auth(), payload: {} });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
  });

  it('refuse missing, wrong and different-length bearer tokens; the right one works', async () => {
    const fastify = await build({ worker: false, admin: { token: TOKEN } });
    const wrongSameLength = `${TOKEN.slice(0, -1)}${TOKEN.endsWith('Z') ? 'Y' : 'Z'}`;
    const cases: Record<string, Record<string, string>> = {
      missing: {},
      'same length, wrong': auth(wrongSameLength),
      shorter: auth(TOKEN.slice(0, -1)),
      longer: auth(`${TOKEN}x`),
      'prefix only': auth(TOKEN.slice(0, 8)),
      empty: { authorization: 'Bearer ' },
      'no Bearer scheme': { authorization: TOKEN },
      'Basic scheme': { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
    };
    for (const [name, headers] of Object.entries(cases)) {
      for (const [method, url, payload] of [
        ['GET', '/workos-migrate/status', undefined],
        ['POST', '/workos-migrate/freeze', { on: true }],
        ['POST', '/workos-migrate/rollout', { percent: 50 }],
      ] as const) {
        const res = await fastify.inject({ method, url, headers, ...(payload ? { payload } : {}) });
        expect(res.statusCode, `${name}: ${method} ${url}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(res.json()).toMatchObject({ error: 'unauthorized' });
      }
    }
    // Nothing changed through the refused calls.
    expect(fastify.workosMigrate.flags.freeze().on).toBe(false);
    expect(fastify.workosMigrate.flags.rollout().percent).toBe(0);

    const status = await fastify.inject({ method: 'GET', url: '/workos-migrate/status', headers: auth() });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({
      users: 0,
      synced: 0,
      freeze: { on: false, source: 'stored', ready: true },
      rollout: { percent: 0, source: 'stored', ready: true },
    });
    const rollout = await fastify.inject({
      method: 'POST',
      url: '/workos-migrate/rollout',
      headers: auth(),
      payload: { percent: 25 },
    });
    expect(rollout.statusCode).toBe(200);
    expect(rollout.json()).toMatchObject({ percent: 25, source: 'stored' });
    expect(fastify.workosMigrate.flags.rollout().percent).toBe(25);
  });

  it('honour a custom prefix', async () => {
    const fastify = await build({ worker: false, admin: { token: TOKEN, prefix: '/ops/migrate' } });
    const res = await fastify.inject({ method: 'GET', url: '/ops/migrate/status', headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(
      (await fastify.inject({ method: 'GET', url: '/workos-migrate/status', headers: auth() })).statusCode,
    ).toBe(404);
  });

  it('answer 400 to an invalid body', async () => {
    const fastify = await build({ worker: false, admin: { token: TOKEN } });
    const bad: [string, unknown][] = [
      ['/workos-migrate/freeze', {}],
      ['/workos-migrate/freeze', { on: 'yes' }],
      ['/workos-migrate/freeze', { on: 1 }],
      ['/workos-migrate/freeze', { on: true, source: 'bogus' }],
      ['/workos-migrate/rollout', {}],
      ['/workos-migrate/rollout', { percent: '50' }],
      ['/workos-migrate/rollout', { percent: 101 }],
      ['/workos-migrate/rollout', { percent: -1 }],
      ['/workos-migrate/rollout', { percent: 2.5 }],
      ['/workos-migrate/rollout', { percent: 10, source: 42 }],
    ];
    for (const [url, payload] of bad) {
      const res = await fastify.inject({ method: 'POST', url, headers: auth(), payload: payload as object });
      expect(res.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(400);
      expect(res.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    }
    // No body at all.
    const empty = await fastify.inject({ method: 'POST', url: '/workos-migrate/freeze', headers: auth() });
    expect(empty.statusCode).toBe(400);
    expect(fastify.workosMigrate.flags.freeze().on).toBe(false);
    expect(fastify.workosMigrate.flags.rollout().percent).toBe(0);
  });

  it('answer 409 naming the source in effect when asked to change another', async () => {
    const fastify = await build({ worker: false, admin: { token: TOKEN } });
    const res = await fastify.inject({
      method: 'POST',
      url: '/workos-migrate/freeze',
      headers: auth(),
      payload: { on: true, source: 'unleash' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: 'flag_source_mismatch' });
    expect(res.json().message).toContain('the stored setting');
    expect(fastify.workosMigrate.flags.freeze().on).toBe(false);
  });

  it('answer 409 naming WORKOS_ROLLOUT_PERCENT while the environment pins the rollout', async () => {
    const saved = process.env.WORKOS_ROLLOUT_PERCENT;
    process.env.WORKOS_ROLLOUT_PERCENT = '40';
    try {
      const fastify = await build({ worker: false, admin: { token: TOKEN } });
      const status = await fastify.inject({ method: 'GET', url: '/workos-migrate/status', headers: auth() });
      expect(status.json().rollout).toMatchObject({ percent: 40, source: 'env' });
      for (const payload of [
        { percent: 10 },
        { percent: 10, source: 'stored' },
        { percent: 10, source: 'env' },
      ]) {
        const res = await fastify.inject({
          method: 'POST',
          url: '/workos-migrate/rollout',
          headers: auth(),
          payload,
        });
        expect(res.statusCode, JSON.stringify(payload)).toBe(409);
        expect(res.json()).toMatchObject({ error: 'flag_source_mismatch' });
        expect(res.json().message).toContain('WORKOS_ROLLOUT_PERCENT');
      }
      expect(fastify.workosMigrate.flags.rollout()).toMatchObject({ percent: 40, source: 'env' });
      const [stored] = await app.exec(
        `SELECT count(*)::int AS n FROM workos_migrate.settings WHERE key = 'rollout_percent'`,
      );
      expect(stored?.n).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.WORKOS_ROLLOUT_PERCENT;
      else process.env.WORKOS_ROLLOUT_PERCENT = saved;
    }
  });

  it('answer 409 naming MIGRATION_IN_PROGRESS while the environment pins the freeze, and the guard holds', async () => {
    const saved = process.env.MIGRATION_IN_PROGRESS;
    process.env.MIGRATION_IN_PROGRESS = 'true';
    try {
      const fastify = await build({ worker: false, admin: { token: TOKEN } });
      expect((await fastify.inject({ method: 'POST', url: '/signup' })).statusCode).toBe(503);
      const res = await fastify.inject({
        method: 'POST',
        url: '/workos-migrate/freeze',
        headers: auth(),
        payload: { on: false },
      });
      expect(res.statusCode).toBe(409);
      expect(res.json().message).toContain('MIGRATION_IN_PROGRESS');
      expect((await fastify.inject({ method: 'POST', url: '/signup' })).statusCode).toBe(503);
    } finally {
      if (saved === undefined) delete process.env.MIGRATION_IN_PROGRESS;
      else process.env.MIGRATION_IN_PROGRESS = saved;
    }
  });
});

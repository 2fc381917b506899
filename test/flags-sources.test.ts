// Flag sources as `createWorkosMigrate(config).flags` sees them: the stored settings on real PostgreSQL (two
// engine instances on separate connections), environment precedence, refused and invalid changes, readiness
// with an Unleash nobody answers, and the kill switch. Real PostgreSQL, the emulator, the real unleash-client.
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createWorkosMigrate,
  type DrizzleDatabase,
  type WorkosMigrate,
  type WorkosMigrateConfig,
} from 'workos-migrate';
import { inRollout } from 'workos-migrate/flags';
import { type AppDatabase, connectAgain, engineConfig, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

const CUTOVER = 'workos-migrate-cutover';
/** Nothing listens here: connections are refused. */
const NOWHERE = 'http://127.0.0.1:9/api';
const FLAG_ENV = [
  'MIGRATION_IN_PROGRESS',
  'WORKOS_ROLLOUT_PERCENT',
  'UNLEASH_URL',
  'UNLEASH_API_TOKEN',
  'UNLEASH_ADMIN_TOKEN',
] as const;

let app: AppDatabase & { url: string };
let t: TestEmulator;
const engines: WorkosMigrate[] = [];
const connections: { close(): Promise<void> }[] = [];
const savedEnv = new Map<string, string | undefined>();

/** A new engine (its own flags) on `db`; closed after each test. */
function make(overrides: Partial<WorkosMigrateConfig> = {}, db: DrizzleDatabase = app.db): WorkosMigrate {
  const migrate = createWorkosMigrate(engineConfig(db, t.emulator, overrides));
  engines.push(migrate);
  return migrate;
}

/** Sets (or, with undefined, unsets) environment variables for this test; restored in afterEach. */
function setEnv(values: Partial<Record<(typeof FLAG_ENV)[number], string | undefined>>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

async function storedSettings(): Promise<Record<string, unknown>> {
  const rows = await app.exec(
    `SELECT key, value FROM workos_migrate.settings WHERE key IN ('freeze', 'rollout_percent')`,
  );
  return Object.fromEntries(rows.map((row) => [row.key as string, row.value]));
}

/** Polls `condition` every 10 ms; answers the ms it took, throws past `timeoutMs`. */
async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const startedAt = performance.now();
  while (!condition()) {
    if (performance.now() - startedAt > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - startedAt;
}

/** Users with ASCII and non-ASCII ids and emails, for decisions over many people. */
const PEOPLE = Array.from({ length: 3_000 }, (_, index) => {
  const flavour = ['', 'é', '中文', '🚀', 'Ωμ'][index % 5];
  return { userId: `${flavour}${index}`, email: `Person.${flavour}${index}@Example.COM` };
});

beforeAll(async () => {
  for (const key of FLAG_ENV) savedEnv.set(key, process.env[key]);
  [app, t] = await Promise.all([openPostgres(), startTestEmulator()]);
});

beforeEach(async () => {
  // Each test starts from an environment without flag variables and no stored flags (rollout 0, no freeze).
  setEnv(Object.fromEntries(FLAG_ENV.map((key) => [key, undefined])));
  await app.exec(`DELETE FROM workos_migrate.settings WHERE key IN ('freeze', 'rollout_percent')`);
});

afterEach(async () => {
  await Promise.all(engines.splice(0).map((migrate) => migrate.close()));
  await Promise.all(connections.splice(0).map((connection) => connection.close()));
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

afterAll(async () => {
  await app?.close();
  await t?.close();
});

// ---------------------------------------------------------------------------------------------

describe('stored source', () => {
  it('setFreeze / setRollout change freeze() and rollout() at once, and persist', async () => {
    const migrate = make();
    await migrate.flags.start();
    expect(migrate.flags.ready).toBe(true);
    expect(migrate.flags.freeze()).toEqual({
      on: false,
      source: 'stored',
      sources: { env: null, unleash: null, stored: false },
      ready: true,
    });
    expect(migrate.flags.rollout()).toEqual({ percent: 0, source: 'stored', ready: true });

    const frozen = await migrate.flags.setFreeze(true);
    expect(frozen).toMatchObject({ on: true, source: 'stored', sources: { stored: true } });
    expect(migrate.flags.freeze().on).toBe(true);
    expect(migrate.flags.signupsFrozen()).toBe(true);

    expect(await migrate.flags.setRollout(25)).toEqual({ percent: 25, source: 'stored', ready: true });
    expect(migrate.flags.rollout().percent).toBe(25);
    // Naming the source in effect is allowed.
    expect((await migrate.flags.setRollout(30, { source: 'stored' })).percent).toBe(30);
    expect(await storedSettings()).toEqual({ freeze: true, rollout_percent: 30 });

    await migrate.flags.setFreeze(false, { source: 'stored' });
    expect(migrate.flags.freeze().on).toBe(false);
    expect(migrate.flags.signupsFrozen()).toBe(false);
    expect(await storedSettings()).toEqual({ freeze: false, rollout_percent: 30 });
  });

  it('a second engine instance on another connection sees each change within the default refresh (1 s)', async () => {
    const writer = make();
    const other = connectAgain(app.url);
    connections.push(other);
    const reader = make({}, other.db); // flags.refreshMs: default 1,000 ms
    await Promise.all([writer.flags.start(), reader.flags.start()]);
    expect(reader.flags.freeze().on).toBe(false);

    const delays: number[] = [];
    await writer.flags.setFreeze(true);
    delays.push(
      await waitFor(() => reader.flags.freeze().on, 5_000, 'freeze on reaching the second instance'),
    );
    await writer.flags.setRollout(42);
    delays.push(
      await waitFor(
        () => reader.flags.rollout().percent === 42,
        5_000,
        'rollout 42 reaching the second instance',
      ),
    );
    expect(reader.flags.rolloutFor(PEOPLE[0] as (typeof PEOPLE)[number])).toBe(
      inRollout(42, CUTOVER, PEOPLE[0]?.userId as string) ? 'in-rollout' : 'not-in-rollout',
    );
    await writer.flags.setFreeze(false);
    delays.push(
      await waitFor(() => !reader.flags.freeze().on, 5_000, 'freeze off reaching the second instance'),
    );
    // The poll reads every refreshMs: no change may take much longer than one interval (slack for a busy box).
    for (const delay of delays) expect(delay).toBeLessThan(2_500);
  });

  it('a smaller flags.refreshMs shortens the delay', async () => {
    const writer = make();
    const other = connectAgain(app.url);
    connections.push(other);
    const reader = make({ flags: { refreshMs: 50 } }, other.db);
    await Promise.all([writer.flags.start(), reader.flags.start()]);
    await writer.flags.setRollout(77);
    const delay = await waitFor(() => reader.flags.rollout().percent === 77, 5_000, 'rollout 77');
    expect(delay).toBeLessThan(1_000);
  });
});

// ---------------------------------------------------------------------------------------------

describe('environment precedence', () => {
  it('MIGRATION_IN_PROGRESS=true wins over a stored false, and setFreeze then refuses naming the variable', async () => {
    const plain = make();
    await plain.flags.setFreeze(false);
    setEnv({ MIGRATION_IN_PROGRESS: 'true' });
    const pinned = make();
    await pinned.flags.start();
    expect(pinned.flags.freeze()).toEqual({
      on: true,
      source: 'env',
      sources: { env: true, unleash: null, stored: false },
      ready: true,
    });
    expect(pinned.flags.signupsFrozen()).toBe(true);

    for (const attempt of [
      () => pinned.flags.setFreeze(false),
      () => pinned.flags.setFreeze(false, { source: 'stored' }),
      () => pinned.flags.setFreeze(true, { source: 'env' }),
    ]) {
      const error = await attempt().then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({
        code: 'flag_source_mismatch',
        message: expect.stringContaining('MIGRATION_IN_PROGRESS'),
      });
    }
    expect(await storedSettings()).toEqual({ freeze: false });
    expect(pinned.flags.freeze().on).toBe(true);
    // The rollout is not pinned: it still comes from (and is set on) the stored setting.
    expect(pinned.flags.rollout().source).toBe('stored');
    expect((await pinned.flags.setRollout(10)).percent).toBe(10);
  });

  it('MIGRATION_IN_PROGRESS=1 also freezes; =false neither lifts a stored freeze nor blocks unfreezing it', async () => {
    const plain = make();
    await plain.flags.setFreeze(true);
    setEnv({ MIGRATION_IN_PROGRESS: 'false' });
    const envOff = make();
    await envOff.flags.start();
    // Freeze is on when any source is; a variable that says "off" pins nothing, so the stored
    // setting stays the one a setter changes (else an operator could not unfreeze at all).
    expect(envOff.flags.freeze()).toMatchObject({
      on: true,
      source: 'stored',
      sources: { env: false, stored: true },
    });
    expect(await envOff.flags.setFreeze(false)).toMatchObject({ on: false, source: 'stored' });
    await plain.flags.setFreeze(true);

    await plain.flags.setFreeze(false);
    setEnv({ MIGRATION_IN_PROGRESS: '1' });
    const envOne = make();
    await envOne.flags.start();
    expect(envOne.flags.freeze()).toMatchObject({ on: true, sources: { env: true, stored: false } });
  });

  it('WORKOS_ROLLOUT_PERCENT pins the percent over the stored one; setRollout refuses naming the variable', async () => {
    const plain = make();
    await plain.flags.setRollout(80);
    setEnv({ WORKOS_ROLLOUT_PERCENT: '20' });
    const pinned = make();
    await pinned.flags.start();
    expect(pinned.flags.rollout()).toEqual({ percent: 20, source: 'env', ready: true });
    for (const person of PEOPLE) {
      expect(pinned.flags.rolloutFor(person)).toBe(
        inRollout(20, CUTOVER, person.userId) ? 'in-rollout' : 'not-in-rollout',
      );
    }
    for (const attempt of [
      () => pinned.flags.setRollout(50),
      () => pinned.flags.setRollout(50, { source: 'stored' }),
      () => pinned.flags.setRollout(50, { source: 'env' }),
    ]) {
      await expect(attempt()).rejects.toMatchObject({
        code: 'flag_source_mismatch',
        message: expect.stringContaining('WORKOS_ROLLOUT_PERCENT'),
      });
    }
    expect(await storedSettings()).toEqual({ rollout_percent: 80 });
    expect(pinned.flags.rollout().percent).toBe(20);
    // Freeze is not pinned.
    expect((await pinned.flags.setFreeze(true)).source).toBe('stored');
  });

  it('WORKOS_ROLLOUT_PERCENT=0 is the kill switch even when the stored setting says 100', async () => {
    await make().flags.setRollout(100);
    setEnv({ WORKOS_ROLLOUT_PERCENT: '0' });
    const pinned = make();
    await pinned.flags.start();
    expect(PEOPLE.every((person) => pinned.flags.rolloutFor(person) === 'kill-switch')).toBe(true);
  });

  it('with the stored setting in effect, a setter asked for another source refuses and names the stored setting', async () => {
    const migrate = make();
    await migrate.flags.setRollout(15);
    await expect(migrate.flags.setRollout(50, { source: 'unleash' })).rejects.toMatchObject({
      code: 'flag_source_mismatch',
      message: expect.stringContaining('the stored setting'),
    });
    await expect(migrate.flags.setFreeze(true, { source: 'unleash' })).rejects.toMatchObject({
      code: 'flag_source_mismatch',
      message: expect.stringContaining('the stored setting'),
    });
    await expect(migrate.flags.setRollout(50, { source: 'env' })).rejects.toMatchObject({
      code: 'flag_source_mismatch',
    });
    expect(migrate.flags.rollout().percent).toBe(15);
    expect(migrate.flags.freeze().on).toBe(false);
    expect(await storedSettings()).toEqual({ rollout_percent: 15 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('invalid values', () => {
  it.each([101, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'setRollout(%s) rejects with invalid_rollout',
    async (value) => {
      const migrate = make();
      await migrate.flags.setRollout(40);
      await expect(migrate.flags.setRollout(value)).rejects.toMatchObject({
        code: 'invalid_rollout',
        message: expect.stringContaining(String(value)),
      });
      expect(migrate.flags.rollout().percent).toBe(40);
      expect(await storedSettings()).toEqual({ rollout_percent: 40 });
    },
  );

  /** Creating the engine must throw a ConfigError naming `option` (in `option` and in the message). */
  function expectConfigError(create: () => unknown, option: string): void {
    let error: unknown;
    try {
      create();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'invalid_config', option, message: expect.stringContaining(option) });
  }

  it.each(['abc', '101', '-5', '12.5', '50%', '0x10', '1e1', ' '])(
    'WORKOS_ROLLOUT_PERCENT=%j is a ConfigError naming the variable',
    (value) => {
      setEnv({ WORKOS_ROLLOUT_PERCENT: value });
      expectConfigError(() => make(), 'WORKOS_ROLLOUT_PERCENT');
    },
  );

  it.each(['yes', 'on', 'TRUE', '2'])(
    'MIGRATION_IN_PROGRESS=%j is a ConfigError naming the variable',
    (value) => {
      setEnv({ MIGRATION_IN_PROGRESS: value });
      expectConfigError(() => make(), 'MIGRATION_IN_PROGRESS');
    },
  );

  it('flags options that cannot be used name the option', () => {
    const cases: [WorkosMigrateConfig['flags'], string][] = [
      [{ stickiness: 'x' as never }, 'flags.stickiness'],
      [{ refreshMs: 0 }, 'flags.refreshMs'],
      [{ refreshMs: 2.5 }, 'flags.refreshMs'],
      [{ retryAfterSeconds: -1 }, 'flags.retryAfterSeconds'],
      [{ cutoverFlag: 'has space' }, 'flags.cutoverFlag'],
      [{ freezeFlag: '' }, 'flags.freezeFlag'],
      [{ unleash: { url: 'not a url', apiToken: 'default:development.x' } }, 'flags.unleash.url'],
      [{ unleash: { url: NOWHERE } }, 'flags.unleash.apiToken'],
      [
        { unleash: { url: NOWHERE, apiToken: 'default:development.x', readyTimeoutMs: 0 } },
        'flags.unleash.readyTimeoutMs',
      ],
      [
        { unleash: { url: NOWHERE, apiToken: 'default:development.x', refreshIntervalMs: -5 } },
        'flags.unleash.refreshIntervalMs',
      ],
    ];
    for (const [flags, option] of cases) expectConfigError(() => make({ flags }), option);
    // The environment's Unleash URL is checked the same way.
    setEnv({ UNLEASH_URL: NOWHERE });
    expectConfigError(() => make(), 'flags.unleash.apiToken');
  });
});

// ---------------------------------------------------------------------------------------------

describe('readiness with an Unleash nobody answers', () => {
  const unleash = { url: NOWHERE, apiToken: 'default:development.unreachable', readyTimeoutMs: 300 };

  it('start() waits about readyTimeoutMs, then flags are not ready and no user is cut over', async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_obj: object, msg?: string) => warnings.push(msg ?? ''),
      error() {},
    };
    const migrate = make({ flags: { unleash }, logger });
    const startedAt = performance.now();
    await migrate.flags.start();
    const waited = performance.now() - startedAt;
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(3_000);

    expect(migrate.flags.ready).toBe(false);
    expect(migrate.flags.rollout()).toEqual({ percent: 0, source: 'unleash', ready: false });
    expect(migrate.flags.freeze()).toMatchObject({ on: false, source: 'unleash', ready: false });
    expect(migrate.flags.rolloutFor({ userId: '1', email: 'a@example.com' })).toBe('flags-not-ready');
    expect(PEOPLE.every((person) => migrate.flags.rolloutFor(person) === 'flags-not-ready')).toBe(true);
    expect(await migrate.cutover({ userId: 1, email: 'a@example.com' })).toEqual({
      target: 'legacy',
      reason: 'flags-not-ready',
    });
    expect(migrate.flags.signupsFrozen()).toBe(false); // fail-open by default
    expect(warnings.some((message) => /not synchronised/.test(message))).toBe(true);
    await migrate.close();
  });

  it('freezeFailClosed: signups are frozen while the flags are not ready', async () => {
    const migrate = make({ flags: { unleash, freezeFailClosed: true } });
    await migrate.flags.start();
    expect(migrate.flags.ready).toBe(false);
    expect(migrate.flags.freeze().on).toBe(false);
    expect(migrate.flags.signupsFrozen()).toBe(true);
    await migrate.close();
  });

  it('a stored freeze still holds while Unleash is not ready (last known values, never lifted silently)', async () => {
    await make().flags.setFreeze(true);
    const migrate = make({ flags: { unleash } });
    await migrate.flags.start();
    expect(migrate.flags.ready).toBe(false);
    expect(migrate.flags.freeze()).toMatchObject({ on: true, sources: { unleash: false, stored: true } });
    expect(migrate.flags.signupsFrozen()).toBe(true);
  });

  it('setters on Unleash without an admin token refuse and say which token is missing', async () => {
    const migrate = make({ flags: { unleash } });
    await expect(migrate.flags.setRollout(10)).rejects.toMatchObject({
      code: 'unleash_admin_token_missing',
      message: expect.stringContaining('UNLEASH_ADMIN_TOKEN'),
    });
    await expect(migrate.flags.setRollout(10, { source: 'stored' })).rejects.toMatchObject({
      code: 'flag_source_mismatch',
      message: expect.stringContaining('Unleash'),
    });
  });

  it('close() leaves nothing that keeps the process alive (unleash-client timers are not unref()ed under NODE_ENV=test)', async () => {
    // Proof in a child process: one engine started against the unreachable Unleash and closed must exit on its
    // own, cleanly (no unhandled rejection); its twin that never calls close() must still be running then.
    const script = (closeFlags: boolean) => `
      import { pgTable, serial, text } from 'drizzle-orm/pg-core';
      import { drizzle } from 'drizzle-orm/postgres-js';
      import postgres from 'postgres';
      import { createWorkosMigrate, defineUsersMapping } from 'workos-migrate';
      const users = pgTable('users', { id: serial('id').primaryKey(), email: text('email') });
      const client = postgres(process.env.DB_URL, { max: 2, onnotice: () => {} });
      const migrate = createWorkosMigrate({
        db: drizzle(client),
        users: defineUsersMapping({ table: users, id: users.id, email: users.email }),
        workos: { apiKey: 'sk_test_child', apiUrl: 'http://127.0.0.1:9' },
        flags: { unleash: { url: '${NOWHERE}', apiToken: 'default:development.x', readyTimeoutMs: 300 } },
      });
      await migrate.flags.start();
      if (migrate.flags.ready) throw new Error('ready against an unreachable Unleash');
      ${closeFlags ? 'await migrate.close();' : ''}
      await client.end({ timeout: 5 });
      console.log('done');
    `;
    const run = (closeFlags: boolean) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script(closeFlags)], {
        cwd: new URL('..', import.meta.url),
        env: { ...process.env, NODE_ENV: 'test', DB_URL: app.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk) => {
        output += chunk;
      });
      const exited = new Promise<{ code: number | null; atMs: number }>((resolve) =>
        child.on('exit', (code) => resolve({ code, atMs: performance.now() })),
      );
      return { child, exited, output: () => output };
    };
    const closing = run(true);
    const leaking = run(false);
    try {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`closed child still alive after 20 s:\n${closing.output()}`)),
          20_000,
        ),
      );
      const { code } = await Promise.race([closing.exited, timeout]);
      expect(closing.output()).toContain('done');
      expect(closing.output()).not.toMatch(/Unhandled|ERR_UNHANDLED/);
      expect(code).toBe(0);
      // The twin shows the check has teeth: without close(), unleash-client keeps polling and the process lives.
      expect(leaking.output()).toContain('done');
      expect(leaking.child.exitCode).toBeNull();
    } finally {
      for (const { child } of [closing, leaking]) if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------

describe('kill switch and full rollout', () => {
  it('0 keeps everybody on legacy as kill-switch; 100 puts everybody in; between, exactly the bucket decides', async () => {
    const migrate = make();
    await migrate.flags.setRollout(0);
    expect(PEOPLE.every((person) => migrate.flags.rolloutFor(person) === 'kill-switch')).toBe(true);
    await migrate.flags.setRollout(100);
    expect(PEOPLE.every((person) => migrate.flags.rolloutFor(person) === 'in-rollout')).toBe(true);
    await migrate.flags.setRollout(37);
    const inside = PEOPLE.filter((person) => migrate.flags.rolloutFor(person) === 'in-rollout');
    expect(inside).toEqual(PEOPLE.filter((person) => inRollout(37, CUTOVER, person.userId)));
    expect(inside.length).toBeGreaterThan(PEOPLE.length * 0.3);
    expect(inside.length).toBeLessThan(PEOPLE.length * 0.44);
    // Nobody at 37 is "not-in-rollout" for another reason.
    expect(
      PEOPLE.filter((person) => !inside.includes(person)).every(
        (person) => migrate.flags.rolloutFor(person) === 'not-in-rollout',
      ),
    ).toBe(true);
    // Ramping back down to the kill switch takes everybody out again.
    await migrate.flags.setRollout(0);
    expect(PEOPLE.every((person) => migrate.flags.rolloutFor(person) === 'kill-switch')).toBe(true);
  });

  it('email stickiness buckets the normalised email (trimmed, lower case) and ignores the user id', async () => {
    const migrate = make({ flags: { stickiness: 'email' } });
    await migrate.flags.setRollout(37);
    for (const person of PEOPLE) {
      const expected = inRollout(37, CUTOVER, person.email.trim().toLowerCase())
        ? 'in-rollout'
        : 'not-in-rollout';
      expect(migrate.flags.rolloutFor(person)).toBe(expected);
      expect(
        migrate.flags.rolloutFor({ userId: 'another-id', email: `  ${person.email.toUpperCase()} ` }),
      ).toBe(expected);
    }
  });

  it('the cutover flag name is the bucketing groupId', async () => {
    const migrate = make({ flags: { cutoverFlag: 'my-own-cutover' } });
    await migrate.flags.setRollout(50);
    const decisions = PEOPLE.map((person) => migrate.flags.rolloutFor(person) === 'in-rollout');
    expect(decisions).toEqual(PEOPLE.map((person) => inRollout(50, 'my-own-cutover', person.userId)));
    expect(decisions).not.toEqual(PEOPLE.map((person) => inRollout(50, CUTOVER, person.userId)));
  });
});

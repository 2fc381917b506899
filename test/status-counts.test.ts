// status()'s counts are kept by triggers (workos_migrate.counts), not recounted: under
// concurrent inserts, updates, deletes, rollbacks, TRUNCATEs and folds, by an app role that does not
// own the tables and by the library's own writes, status() equals exact count(*)s. Also: concurrent
// writers never wait on each other for a counter; install seeds the counts from existing rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkosMigrate, type MigrationStatus } from 'workos-migrate';
import { install, uninstallSql, workerGrantsSql } from 'workos-migrate/drizzle';
import { connectAgain, engineConfig, openPostgres, type PostgresApp, sql } from './helpers/app.js';

let app: PostgresApp;
let owner: ReturnType<typeof connectAgain>;
let migrate: ReturnType<typeof createWorkosMigrate>;

beforeAll(async () => {
  app = await openPostgres({ roles: true });
  owner = connectAgain(app.database.url);
  // status() never calls WorkOS: nobody answers this URL.
  migrate = createWorkosMigrate(
    engineConfig(
      app.db,
      { url: 'http://127.0.0.1:9', apiKey: 'sk_test_unused', clientId: 'client_counts' },
      {
        users: app.mapping,
      },
    ),
  );
});
afterAll(async () => {
  await migrate?.close();
  await owner?.close();
  await app?.close();
});

type Counts = Pick<
  MigrationStatus,
  'users' | 'synced' | 'pending' | 'dead' | 'passwordStates' | 'deletesAwaitingConfirmation'
> & { formats: Record<string, number> };

/** The same numbers by count(*) over every row, as the owner. */
async function exactCounts(): Promise<Counts> {
  const one = async (statement: string) => Number((await app.admin(statement))[0]?.n ?? 0);
  const grouped = async (statement: string) =>
    Object.fromEntries((await app.admin(statement)).map((row) => [String(row.k), Number(row.n)]));
  return {
    users: await one('SELECT count(*) AS n FROM users'),
    synced: await one('SELECT count(*) AS n FROM workos_migrate.sync_state'),
    pending: {
      live: await one(
        'SELECT count(*) AS n FROM workos_migrate.outbox WHERE NOT dead AND NOT held AND priority = 0',
      ),
      backfill: await one(
        'SELECT count(*) AS n FROM workos_migrate.outbox WHERE NOT dead AND NOT held AND priority > 0',
      ),
    },
    dead: await grouped(
      `SELECT coalesce(dead_reason, 'unknown') AS k, count(*) AS n FROM workos_migrate.outbox WHERE dead GROUP BY 1`,
    ),
    passwordStates: await grouped(
      'SELECT password_state AS k, count(*) AS n FROM workos_migrate.sync_state GROUP BY 1',
    ),
    deletesAwaitingConfirmation: await one(
      'SELECT count(*) AS n FROM workos_migrate.outbox WHERE held AND NOT dead',
    ),
    formats: await grouped(
      'SELECT hash_format AS k, count(*) AS n FROM workos_migrate.sync_state WHERE hash_format IS NOT NULL GROUP BY 1',
    ),
  };
}

async function statusCounts(): Promise<Counts> {
  const s = await migrate.status();
  return {
    users: s.users,
    synced: s.synced,
    pending: s.pending,
    dead: s.dead,
    passwordStates: s.passwordStates,
    deletesAwaitingConfirmation: s.deletesAwaitingConfirmation,
    formats: Object.fromEntries(s.formats.filter((f) => f.users > 0).map((f) => [f.format, f.users])),
  };
}

/** The test's own multi-row writes can deadlock each other (not the counts' doing): PostgreSQL aborts one; run it again. */
async function retried(write: () => PromiseLike<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      const shaped = error as { code?: string; cause?: { code?: string } };
      if ((shaped.cause?.code ?? shaped.code) !== '40P01' || attempt > 20) throw error;
    }
  }
}

const STATES = ['synced', 'login', 'reset', 'no_local_password', 'none'];
const FORMATS = ['bcrypt', 'argon2id', null];
const REASONS = ['invalid_email', 'email_owned_elsewhere', null];
const pick = <T>(values: readonly T[], i: number): T => values[i % values.length] as T;

/** One round of app writes (as the app role): multi-row inserts, updates, deletes, a rollback. */
async function appRound(writer: number, round: number): Promise<void> {
  const tag = `w${writer}r${round}`;
  await retried(() =>
    app.exec(
      `INSERT INTO users (email, first_name, password_hash)
     SELECT $1 || '-' || g || '@example.com', 'F' || g, 'hash-' || g FROM generate_series(1, $2::int) g`,
      [tag, 3 + ((writer + round) % 5)],
    ),
  );
  await retried(() =>
    app.exec(`UPDATE users SET first_name = first_name || 'x' WHERE email LIKE $1`, [`${tag}-1%`]),
  );
  if (round % 2 === 0)
    await retried(() => app.exec(`DELETE FROM users WHERE email = $1`, [`${tag}-2@example.com`]));
  // Rolled back: none of its deltas may count.
  await app.appDb
    .transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO users (email) VALUES (${`${tag}-rolled@example.com`})`);
      await tx.execute(sql`DELETE FROM users WHERE email = ${`${tag}-3@example.com`}`);
      throw new Error('roll back');
    })
    .catch(() => undefined);
}

/** What the worker does to the library's tables, directly: state rows come, change and go; outbox rows move buckets. */
async function libraryRound(writer: number, round: number): Promise<void> {
  const i = writer * 31 + round;
  const statements = [
    sql`INSERT INTO workos_migrate.sync_state (user_id, workos_user_id, email, password_state, hash_format, environment)
        SELECT o.user_id, 'user_' || o.user_id, 'x@example.com', ${pick(STATES, i)}, ${pick(FORMATS, i)}, 'client_counts'
        FROM workos_migrate.outbox o WHERE NOT o.dead AND o.user_id::int % 7 = ${i % 7}
        ON CONFLICT (user_id) DO UPDATE SET password_state = EXCLUDED.password_state, hash_format = EXCLUDED.hash_format`,
    sql`UPDATE workos_migrate.outbox SET dead = true, dead_reason = ${pick(REASONS, i)}
        WHERE user_id::int % 11 = ${i % 11} AND NOT dead`,
    sql`UPDATE workos_migrate.outbox SET priority = 1, held = ${round % 3 === 0} WHERE user_id::int % 13 = ${i % 13}`,
    // A claim: lease columns only, the bucket stays.
    sql`UPDATE workos_migrate.outbox SET lease_token = 't', lease_expires_at = now() WHERE user_id::int % 5 = ${i % 5}`,
    sql`DELETE FROM workos_migrate.outbox WHERE user_id::int % 17 = ${i % 17}`,
    sql`UPDATE workos_migrate.sync_state SET password_state = 'synced', hash_format = NULL WHERE user_id::int % 19 = ${i % 19}`,
    sql`DELETE FROM workos_migrate.sync_state WHERE user_id::int % 23 = ${i % 23}`,
  ];
  for (const statement of statements) await retried(() => owner.db.execute(statement));
}

describe('status() counts kept by triggers', () => {
  it('equal exact count(*)s after concurrent writes, rollbacks, TRUNCATEs and folds', async () => {
    const rounds = 12;
    const loops = [
      ...[0, 1, 2, 3].map(async (writer) => {
        for (let round = 0; round < rounds; round++) await appRound(writer, round);
      }),
      ...[0, 1].map(async (writer) => {
        for (let round = 0; round < rounds; round++) await libraryRound(writer, round);
      }),
      (async () => {
        for (let round = 0; round < rounds; round++) {
          // Folds and status() reads race the writers (status() folds when deltas pile up).
          await app.db.execute(sql`SELECT workos_migrate.fold_counts()`);
          await migrate.status();
          if (round === 4) await app.admin('TRUNCATE users');
          if (round === 8) await app.admin('TRUNCATE workos_migrate.sync_state');
        }
      })(),
    ];
    await Promise.all(loops);
    const exact = await exactCounts();
    // The load reached every counter (else the comparison proves little).
    expect(exact.users).toBeGreaterThan(50);
    expect(exact.synced).toBeGreaterThan(0);
    expect(exact.pending.live).toBeGreaterThan(0);
    expect(exact.pending.backfill).toBeGreaterThan(0);
    expect(exact.deletesAwaitingConfirmation).toBeGreaterThan(0);
    expect(Object.keys(exact.dead).length).toBeGreaterThan(1);
    expect(Object.keys(exact.passwordStates).length).toBeGreaterThan(1);
    expect(Object.keys(exact.formats).length).toBeGreaterThan(0);
    expect(await statusCounts()).toEqual(exact);

    // A fold keeps every number and leaves one row per counter.
    await app.db.execute(sql`SELECT workos_migrate.fold_counts()`);
    expect(await statusCounts()).toEqual(exact);
    const [layout] = await app.admin(
      'SELECT count(*)::int AS n, count(DISTINCT counter)::int AS counters FROM workos_migrate.counts',
    );
    expect(layout?.n).toBe(layout?.counters);

    // TRUNCATE of the outbox (as tests and operators do) zeroes its counters, and nothing else.
    await app.admin('TRUNCATE workos_migrate.outbox');
    expect(await statusCounts()).toEqual(await exactCounts());
  }, 120_000);

  it('two transactions inserting at once do not wait on each other', async () => {
    {
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered: () => void = () => undefined;
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      // A: inserts a user and its outbox row (appending deltas), then stays open.
      const open = app.appDb.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO users (email) VALUES ('open-a@example.com')`);
        entered();
        await released;
      });
      await inside;
      // B: the same writes must commit while A is open (no counter row to wait on).
      await app.appDb.transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL lock_timeout = '5s'`);
        await tx.execute(sql`INSERT INTO users (email) VALUES ('open-b@example.com')`);
        await tx.execute(sql`UPDATE users SET first_name = 'B' WHERE email = 'open-b@example.com'`);
      });
      // And a fold while A is open neither waits for A nor loses its deltas.
      await app.db.execute(sql`SELECT workos_migrate.fold_counts()`);
      release();
      await open;
      expect(await statusCounts()).toEqual(await exactCounts());
    }
  }, 60_000);

  it('install seeds the counts from the rows already there, and a re-install keeps them exact', async () => {
    await owner.db.execute(sql.raw(uninstallSql(app.mapping)));
    // Rows written while nothing counts them: what an app has before its first install.
    await app.admin(
      `INSERT INTO users (email) SELECT 'before-' || g || '@example.com' FROM generate_series(1, 250) g`,
    );
    await install(owner.db, app.mapping);
    // The schema was dropped with its grants: the worker role gets them again, as an operator would.
    for (const grant of workerGrantsSql(app.mapping, `${app.database.name}_worker`).split('\n')) {
      if (grant.trim()) await app.admin(grant);
    }
    const exact = await exactCounts();
    expect(exact.users).toBeGreaterThanOrEqual(250);
    expect(exact.pending.live).toBe(0);
    expect(await statusCounts()).toEqual(exact);
    await app.exec(`INSERT INTO users (email) VALUES ('after@example.com')`);
    await install(owner.db, app.mapping);
    expect(await statusCounts()).toEqual(await exactCounts());
  }, 60_000);
});

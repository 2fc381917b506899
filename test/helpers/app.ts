// A small app users table on real PostgreSQL (postgres.js or node-postgres) or PGlite, with the library
// installed, the emulator, and an engine: what the engine tests build on. `openPostgres(options)` also
// builds the production-style matrix: a key type, a driver, and an app role that does not own the table.
import { PGlite } from '@electric-sql/pglite';
import { type Column, sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import {
  bigserial,
  boolean,
  type PgColumnBuilderBase,
  type PgTable,
  pgTable,
  serial,
  text,
  uuid,
} from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import {
  createWorkosMigrate,
  type DrizzleDatabase,
  defineUsersMapping,
  type UsersMapping,
  type WorkosMigrateConfig,
} from 'workos-migrate';
import { install, workerGrantsSql, workosUserId } from 'workos-migrate/drizzle';
import { createRole, createTestDatabase, type TestDatabase } from './db.js';

export type KeyType = 'integer' | 'bigint' | 'uuid' | 'text';
export type Driver = 'postgres-js' | 'node-postgres';

const usersTable = <TId extends PgColumnBuilderBase>(id: TId) =>
  pgTable('users', {
    id,
    email: text('email'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    emailVerified: boolean('email_verified').notNull().default(false),
    passwordHash: text('password_hash'),
    disabled: boolean('disabled').notNull().default(false),
    plan: text('plan'),
    workosUserId: workosUserId(),
  });

export const users = usersTable(serial('id').primaryKey());

/** The users table with each key type, as Drizzle declares it and as its DDL creates it. */
const keyed = {
  integer: { table: users, ddl: 'id serial PRIMARY KEY' },
  bigint: {
    table: usersTable(bigserial('id', { mode: 'number' }).primaryKey()),
    ddl: 'id bigserial PRIMARY KEY',
  },
  uuid: {
    table: usersTable(uuid('id').primaryKey().defaultRandom()),
    ddl: 'id uuid PRIMARY KEY DEFAULT gen_random_uuid()',
  },
  text: {
    table: usersTable(text('id').primaryKey().default(sql`('usr_' || md5(random()::text))`)),
    ddl: "id text PRIMARY KEY DEFAULT ('usr_' || md5(random()::text))",
  },
} as const;

const usersDdlWith = (idDdl: string) => `CREATE TABLE IF NOT EXISTS users (
  ${idDdl},
  email text,
  first_name text,
  last_name text,
  email_verified boolean NOT NULL DEFAULT false,
  password_hash text,
  disabled boolean NOT NULL DEFAULT false,
  plan text
)`;

export const usersDdl = usersDdlWith(keyed.integer.ddl);

type UsersColumns = Record<
  'id' | 'email' | 'firstName' | 'lastName' | 'emailVerified' | 'passwordHash' | 'disabled' | 'plan',
  Column
>;

const mappingOf = (table: PgTable & UsersColumns) =>
  defineUsersMapping({
    table,
    id: table.id,
    email: table.email,
    firstName: table.firstName,
    lastName: table.lastName,
    emailVerified: table.emailVerified,
    passwordHash: table.passwordHash,
    disabled: table.disabled,
    metadata: { plan: table.plan },
  });

export const mapping = mappingOf(users);

const mappings = new Map<KeyType, UsersMapping>([['integer', mapping]]);

/** The users table, its DDL and its mapping for one key type (one mapping object per key type). */
export function keyedUsers(key: KeyType) {
  const { table, ddl } = keyed[key];
  let keyedMapping = mappings.get(key);
  if (!keyedMapping) {
    keyedMapping = mappingOf(table);
    mappings.set(key, keyedMapping);
  }
  return { table, ddl: usersDdlWith(ddl), mapping: keyedMapping };
}

export interface AppDatabase {
  db: DrizzleDatabase;
  /** Raw SQL, as an admin script would write. */
  exec(statement: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** A Drizzle database plus raw SQL on one connection pool, through either driver. */
function connect(url: string, driver: Driver, max: number): AppDatabase {
  if (driver === 'node-postgres') {
    const pool = new pg.Pool({ connectionString: url, max });
    return {
      db: drizzlePg(pool) as unknown as DrizzleDatabase,
      exec: async (statement, params = []) =>
        (await pool.query<Record<string, unknown>>(statement, params)).rows,
      close: () => pool.end(),
    };
  }
  const client = postgres(url, { max, onnotice: () => {} });
  return {
    db: drizzlePostgres(client) as unknown as DrizzleDatabase,
    exec: async (statement, params = []) => [...(await client.unsafe(statement, params as never[]))],
    close: () => client.end({ timeout: 5 }),
  };
}

export interface OpenOptions {
  /** The users table's key type (default `integer`, a serial). */
  key?: KeyType;
  /** The Drizzle driver of every connection (default postgres.js). */
  driver?: Driver;
  /**
   * Production-style roles (default off: everything runs as the owner). On: the owner installs; `db`
   * is a worker role holding exactly `workerGrantsSql`; `exec` and `appDb` are an app role granted only
   * table privileges on users (and its sequence); `admin` stays the owner.
   */
  roles?: boolean;
}

export interface PostgresApp extends AppDatabase {
  database: TestDatabase;
  url: string;
  mapping: UsersMapping;
  /** The app's own writes (the app role when `roles` is on). */
  appDb: DrizzleDatabase;
  /** The owner: DDL, TRUNCATE of the library's tables. */
  admin: AppDatabase['exec'];
}

export async function openPostgres(options: OpenOptions = {}): Promise<PostgresApp> {
  const driver = options.driver ?? 'postgres-js';
  const keyedTable = keyedUsers(options.key ?? 'integer');
  const database = await createTestDatabase();
  const owner = connect(database.url, driver, 10);
  await owner.exec(keyedTable.ddl);
  await install(owner.db, keyedTable.mapping);
  if (!options.roles) {
    return {
      ...owner,
      database,
      url: database.url,
      mapping: keyedTable.mapping,
      appDb: owner.db,
      admin: owner.exec,
      close: async () => {
        await owner.close();
        await database.drop();
      },
    };
  }
  const appRole = await createRole(database, 'app', (role) => [
    `GRANT SELECT, INSERT, UPDATE, DELETE ON users TO "${role}"`,
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "${role}"`,
  ]);
  const workerRole = await createRole(database, 'worker', (role) =>
    workerGrantsSql(keyedTable.mapping, role)
      .split('\n')
      .filter((line) => line.trim()),
  );
  const app = connect(appRole.url, driver, 5);
  const worker = connect(workerRole.url, driver, 10);
  return {
    db: worker.db,
    exec: app.exec,
    database,
    url: workerRole.url,
    mapping: keyedTable.mapping,
    appDb: app.db,
    admin: owner.exec,
    close: async () => {
      await Promise.all([app.close(), worker.close(), owner.close()]);
      await database.drop();
    },
  };
}

export async function openPglite(): Promise<AppDatabase> {
  const client = new PGlite();
  const db = drizzlePglite(client) as unknown as DrizzleDatabase;
  await client.exec(usersDdl);
  await install(db, mapping);
  return {
    db,
    exec: async (statement, params = []) =>
      (await client.query<Record<string, unknown>>(statement, params)).rows,
    close: () => client.close(),
  };
}

/** A second connection to the same PostgreSQL database: a second app instance. */
export function connectAgain(url: string): { db: DrizzleDatabase; close(): Promise<void> } {
  const client = postgres(url, { max: 5, onnotice: () => {} });
  return {
    db: drizzlePostgres(client) as unknown as DrizzleDatabase,
    close: () => client.end({ timeout: 5 }),
  };
}

export function engineConfig(
  db: DrizzleDatabase,
  emulator: { url: string; apiKey: string; clientId: string },
  overrides: Partial<WorkosMigrateConfig> = {},
): WorkosMigrateConfig {
  return {
    db,
    users: mapping,
    workos: { apiKey: emulator.apiKey, clientId: emulator.clientId, apiUrl: emulator.url },
    externalIdPrefix: 'app_',
    // Tests of other capabilities route synced users without first proving their hash format by
    // shadow checks (default on; test/shadow.test.ts covers the gate).
    cutover: { requireProvenFormats: false },
    ...overrides,
    worker: {
      pollMs: 20,
      leaseMs: 3_000,
      leaderLeaseMs: 600,
      retryBaseMs: 50,
      // Test time runs about 10x faster than the defaults (lease 3 s, not 30 s): the backoff ceiling
      // too. With the 60 s default, a row unlucky under CI load waited past the chaos test's deadline.
      retryMaxMs: 5_000,
      ratePerSecond: 500,
      ...overrides.worker,
    },
  };
}

export function engine(...args: Parameters<typeof engineConfig>) {
  return createWorkosMigrate(engineConfig(...args));
}

/** Empties the library's tables and the users table (without recording the TRUNCATE as deletes). */
export async function resetTables(app: AppDatabase): Promise<void> {
  await app.exec(
    'TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader, workos_migrate.applied_deletes',
  );
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture_truncate');
  await app.exec('TRUNCATE users');
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture_truncate');
}

/** Starts engines (workers running) and stops every one of them at once, e.g. in `afterEach`. */
export function startedEngines(emulator: () => { url: string; apiKey: string; clientId: string }) {
  const started: ReturnType<typeof engine>[] = [];
  return {
    async start(db: DrizzleDatabase, overrides: Partial<WorkosMigrateConfig> = {}) {
      const migrate = engine(db, emulator(), overrides);
      started.push(migrate);
      await migrate.worker.start();
      return migrate;
    },
    stopAll: () => Promise.all(started.splice(0).map((migrate) => migrate.worker.stop())),
  };
}

export { sql };

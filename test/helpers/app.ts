// A small app users table on real PostgreSQL (postgres.js) or PGlite, with the library installed,
// the emulator, and an engine: what the engine tests build on.
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { boolean, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import {
  createWorkosMigrate,
  type DrizzleDatabase,
  defineUsersMapping,
  type WorkosMigrateConfig,
} from 'workos-migrate';
import { install, workosUserId } from 'workos-migrate/drizzle';
import { createTestDatabase, type TestDatabase } from './db.js';

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  email: text('email'),
  firstName: text('first_name'),
  lastName: text('last_name'),
  emailVerified: boolean('email_verified').notNull().default(false),
  passwordHash: text('password_hash'),
  disabled: boolean('disabled').notNull().default(false),
  plan: text('plan'),
  workosUserId: workosUserId(),
});

export const usersDdl = `CREATE TABLE IF NOT EXISTS users (
  id serial PRIMARY KEY,
  email text,
  first_name text,
  last_name text,
  email_verified boolean NOT NULL DEFAULT false,
  password_hash text,
  disabled boolean NOT NULL DEFAULT false,
  plan text
)`;

export const mapping = defineUsersMapping({
  table: users,
  id: users.id,
  email: users.email,
  firstName: users.firstName,
  lastName: users.lastName,
  emailVerified: users.emailVerified,
  passwordHash: users.passwordHash,
  disabled: users.disabled,
  metadata: { plan: users.plan },
});

export interface AppDatabase {
  db: DrizzleDatabase;
  /** Raw SQL, as an admin script would write. */
  exec(statement: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function openPostgres(): Promise<AppDatabase & { database: TestDatabase; url: string }> {
  const database = await createTestDatabase();
  const client = postgres(database.url, { max: 10, onnotice: () => {} });
  const db = drizzlePostgres(client) as unknown as DrizzleDatabase;
  await client.unsafe(usersDdl);
  await install(db, mapping);
  return {
    db,
    database,
    url: database.url,
    exec: async (statement, params = []) => [...(await client.unsafe(statement, params as never[]))],
    close: async () => {
      await client.end({ timeout: 5 });
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
  await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader');
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

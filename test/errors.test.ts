// Errors a user sees carry PostgreSQL's message, its code and what to do: never drizzle's
// "Failed query: <sql> params: <values>" (values can be emails, hashes, tokens).

import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrizzleDatabase } from 'workos-migrate';
import { DatabaseError } from 'workos-migrate';
import { engine, keyedUsers, sql } from './helpers/app.js';
import { createRole, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';

let database: TestDatabase;
let t: TestEmulator;
const pools: pg.Pool[] = [];
const connect = (url: string) => {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pools.push(pool);
  return drizzle(pool) as unknown as DrizzleDatabase;
};

beforeAll(async () => {
  database = await createTestDatabase();
  t = await startTestEmulator();
  await connect(database.url).execute(sql.raw(keyedUsers('integer').ddl));
});
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await t.close();
  await database.drop();
});

const clean = (error: unknown) => {
  expect(error).toBeInstanceOf(DatabaseError);
  const { message } = error as Error;
  expect(message).not.toMatch(/Failed query|params:|SELECT|INSERT/);
  return message;
};

it('before install: the missing schema is named with what to do, and no parameter value shows', async () => {
  const migrate = engine(connect(database.url), t.emulator);
  const status = await migrate.status().catch((error: unknown) => error);
  expect(clean(status)).toMatch(
    /the database refused: relation "workos_migrate\.\w+" does not exist \(42P01\); run `workos-migrate install`/,
  );
  // A setter with parameters: the stored flag's key and value never appear.
  const freeze = await migrate.flags.setFreeze(true).catch((error: unknown) => error);
  expect(clean(freeze)).toContain('42P01');
  expect((freeze as Error).message).not.toContain('freeze,true');
  await migrate.close();
});

it('a role without the worker grants: permission denied, with the command that prints the GRANTs', async () => {
  const { install } = await import('workos-migrate/drizzle');
  await install(connect(database.url), keyedUsers('integer').mapping);
  const role = await createRole(database, 'nogrants');
  const migrate = engine(connect(role.url), t.emulator);
  const error = await migrate.status().catch((failure: unknown) => failure);
  expect(clean(error)).toMatch(
    /permission denied for (schema workos_migrate|table users) \(42501\); .*workos-migrate install --worker-role <role>/,
  );
  expect((error as DatabaseError).sqlState).toBe('42501');
  await migrate.close();
});

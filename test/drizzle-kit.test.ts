// drizzle-kit itself (its programmatic API: the same differ `generate` and `push` run) against a real
// database with the library installed: both make the same unique constraint on workos_user_id and the
// same email index, so `push` finds nothing to change whichever ran first, and it never touches the
// workos_migrate schema (outside its default schemaFilter).
import { generateDrizzleJson, generateMigration, pushSchema } from 'drizzle-kit/api';
import { drizzle } from 'drizzle-orm/node-postgres';
import { boolean, pgTable, serial, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DrizzleDatabase, defineUsersMapping } from 'workos-migrate';
import { install, uninstallSql, workosMigrateEmailIndex, workosUserId } from 'workos-migrate/drizzle';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

// The README's schema: the column and the email index declared, the library's tables not exported.
const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    email: text('email').notNull(),
    emailVerified: boolean('email_verified').notNull().default(false),
    workosUserId: workosUserId(),
  },
  (t) => [workosMigrateEmailIndex('users', t.email)],
);
const schema = { users };
const mapping = defineUsersMapping({
  table: users,
  id: users.id,
  email: users.email,
  emailVerified: users.emailVerified,
});

let database: TestDatabase;
let pool: pg.Pool;
let db: ReturnType<typeof drizzle>;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  db = drizzle(pool);
});
afterAll(async () => {
  await pool.end();
  await database.drop();
});

/** What `drizzle-kit push` would run now; silences its spinner. */
async function pushStatements(): Promise<string[]> {
  const write = process.stdout.write;
  process.stdout.write = () => true;
  try {
    return (await pushSchema(schema, db as never)).statementsToExecute;
  } finally {
    process.stdout.write = write;
  }
}

const uniqueIndexesOnColumn = async () =>
  (
    await pool.query(`SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = 'users'::regclass AND i.indisunique AND a.attname = 'workos_user_id'`)
  ).rows.map((row: { name: string }) => row.name);

it('generate first, then install: install adopts the constraint and push has nothing to do', async () => {
  const statements = await generateMigration(generateDrizzleJson({}), generateDrizzleJson(schema));
  const generated = statements.join('\n');
  expect(generated).toContain('CONSTRAINT "users_workos_user_id_unique" UNIQUE("workos_user_id")');
  expect(generated).toContain('CREATE INDEX "users_workos_migrate_email_idx"');
  expect(generated).not.toContain('workos_migrate"."');
  for (const statement of statements) await pool.query(statement);
  await install(db as unknown as DrizzleDatabase, mapping);
  expect(await uniqueIndexesOnColumn()).toEqual(['users_workos_user_id_unique']);
  expect(await pushStatements()).toEqual([]);
  await pool.query(uninstallSql(mapping));
  await pool.query('DROP TABLE users');
});

it('install first on an existing table: push then sees its own constraint and index, and changes nothing', async () => {
  await pool.query(
    'CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, email_verified boolean DEFAULT false NOT NULL)',
  );
  await install(db as unknown as DrizzleDatabase, mapping);
  expect(await uniqueIndexesOnColumn()).toEqual(['users_workos_user_id_unique']);
  const [constraint] = (
    await pool.query(`SELECT contype FROM pg_constraint WHERE conname = 'users_workos_user_id_unique'`)
  ).rows;
  expect(constraint).toEqual({ contype: 'u' });
  expect(await pushStatements()).toEqual([]);
  // Twice is still one unique index.
  await install(db as unknown as DrizzleDatabase, mapping);
  expect(await uniqueIndexesOnColumn()).toEqual(['users_workos_user_id_unique']);
  await pool.query(uninstallSql(mapping));
});

// The example app's Drizzle schema: a users table as a legacy app has it, plus the column and the
// email index the migration adds (declared so drizzle-kit keeps them). The library's own tables stay
// out of it: they live in the workos_migrate schema, outside drizzle-kit's default schemaFilter.
import { boolean, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';
import { workosMigrateEmailIndex, workosUserId } from 'workos-migrate/drizzle';

export const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    email: text('email'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    emailVerified: boolean('email_verified').notNull().default(false),
    /** Whatever the legacy system stored: bcrypt, argon2, Django pbkdf2, unsalted md5, or nothing. */
    passwordHash: text('password_hash'),
    disabled: boolean('disabled').notNull().default(false),
    plan: text('plan'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    workosUserId: workosUserId(),
  },
  (t) => [workosMigrateEmailIndex('users', t.email)],
);

/** What the app's own migrations would create (drizzle-kit in a real app). */
export const USERS_DDL = `CREATE TABLE IF NOT EXISTS users (
  id serial PRIMARY KEY,
  email text,
  first_name text,
  last_name text,
  email_verified boolean NOT NULL DEFAULT false,
  password_hash text,
  disabled boolean NOT NULL DEFAULT false,
  plan text,
  created_at timestamptz NOT NULL DEFAULT now(),
  workos_user_id text CONSTRAINT users_workos_user_id_unique UNIQUE
)`;

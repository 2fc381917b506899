import { type Column, sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  smallint,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import { emailLookupSql } from '../core/email.js';

/**
 * The library's own schema, for typed reads. Keep it out of the schema drizzle-kit reads: it lies outside
 * drizzle-kit's default `schemaFilter`, so `push` never touches it; the DDL comes from `installSql()`.
 */
export const workosMigrateSchema = pgSchema('workos_migrate');

/** One row per dirty user id: "user 42 needs syncing", never what changed. */
export const outbox = workosMigrateSchema.table('outbox', {
  userId: text('user_id').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull().default(1),
  /** 0 = live change, 1 = backfill. */
  priority: smallint('priority').notNull().default(0),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
  leaseToken: text('lease_token'),
  leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
  dead: boolean('dead').notNull().default(false),
  deadReason: text('dead_reason'),
  lastError: text('last_error'),
  /** Sticky: set when the hash column changed, cleared only when the hash reached WorkOS. */
  passwordChanged: boolean('password_changed').notNull().default(false),
  deleted: boolean('deleted').notNull().default(false),
  /** The WorkOS id at the time of a delete (the local row is gone by then). */
  workosUserId: text('workos_user_id'),
  /** A delete held back by the mass-delete threshold until an operator confirms. */
  held: boolean('held').notNull().default(false),
  deleteConfirmed: boolean('delete_confirmed').notNull().default(false),
  /** Set after an attempt whose outcome is unknown (timeout, dropped connection). */
  uncertain: boolean('uncertain').notNull().default(false),
  /** After an uncertain attempt succeeded: re-read WorkOS once the stray request can no longer land. */
  verifying: boolean('verifying').notNull().default(false),
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  /** What a create for this row was about to send (`{ externalId, email }`), recorded before the call. */
  sentCreates: jsonb('sent_creates').$type<{ externalId: string; email: string }[]>().notNull().default([]),
  /** Until when a write of ours that got no answer may still land: a last re-check is due then. */
  strayUntil: timestamp('stray_until', { withTimezone: true }),
  /** The oldest row version a write without an answer was sent for (what a stray can still carry). */
  strayVersion: bigint('stray_version', { mode: 'number' }),
});

/** What was last sent to WorkOS for each user, per field. */
export const syncState = workosMigrateSchema.table('sync_state', {
  userId: text('user_id').primaryKey(),
  workosUserId: text('workos_user_id').notNull().unique(),
  email: text('email').notNull(),
  firstName: text('first_name'),
  lastName: text('last_name'),
  emailVerified: boolean('email_verified').notNull().default(false),
  metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
  /** `synced`, `no_local_password`, `login`, `reset`, `none`. */
  passwordState: text('password_state').notNull(),
  /** Why the password is not `synced`, when it is not. */
  passwordReason: text('password_reason'),
  resetSentAt: timestamp('reset_sent_at', { withTimezone: true }),
  environment: text('environment').notNull(),
  syncedAt: timestamp('synced_at', { withTimezone: true }).notNull().defaultNow(),
  /** First sign-in through WorkOS via `login()`: from then on a WorkOS outage never falls back to legacy. */
  workosSignedInAt: timestamp('workos_signed_in_at', { withTimezone: true }),
  /** The `updated_at` WorkOS answered at our last write: healing needs it unchanged. */
  workosUpdatedAt: text('workos_updated_at'),
  /** Source format id (workos-migrate/hashes) of the imported hash WorkOS holds, else null. */
  hashFormat: text('hash_format'),
  /** When this user's own password was last seen to work at WorkOS (a shadow match, a healed sign-in). */
  passwordVerifiedAt: timestamp('password_verified_at', { withTimezone: true }),
});

/** Per source hash format: what shadow checks and healed sign-ins showed (counts only). */
export const formatChecks = workosMigrateSchema.table('format_checks', {
  format: text('format').primaryKey(),
  matched: bigint('matched', { mode: 'number' }).notNull().default(0),
  mismatched: bigint('mismatched', { mode: 'number' }).notNull().default(0),
  other: bigint('other', { mode: 'number' }).notNull().default(0),
  healed: bigint('healed', { mode: 'number' }).notNull().default(0),
  firstSeenAt: timestamp('first_seen_at', { withTimezone: true }).notNull().defaultNow(),
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * status()'s kept counts: signed deltas appended by the install's triggers; a counter's value
 * is the sum of its rows (`users`, `sync_state`, `sync_state.password.<state>`, `sync_state.format.<id>`,
 * `outbox.live`, `outbox.backfill`, `outbox.held`, `outbox.dead.<reason>`).
 */
export const counts = workosMigrateSchema.table('counts', {
  counter: text('counter').notNull(),
  delta: bigint('delta', { mode: 'number' }).notNull(),
});

/** The leader lease: one row, renewed by the worker that spends the rate budget. */
/** Unconfirmed deletes applied in WorkOS, for the mass-delete guard's sliding window. */
export const appliedDeletes = workosMigrateSchema.table('applied_deletes', {
  userId: text('user_id').notNull(),
  deletedAt: timestamp('deleted_at', { withTimezone: true }).notNull().defaultNow(),
});

export const leader = workosMigrateSchema.table('leader', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * `login()`'s legacy attempt limit, shared by every instance: per email key (an HMAC of the normalised
 * email, never the email), the attempts inside the window. Written only by `take_login_attempt()`.
 */
export const loginAttempts = workosMigrateSchema.table('login_attempts', {
  emailKey: text('email_key').primaryKey(),
  attemptedAt: timestamp('attempted_at', { withTimezone: true }).array().notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/** Stored settings: freeze, rollout percent, the pinned WorkOS environment, the installed version. */
export const settings = workosMigrateSchema.table('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The column the app adds to its users table: `workosUserId: workosUserId()`. */
export function workosUserId() {
  return text('workos_user_id').unique();
}

/**
 * The index `install` creates for `login()`'s lookup by normalised email, declared for drizzle-kit so
 * `push` keeps it: `pgTable('users', {...}, (t) => [workosMigrateEmailIndex('users', t.email)])`.
 */
export function workosMigrateEmailIndex(tableName: string, email: Column) {
  // The same expression as install's index, from the one definition of it.
  const [before = '', after = ''] = emailLookupSql('\u0000').split('\u0000');
  return index(`${tableName}_workos_migrate_email_idx`.slice(0, 63)).on(
    sql`${sql.raw(before)}${email}${sql.raw(after)}`,
  );
}

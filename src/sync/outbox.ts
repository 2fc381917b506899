import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type DrizzleDatabase, type DrizzleTransaction, query } from '../core/db.js';

export interface ClaimedRow {
  userId: string;
  version: number;
  priority: number;
  attempts: number;
  passwordChanged: boolean;
  deleted: boolean;
  /** A delete of this id was pending when the row came back: a new person, not the one synced. */
  replaced: boolean;
  /** login() moved a password to WorkOS that may be older than the local one. */
  passwordMoved: boolean;
  workosUserId: string | null;
  deleteConfirmed: boolean;
  uncertain: boolean;
  verifying: boolean;
  /** When this user was first queued (kept across later changes): bounds what our own attempts created. */
  enqueuedAt: string;
  leaseToken: string;
}

/**
 * Claims up to `limit` due rows in a short transaction: `FOR UPDATE SKIP LOCKED` so workers never
 * wait on each other, and a lease (token + expiry) so the WorkOS call happens outside any
 * transaction and a crashed worker's rows come back when the lease runs out.
 */
export async function claim(db: DrizzleDatabase, limit: number, leaseMs: number): Promise<ClaimedRow[]> {
  const token = randomUUID();
  const rows = await query<Omit<ClaimedRow, 'leaseToken'>>(
    db,
    sql`WITH due AS (
          SELECT user_id FROM workos_migrate.outbox
          WHERE NOT dead AND NOT held AND next_attempt_at <= now()
            AND (lease_expires_at IS NULL OR lease_expires_at < now())
          ORDER BY priority, next_attempt_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        UPDATE workos_migrate.outbox o
        SET lease_token = ${token}, lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
            attempts = o.attempts + 1
        FROM due WHERE o.user_id = due.user_id
        RETURNING o.user_id AS "userId", o.version::float8 AS "version", o.priority, o.attempts,
          o.password_changed AS "passwordChanged", o.deleted, o.replaced, o.password_moved AS "passwordMoved", o.workos_user_id AS "workosUserId",
          o.delete_confirmed AS "deleteConfirmed", o.uncertain, o.verifying,
          to_char(o.enqueued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "enqueuedAt"`,
  );
  return rows.map((row) => ({ ...row, version: Number(row.version), leaseToken: token }));
}

/**
 * Finishes a row: deleted only if neither its version nor its lease changed, so a change that
 * arrived during the call keeps it pending. Answers whether the row was removed.
 */
export async function complete(
  tx: DrizzleTransaction,
  row: ClaimedRow,
  passwordSent: boolean,
): Promise<boolean> {
  const removed = await query<{ user_id: string }>(
    tx,
    sql`DELETE FROM workos_migrate.outbox WHERE user_id = ${row.userId} AND version = ${row.version}
        AND lease_token = ${row.leaseToken} RETURNING user_id`,
  );
  if (removed.length > 0) return true;
  // A newer change: release it for another pass. The password bit stays (sending the hash twice is
  // harmless; missing a change is not) unless this version's password already went out.
  await tx.execute(
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL, attempts = 0,
          next_attempt_at = now(), verifying = false,
          password_changed = password_changed AND NOT (${passwordSent} AND version = ${row.version})
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken}`,
  );
  return false;
}

/** Keeps a row after a success whose earlier attempt had no answer: re-check WorkOS after `delayMs`. */
export async function scheduleVerification(
  tx: DrizzleTransaction,
  row: ClaimedRow,
  delayMs: number,
): Promise<void> {
  await tx.execute(
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL, attempts = 0,
          uncertain = false, verifying = true, password_changed = false,
          next_attempt_at = now() + ${delayMs} * interval '1 millisecond'
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} AND version = ${row.version}`,
  );
}

export async function retryLater(
  db: DrizzleTransaction,
  row: ClaimedRow,
  delayMs: number,
  error: string,
  uncertain: boolean,
): Promise<void> {
  await db.execute(
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL, last_error = ${error},
          uncertain = uncertain OR ${uncertain},
          next_attempt_at = now() + ${Math.round(delayMs)} * interval '1 millisecond', updated_at = now()
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken}`,
  );
}

/** Gives a row back without counting the attempt (worker stopping, lost leadership, rate pause). */
export async function release(db: DrizzleTransaction, row: ClaimedRow): Promise<void> {
  await db.execute(
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL,
          attempts = GREATEST(attempts - 1, 0)
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken}`,
  );
}

/** Dead-letters a row, unless a newer change arrived meanwhile (that one deserves its own try). */
export async function deadLetter(
  db: DrizzleTransaction,
  row: ClaimedRow,
  reason: string,
  detail: string,
): Promise<void> {
  await db.execute(
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL,
          dead = (version = ${row.version}), dead_reason = CASE WHEN version = ${row.version} THEN ${reason} END,
          last_error = ${detail}, attempts = CASE WHEN version = ${row.version} THEN attempts ELSE 0 END,
          next_attempt_at = now(), updated_at = now()
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken}`,
  );
}

/** Holds every unconfirmed pending delete: a mass delete waits for `confirmDeletes()`. */
export async function holdDeletes(db: DrizzleTransaction): Promise<number> {
  const held = await query<{ user_id: string }>(
    db,
    sql`UPDATE workos_migrate.outbox SET held = true, lease_token = NULL, lease_expires_at = NULL
        WHERE (deleted OR replaced) AND NOT dead AND NOT delete_confirmed AND NOT held RETURNING user_id`,
  );
  return held.length;
}

export async function pendingDeletes(db: DrizzleTransaction): Promise<number> {
  const rows = await query<{ n: number }>(
    db,
    sql`SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE (deleted OR replaced) AND NOT dead AND NOT delete_confirmed`,
  );
  return rows[0]?.n ?? 0;
}

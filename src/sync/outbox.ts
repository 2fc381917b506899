import { randomUUID } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { type DrizzleDatabase, type DrizzleTransaction, query } from '../core/db.js';

/** The identity a create was about to send: the external id and the normalised email. */
export interface CreateIntent {
  externalId: string;
  email: string;
  /**
   * Whether the create carried a password hash (never the hash itself): the WorkOS user it made may
   * hold that password, which must not outlive a local password cleared since. Absent (intents
   * recorded before this field existed): taken as true.
   */
  password?: boolean;
}

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
  /** What creates for this row were about to send (recorded before each call): proof a WorkOS user is ours. */
  sentCreates: CreateIntent[];
  /**
   * The oldest row version a write that got no answer was sent for (null: none, or not known). A pass
   * at that same version confirmed what every such stray write carries, so its landing changes nothing.
   */
  strayVersion: number | null;
  /** When the user was first queued (epoch ms, kept across later changes): the start of its mirror lag. */
  enqueuedAtMs: number;
  leaseToken: string;
  /**
   * Local time (ms) until which this process may act on the row: measured from before the claim (or
   * the last extension), so it is never later than the database's own `lease_expires_at`.
   */
  leaseDeadline: number;
}

/**
 * Claims up to `limit` due rows in a short transaction: `FOR UPDATE SKIP LOCKED` so workers never
 * wait on each other, and a lease (token + expiry) so the WorkOS call happens outside any
 * transaction and a crashed worker's rows come back when the lease runs out.
 */
export async function claim(
  db: DrizzleDatabase,
  limit: number,
  leaseMs: number,
  inFlight: ReadonlySet<string> = new Set(),
): Promise<ClaimedRow[]> {
  const token = randomUUID();
  const claimedAt = Date.now();
  // Users this process is still syncing are never claimed again, even once their lease expired: two
  // syncs of one user at once can land an older write after a newer one.
  const skip = JSON.stringify([...inFlight]);
  const rows = await query<Omit<ClaimedRow, 'leaseToken' | 'leaseDeadline'>>(
    db,
    sql`WITH due AS (
          SELECT user_id FROM workos_migrate.outbox
          WHERE NOT dead AND NOT held AND next_attempt_at <= now()
            AND (lease_expires_at IS NULL OR lease_expires_at < now())
            AND user_id NOT IN (SELECT jsonb_array_elements_text(${skip}::jsonb))
          ORDER BY priority, next_attempt_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        UPDATE workos_migrate.outbox o
        SET lease_token = ${token}, lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
            attempts = o.attempts + 1
        FROM due WHERE o.user_id = due.user_id
        RETURNING o.user_id AS "userId", o.version::float8 AS "version", o.priority, o.attempts,
          o.password_changed AS "passwordChanged", o.deleted, o.replaced, o.password_moved AS "passwordMoved", o.workos_user_id AS "workosUserId",
          o.delete_confirmed AS "deleteConfirmed", o.uncertain, o.verifying, o.sent_creates AS "sentCreates",
          o.stray_version::float8 AS "strayVersion", (extract(epoch FROM o.enqueued_at) * 1000)::float8 AS "enqueuedAtMs"`,
  );
  return rows.map((row) => ({
    ...row,
    version: Number(row.version),
    strayVersion: row.strayVersion === null ? null : Number(row.strayVersion),
    leaseToken: token,
    leaseDeadline: claimedAt + leaseMs,
  }));
}

/**
 * Records, under the lease and before the call, what a create is about to send, so that after any
 * crash the user it made is recognised as ours by what we sent, never by timestamps. Answers false
 * when the lease is gone (send nothing).
 */
export async function recordCreateIntent(
  db: DrizzleDatabase,
  row: ClaimedRow,
  intent: CreateIntent,
): Promise<boolean> {
  return (await recordCreateIntents(db, [{ row, intent }])).has(row);
}

/**
 * `recordCreateIntent` for several rows in one statement, each under its own lease token; answers the
 * rows whose lease was still held (their `sentCreates` now carry the intent).
 */
export async function recordCreateIntents(
  db: DrizzleDatabase,
  intents: readonly { row: ClaimedRow; intent: CreateIntent }[],
): Promise<Set<ClaimedRow>> {
  const entries = JSON.stringify(
    intents.map(({ row, intent }) => ({ userId: row.userId, leaseToken: row.leaseToken, entry: [intent] })),
  );
  const recorded = await query<{ user_id: string }>(
    db,
    sql`UPDATE workos_migrate.outbox o SET sent_creates = CASE WHEN o.sent_creates @> i.entry
          THEN o.sent_creates ELSE o.sent_creates || i.entry END
        FROM (SELECT x->>'userId' AS user_id, x->>'leaseToken' AS lease_token, x->'entry' AS entry
              FROM jsonb_array_elements(${entries}::jsonb) x) i
        WHERE o.user_id = i.user_id AND o.lease_token = i.lease_token RETURNING o.user_id`,
  );
  const held = new Set(recorded.map((r) => r.user_id));
  const rows = new Set<ClaimedRow>();
  for (const { row, intent } of intents) {
    if (!held.has(row.userId)) continue;
    rows.add(row);
    if (!hasSentCreate(row, intent)) row.sentCreates.push(intent);
  }
  return rows;
}

/** Whether this create intent is already recorded for the row (in the database, under its lease). */
export function hasSentCreate(row: ClaimedRow, intent: CreateIntent): boolean {
  return row.sentCreates.some((sent) => sent.externalId === intent.externalId && sent.email === intent.email);
}

/**
 * Extends a lease still held (same token, not yet expired in the database) and moves
 * `row.leaseDeadline`. Answers false when the lease is gone: the caller must send nothing more.
 */
export async function extendLease(db: DrizzleDatabase, row: ClaimedRow, leaseMs: number): Promise<boolean> {
  const startedAt = Date.now();
  const extended = await query<{ user_id: string }>(
    db,
    sql`UPDATE workos_migrate.outbox SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} AND lease_expires_at > now()
        RETURNING user_id`,
  );
  if (extended.length === 0) return false;
  row.leaseDeadline = startedAt + leaseMs;
  return true;
}

/**
 * A write of ours reached (or may have reached) WorkOS after our lease was lost: whoever holds the
 * row now synced from what it read, which our write may have overwritten. Bump the version (so that
 * holder's completion keeps the row) and mark it for a pass that re-reads WorkOS. `uncertain` when
 * the write had no answer (it may land later; the pass after it verifies again).
 */
export async function requeueForVerification(
  db: DrizzleTransaction,
  userId: string,
  uncertain: boolean,
): Promise<void> {
  await db.execute(
    sql`INSERT INTO workos_migrate.outbox AS o (user_id, verifying, uncertain)
        VALUES (${userId}, true, ${uncertain})
        ON CONFLICT (user_id) DO UPDATE SET version = o.version + 1, verifying = true,
          uncertain = o.uncertain OR EXCLUDED.uncertain, priority = 0, updated_at = now()`,
  );
}

/**
 * The CTEs `removed` and `released` that finish a row: deleted only if neither its version nor its
 * lease changed, so a change that arrived during the call keeps it pending (released for another
 * pass). The password bit stays (sending the hash twice is harmless; missing a change is not) unless
 * this version's password already went out, and so does `verifying` (a re-check asked for during the
 * call, by requeueForVerification, must not be lost). `released` waits for `removed`: at most one touches it.
 * While a stray write (one that got no answer) may still land (`stray_until`), the row is not deleted:
 * it waits, verifying, for the last re-check at `stray_until`, since a stray landing after this pass
 * would undo it.
 */
export function finishRowSql(row: ClaimedRow, passwordSent: boolean): SQL {
  return sql`removed AS (DELETE FROM workos_migrate.outbox WHERE user_id = ${row.userId} AND version = ${row.version}
          AND lease_token = ${row.leaseToken} AND (stray_until IS NULL OR stray_until <= now()) RETURNING 1),
        released AS (UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL, attempts = 0,
          next_attempt_at = CASE WHEN version = ${row.version} AND stray_until > now() THEN stray_until ELSE now() END,
          verifying = verifying OR coalesce(stray_until > now(), false),
          password_changed = password_changed AND NOT (${passwordSent} AND version = ${row.version})
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} AND NOT EXISTS (SELECT 1 FROM removed)
        RETURNING 1)`;
}

/**
 * The same two CTEs after a success whose earlier attempt had no answer (it may still land): the row
 * stays, due for a pass that re-reads WorkOS after `delayMs` (at once if a newer change arrived), and
 * `stray_until` moves to `strayMs` from now: the passes before it keep the row for a last re-check then.
 */
export function verifyRowSql(row: ClaimedRow, delayMs: number, strayMs: number = delayMs): SQL {
  const stray = sql`now() + ${Math.round(strayMs)} * interval '1 millisecond'`;
  // No earlier re-check asked for: due with the last one, at the (new) stray_until.
  const due =
    delayMs < strayMs
      ? sql`now() + ${Math.round(delayMs)} * interval '1 millisecond'`
      : sql`GREATEST(stray_until, ${stray})`;
  return sql`removed AS (SELECT 1 WHERE false),
        released AS (UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL, attempts = 0,
          verifying = true, uncertain = uncertain AND version <> ${row.version},
          password_changed = password_changed AND version <> ${row.version},
          stray_until = GREATEST(stray_until, ${stray}),
          next_attempt_at = CASE WHEN version = ${row.version} THEN ${due} ELSE now() END
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} RETURNING 1)`;
}

/**
 * Rows kept only for the last re-check after a write without an answer (see `verifyRowSql`): not due
 * before `stray_until` and not uncertain. Background work: an import does not wait for them.
 */
export const lastRecheckOnlySql: SQL = sql`(stray_until IS NOT NULL AND next_attempt_at >= stray_until AND NOT uncertain)`;

/** Finishes a row without a state to record (see `finishRowSql`); answers whether the lease was still held. */
export async function complete(db: DrizzleTransaction, finish: SQL): Promise<boolean> {
  const rows = await query<{ held: number }>(
    db,
    sql`WITH ${finish} SELECT ((SELECT count(*) FROM removed) + (SELECT count(*) FROM released))::int AS held`,
  );
  return (rows[0]?.held ?? 0) > 0;
}

/**
 * Every other statement that finishes a row is conditional on its lease token too and answers whether
 * the lease was still held: if not, another holder owns the row and nothing of ours was recorded.
 */
async function whileLeased(db: DrizzleTransaction, statement: SQL): Promise<boolean> {
  return (await query<{ user_id: string }>(db, statement)).length > 0;
}

export async function retryLater(
  db: DrizzleTransaction,
  row: ClaimedRow,
  delayMs: number,
  error: string,
  uncertain: boolean,
): Promise<boolean> {
  return whileLeased(
    db,
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL, last_error = ${error},
          uncertain = uncertain OR ${uncertain},
          stray_version = CASE WHEN ${uncertain} THEN LEAST(stray_version, ${row.version}) ELSE stray_version END,
          next_attempt_at = now() + ${Math.round(delayMs)} * interval '1 millisecond', updated_at = now()
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} RETURNING user_id`,
  );
}

/** Gives a row back without counting the attempt (worker stopping, lost leadership, rate pause). */
export async function release(db: DrizzleTransaction, row: ClaimedRow): Promise<boolean> {
  return whileLeased(
    db,
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL,
          attempts = GREATEST(attempts - 1, 0)
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} RETURNING user_id`,
  );
}

/** Dead-letters a row, unless a newer change arrived meanwhile (that one deserves its own try). */
export async function deadLetter(
  db: DrizzleTransaction,
  row: ClaimedRow,
  reason: string,
  detail: string,
): Promise<boolean> {
  return whileLeased(
    db,
    sql`UPDATE workos_migrate.outbox SET lease_token = NULL, lease_expires_at = NULL,
          dead = (version = ${row.version}), dead_reason = CASE WHEN version = ${row.version} THEN ${reason} END,
          last_error = ${detail}, attempts = CASE WHEN version = ${row.version} THEN attempts ELSE 0 END,
          next_attempt_at = now(), updated_at = now()
        WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} RETURNING user_id`,
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

/**
 * What the mass-delete guard compares with `deleteThreshold`: unconfirmed deletes pending now plus
 * those applied in WorkOS within the window, so a mass delete done in batches slower than the worker
 * is counted whole.
 */
export async function deletesInWindow(db: DrizzleTransaction, windowMs: number): Promise<number> {
  const rows = await query<{ n: number }>(
    db,
    // UNION: a delete applied but not yet completed is in both; it counts once.
    sql`SELECT count(*)::int AS n FROM (
          SELECT user_id FROM workos_migrate.outbox WHERE (deleted OR replaced) AND NOT dead AND NOT delete_confirmed
          UNION
          SELECT user_id FROM workos_migrate.applied_deletes
          WHERE deleted_at > now() - ${windowMs} * interval '1 millisecond') d`,
  );
  return rows[0]?.n ?? 0;
}

/** Records an unconfirmed delete applied in WorkOS, and forgets those older than the window. */
export async function recordAppliedDelete(
  db: DrizzleTransaction,
  userId: string,
  windowMs: number,
): Promise<void> {
  await db.execute(
    sql`WITH expired AS (DELETE FROM workos_migrate.applied_deletes
          WHERE deleted_at <= now() - ${windowMs} * interval '1 millisecond')
        INSERT INTO workos_migrate.applied_deletes (user_id) VALUES (${userId})`,
  );
}

/**
 * Whether any row is due for a claim (a read on the claim index, no row locks, no write): what an
 * idle worker asks before it claims.
 */
export async function hasDueRows(db: DrizzleDatabase): Promise<boolean> {
  const rows = await query<{ due: boolean }>(
    db,
    sql`SELECT EXISTS (SELECT 1 FROM workos_migrate.outbox
          WHERE NOT dead AND NOT held AND next_attempt_at <= now()
            AND (lease_expires_at IS NULL OR lease_expires_at < now())) AS due`,
  );
  return rows[0]?.due === true;
}

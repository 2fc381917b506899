import { sql } from 'drizzle-orm';
import { type DrizzleDatabase, query } from '../core/db.js';
import { quoteIdent, type UsersMapping } from '../core/mapping.js';
import { currentLeader } from './leader.js';

export interface MigrationStatus {
  users: number;
  synced: number;
  pending: { live: number; backfill: number };
  dead: Record<string, number>;
  passwordStates: Record<string, number>;
  /** Age in seconds of the oldest pending change, or null when nothing is pending. */
  oldestPendingSeconds: number | null;
  leader: { holder: string; expiresAt: string } | null;
  deletesAwaitingConfirmation: number;
  lastTruncateAt: string | null;
}

export async function readStatus(db: DrizzleDatabase, mapping: UsersMapping): Promise<MigrationStatus> {
  const [counts] = await query<{
    users: number;
    synced: number;
    live: number;
    backfill: number;
    held: number;
    oldest: number | null;
    truncated: string | null;
  }>(
    db,
    sql`SELECT
          (SELECT count(*)::int FROM ${sql.raw(mapping.users.qualified)}) AS users,
          (SELECT count(*)::int FROM workos_migrate.sync_state) AS synced,
          (SELECT count(*)::int FROM workos_migrate.outbox WHERE NOT dead AND NOT held AND priority = 0) AS live,
          (SELECT count(*)::int FROM workos_migrate.outbox WHERE NOT dead AND NOT held AND priority > 0) AS backfill,
          (SELECT count(*)::int FROM workos_migrate.outbox WHERE held AND NOT dead) AS held,
          (SELECT extract(epoch FROM now() - min(enqueued_at))::float8 FROM workos_migrate.outbox WHERE NOT dead) AS oldest,
          (SELECT value #>> '{}' FROM workos_migrate.settings WHERE key = 'last_truncate_at') AS truncated`,
  );
  const dead = await query<{ reason: string; n: number }>(
    db,
    sql`SELECT coalesce(dead_reason, 'unknown') AS reason, count(*)::int AS n FROM workos_migrate.outbox WHERE dead GROUP BY 1`,
  );
  const passwords = await query<{ state: string; n: number }>(
    db,
    sql`SELECT password_state AS state, count(*)::int AS n FROM workos_migrate.sync_state GROUP BY 1`,
  );
  return {
    users: counts?.users ?? 0,
    synced: counts?.synced ?? 0,
    pending: { live: counts?.live ?? 0, backfill: counts?.backfill ?? 0 },
    dead: Object.fromEntries(dead.map((row) => [row.reason, row.n])),
    passwordStates: Object.fromEntries(passwords.map((row) => [row.state, row.n])),
    oldestPendingSeconds: counts?.oldest ?? null,
    leader: await currentLeader(db),
    deletesAwaitingConfirmation: counts?.held ?? 0,
    lastTruncateAt: counts?.truncated ?? null,
  };
}

/** One dead-lettered user, as `status --dead`, the dashboard and `deadLetters()` list them. */
export interface DeadLetter {
  userId: string;
  reason: string;
  /** The stored error summary (never SQL text, values, hashes or keys; see DESIGN's invariants). */
  message: string | null;
  attempts: number;
  /** The local user's email as it is now (null when the row is gone); callers that display it mask it. */
  email: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
}

export interface DeadLetterPage {
  deadLetters: DeadLetter[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

/** Dead letters ordered by user id (keyset pagination: stable while rows come and go). */
export async function readDeadLetters(
  db: DrizzleDatabase,
  mapping: UsersMapping,
  idType: string,
  options: { reason?: string | undefined; limit?: number | undefined; after?: string | undefined } = {},
): Promise<DeadLetterPage> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 1000);
  const users = sql.raw(mapping.users.qualified);
  const id = sql.raw(`u.${quoteIdent(mapping.columns.id)}`);
  const email = sql.raw(`u.${quoteIdent(mapping.columns.email)}`);
  // A lateral lookup by primary key per listed row (never a join that casts every user id).
  const rows = await query<DeadLetter>(
    db,
    sql`SELECT o.user_id AS "userId", coalesce(o.dead_reason, 'unknown') AS reason, o.last_error AS message,
               o.attempts, e.email, o.enqueued_at::text AS "firstSeenAt", o.updated_at::text AS "lastSeenAt"
        FROM workos_migrate.outbox o
        LEFT JOIN LATERAL (SELECT ${email}::text AS email FROM ${users} u
                           WHERE ${id} = o.user_id::${sql.raw(idType)}) e ON true
        WHERE o.dead
          ${options.reason === undefined ? sql`` : sql`AND coalesce(o.dead_reason, 'unknown') = ${options.reason}`}
          ${options.after === undefined ? sql`` : sql`AND o.user_id > ${options.after}`}
        ORDER BY o.user_id
        LIMIT ${limit + 1}`,
  );
  const page = rows.slice(0, limit);
  return { deadLetters: page, next: rows.length > limit ? (page.at(-1)?.userId ?? null) : null };
}

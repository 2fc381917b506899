import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
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
  /** Per source hash format (a `workos-migrate/hashes` id): shadow evidence and the cutover verdict. */
  formats: FormatEvidence[];
}

/** What is known about how WorkOS reads one source hash format. */
export interface FormatEvidence {
  format: string;
  /** Users whose imported hash WorkOS holds in this format. */
  users: number;
  /** Shadow checks and healed sign-ins: matched + mismatched + other. */
  shadowChecked: number;
  matched: number;
  /** WorkOS refused a password the legacy check accepted (healed ones included). */
  mismatched: number;
  /** Checks that proved nothing (rate limited, a sign-in step, unreachable, changed in WorkOS). */
  other: number;
  healed: number;
  firstSeenAt: string | null;
  lastSeenAt: string | null;
  /** `cutover.requireProvenFormats` lets this format's users go to WorkOS. */
  ready: boolean;
  /** "ready", "needs 12 more", "blocked: 7 of 212 mismatched", or "not gated" when the gate is off. */
  verdict: string;
}

/** The `cutover.requireProvenFormats` verdict on a format's shadow evidence. */
export function formatVerdict(
  counts: { matched: number; mismatched: number },
  rule: ResolvedConfig['cutover']['requireProvenFormats'],
): { ready: boolean; verdict: string } {
  if (rule === false) return { ready: true, verdict: 'not gated' };
  const decided = counts.matched + counts.mismatched;
  if (counts.mismatched > 0 && counts.mismatched / decided > rule.maxMismatchRate)
    return { ready: false, verdict: `blocked: ${counts.mismatched} of ${decided} mismatched` };
  if (counts.matched < rule.minMatches)
    return { ready: false, verdict: `needs ${rule.minMatches - counts.matched} more` };
  return { ready: true, verdict: 'ready' };
}

async function readFormats(
  db: DrizzleDatabase,
  rule: ResolvedConfig['cutover']['requireProvenFormats'],
): Promise<FormatEvidence[]> {
  const rows = await query<{
    format: string;
    users: number;
    matched: number;
    mismatched: number;
    other: number;
    healed: number;
    first_seen_at: string | null;
    last_seen_at: string | null;
  }>(
    db,
    sql`SELECT coalesce(u.format, f.format) AS format, coalesce(u.n, 0)::int AS users,
          coalesce(f.matched, 0)::int AS matched, coalesce(f.mismatched, 0)::int AS mismatched,
          coalesce(f.other, 0)::int AS other, coalesce(f.healed, 0)::int AS healed,
          f.first_seen_at::text AS first_seen_at, f.last_seen_at::text AS last_seen_at
        FROM (SELECT hash_format AS format, count(*) AS n FROM workos_migrate.sync_state
              WHERE hash_format IS NOT NULL GROUP BY 1) u
        FULL JOIN workos_migrate.format_checks f ON f.format = u.format
        ORDER BY 1`,
  );
  return rows.map((row) => ({
    format: row.format,
    users: row.users,
    shadowChecked: row.matched + row.mismatched + row.other,
    matched: row.matched,
    mismatched: row.mismatched,
    other: row.other,
    healed: row.healed,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    ...formatVerdict(row, rule),
  }));
}

export async function readStatus(
  db: DrizzleDatabase,
  mapping: UsersMapping,
  provenFormats: ResolvedConfig['cutover']['requireProvenFormats'],
): Promise<MigrationStatus> {
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
    formats: await readFormats(db, provenFormats),
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

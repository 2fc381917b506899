import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { type DrizzleDatabase, query } from '../core/db.js';
import { quoteIdent, type UsersMapping } from '../core/mapping.js';
import { currentLeader, foldCounts } from './leader.js';

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

/** Shadow evidence per format, with its users from the kept counts (no scan of sync_state). */
async function readFormats(
  db: DrizzleDatabase,
  usersByFormat: Map<string, number>,
  rule: ResolvedConfig['cutover']['requireProvenFormats'],
): Promise<FormatEvidence[]> {
  const checks = await query<{
    format: string;
    matched: number;
    mismatched: number;
    other: number;
    healed: number;
    first_seen_at: string | null;
    last_seen_at: string | null;
  }>(
    db,
    sql`SELECT format, matched::int AS matched, mismatched::int AS mismatched, other::int AS other,
          healed::int AS healed, first_seen_at::text AS first_seen_at, last_seen_at::text AS last_seen_at
        FROM workos_migrate.format_checks`,
  );
  const byFormat = new Map(checks.map((row) => [row.format, row]));
  const formats = [...new Set([...usersByFormat.keys(), ...byFormat.keys()])].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return formats.map((format) => {
    const row = byFormat.get(format);
    const counts = {
      matched: row?.matched ?? 0,
      mismatched: row?.mismatched ?? 0,
      other: row?.other ?? 0,
      healed: row?.healed ?? 0,
    };
    return {
      format,
      users: usersByFormat.get(format) ?? 0,
      shadowChecked: counts.matched + counts.mismatched + counts.other,
      ...counts,
      firstSeenAt: row?.first_seen_at ?? null,
      lastSeenAt: row?.last_seen_at ?? null,
      ...formatVerdict(counts, rule),
    };
  });
}

/** Delta rows past which status() folds them itself (no worker running to do it). */
const FOLD_ABOVE_ROWS = 2_000;

/** The non-zero counters under `prefix.`, keyed by what follows it. */
function countersUnder(counters: Map<string, number>, prefix: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const [counter, n] of counters) {
    if (n !== 0 && counter.startsWith(`${prefix}.`)) found.set(counter.slice(prefix.length + 1), n);
  }
  return found;
}

/**
 * Exact counts without reading every row: they are kept transactionally by the install's
 * triggers (workos_migrate.counts: signed deltas per statement or per moved row), so this sums a few rows.
 */
export async function readStatus(
  db: DrizzleDatabase,
  provenFormats: ResolvedConfig['cutover']['requireProvenFormats'],
): Promise<MigrationStatus> {
  const rows = await query<{
    counter: string | null;
    n: number;
    delta_rows: number;
    oldest: number | null;
    truncated: string | null;
  }>(
    db,
    sql`SELECT c.counter, c.n, c.delta_rows,
          (SELECT extract(epoch FROM now() - min(enqueued_at))::float8 FROM workos_migrate.outbox WHERE NOT dead) AS oldest,
          (SELECT value #>> '{}' FROM workos_migrate.settings WHERE key = 'last_truncate_at') AS truncated
        FROM (SELECT NULL::text AS counter, 0::float8 AS n, 0::int AS delta_rows) base
        LEFT JOIN (SELECT counter, sum(delta)::float8 AS n, count(*)::int AS delta_rows
                   FROM workos_migrate.counts GROUP BY counter) c ON true`,
  );
  const counters = new Map<string, number>();
  let deltaRows = 0;
  for (const row of rows) {
    if (row.counter === null) continue;
    counters.set(row.counter, row.n);
    deltaRows += row.delta_rows;
  }
  // Compaction only (the sums above are exact either way): a role without EXECUTE on fold_counts
  // still gets its status.
  if (deltaRows > FOLD_ABOVE_ROWS) await foldCounts(db).catch(() => undefined);
  const outbox = countersUnder(counters, 'outbox');
  return {
    users: counters.get('users') ?? 0,
    synced: counters.get('sync_state') ?? 0,
    pending: { live: outbox.get('live') ?? 0, backfill: outbox.get('backfill') ?? 0 },
    dead: Object.fromEntries(countersUnder(outbox, 'dead')),
    passwordStates: Object.fromEntries(countersUnder(counters, 'sync_state.password')),
    oldestPendingSeconds: rows[0]?.oldest ?? null,
    leader: await currentLeader(db),
    deletesAwaitingConfirmation: outbox.get('held') ?? 0,
    lastTruncateAt: rows[0]?.truncated ?? null,
    formats: await readFormats(db, countersUnder(counters, 'sync_state.format'), provenFormats),
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

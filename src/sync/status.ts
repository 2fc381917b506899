import { sql } from 'drizzle-orm';
import { type DrizzleDatabase, query } from '../core/db.js';
import type { UsersMapping } from '../core/mapping.js';
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

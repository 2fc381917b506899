import { sql } from 'drizzle-orm';
import { type DrizzleDatabase, query } from '../core/db.js';

const LEASE_NAME = 'worker';

/**
 * Takes or renews the leader lease row. A row, not a session advisory lock: it survives connection
 * pools, recycled connections and PgBouncer. Answers the local time until which this process may act.
 */
export async function acquireLeadership(
  db: DrizzleDatabase,
  holder: string,
  leaseMs: number,
): Promise<number | null> {
  const startedAt = Date.now();
  const rows = await query<{ holder: string }>(
    db,
    sql`INSERT INTO workos_migrate.leader AS l (name, holder, expires_at)
        VALUES (${LEASE_NAME}, ${holder}, now() + ${leaseMs} * interval '1 millisecond')
        ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
        RETURNING holder`,
  );
  // Measured from before the query, so a slow round trip shortens our own view of the lease.
  return rows.length > 0 ? startedAt + leaseMs : null;
}

export async function releaseLeadership(db: DrizzleDatabase, holder: string): Promise<void> {
  await db.execute(sql`DELETE FROM workos_migrate.leader WHERE name = ${LEASE_NAME} AND holder = ${holder}`);
}

export async function currentLeader(
  db: DrizzleDatabase,
): Promise<{ holder: string; expiresAt: string } | null> {
  const rows = await query<{ holder: string; expiresAt: string }>(
    db,
    sql`SELECT holder, expires_at::text AS "expiresAt" FROM workos_migrate.leader WHERE name = ${LEASE_NAME} AND expires_at > now()`,
  );
  return rows[0] ?? null;
}

/**
 * Compacts status()'s kept counts (one row per counter). Read-only, and so free of WAL and fsync, when
 * there is nothing to fold: the leader calls it on its lease renewals.
 */
export async function foldCounts(db: DrizzleDatabase): Promise<void> {
  await db.execute(sql`SELECT workos_migrate.fold_counts()`);
}

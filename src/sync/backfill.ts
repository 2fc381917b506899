import { type SQL, sql } from 'drizzle-orm';
import { type DrizzleDatabase, query } from '../core/db.js';
import { quoteIdent, type UsersMapping } from '../core/mapping.js';
import { idColumnType } from './local-user.js';

/**
 * Enqueues every user without a sync_state row at backfill priority, in keyset-paginated batches
 * (constant memory, one index range per batch). Rows already in the outbox are left as they are,
 * so a live change is never demoted and re-running is safe. Answers how many rows were added.
 */
export async function enqueueBackfill(
  db: DrizzleDatabase,
  mapping: UsersMapping,
  options: { batchSize?: number; onBatch?: (added: number) => void; limit?: number } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 1_000;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const { users, columns } = mapping;
  const id = quoteIdent(columns.id);
  // The cursor is compared in the id column's own type, so the primary key index is used; the page's
  // last row (not max(), which uuid lacks) is the next cursor, ordered exactly as the page was.
  const idType = await idColumnType(db, mapping);
  let cursor: string | null = null;
  let total = 0;
  while (total < limit) {
    const after: SQL = cursor === null ? sql`true` : sql`u.${sql.raw(id)} > ${cursor}::${sql.raw(idType)}`;
    // With a limit, rows already queued are skipped before LIMIT counts them, so the cut falls on
    // users actually added and stopping there leaves none of this page's candidates behind.
    const capped: SQL =
      limit === Number.POSITIVE_INFINITY
        ? sql``
        : sql`AND NOT EXISTS (SELECT 1 FROM workos_migrate.outbox o WHERE o.user_id = p.id::text)
            ORDER BY p.id LIMIT ${limit - total}`;
    const batch: { last: string | null; scanned: number; added: number }[] = await query<{
      last: string | null;
      scanned: number;
      added: number;
    }>(
      db,
      sql`WITH page AS (
            SELECT u.${sql.raw(id)} AS id FROM ${sql.raw(users.qualified)} u
            WHERE ${after} ORDER BY u.${sql.raw(id)} LIMIT ${batchSize}),
          added AS (
            INSERT INTO workos_migrate.outbox (user_id, priority, password_changed)
            SELECT p.id::text, 1, true FROM page p
            WHERE NOT EXISTS (SELECT 1 FROM workos_migrate.sync_state s WHERE s.user_id = p.id::text)
            ${capped}
            ON CONFLICT (user_id) DO NOTHING
            RETURNING 1)
          SELECT (SELECT p.id::text FROM page p ORDER BY p.id DESC LIMIT 1) AS last, (SELECT count(*)::int FROM page) AS scanned,
                 (SELECT count(*)::int FROM added) AS added`,
    );
    const page: { last: string | null; scanned: number; added: number } | undefined = batch[0];
    if (!page || page.scanned === 0) break;
    total += page.added;
    options.onBatch?.(page.added);
    cursor = page.last;
    if (page.scanned < batchSize) break;
  }
  return total;
}

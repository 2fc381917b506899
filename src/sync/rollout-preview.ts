import { type SQL, sql } from 'drizzle-orm';
import { type DrizzleDatabase, query } from '../core/db.js';
import { quoteIdent, type UsersMapping } from '../core/mapping.js';
import { bucketOf, stickinessKey } from '../flags/bucketing.js';
import { idColumnType } from './local-user.js';

const BATCH = 10_000;
const FRESH_MS = 30_000;

/**
 * How many users a rollout change would move. One pass over the users table counts users per
 * Unleash bucket (1..100), which answers every percentage at once; the counts are shared by concurrent
 * callers and reused for 30 s, so a dashboard slider dragged across the range costs one pass, not one
 * per position.
 */
export function rolloutPreviewer(
  db: DrizzleDatabase,
  users: UsersMapping,
  flags: { stickiness: 'userId' | 'email'; cutoverFlag: string },
): (from: number, to: number) => Promise<number> {
  let cached: { at: number; counts: Promise<number[]> } | null = null;

  async function countBuckets(): Promise<number[]> {
    const counts = new Array<number>(101).fill(0);
    const id = sql.raw(quoteIdent(users.columns.id));
    const email = sql.raw(quoteIdent(users.columns.email));
    const idType = sql.raw(await idColumnType(db, users));
    // Keyset batches by primary key: bounded memory at any table size; the bucketing is Unleash's, in JS.
    let after: SQL = sql``;
    for (;;) {
      const rows = await query<{ id: string; email: string | null }>(
        db,
        sql`SELECT ${id}::text AS id, ${email}::text AS email FROM ${sql.raw(users.users.qualified)}
            ${after} ORDER BY ${id} LIMIT ${BATCH}`,
      );
      for (const row of rows) {
        const key = stickinessKey(flags.stickiness, { userId: row.id, email: row.email ?? '' });
        const bucket = bucketOf(flags.cutoverFlag, key);
        counts[bucket] = (counts[bucket] ?? 0) + 1;
      }
      const last = rows.at(-1);
      if (rows.length < BATCH || !last) return counts;
      after = sql`WHERE ${id} > ${last.id}::${idType}`;
    }
  }

  return async (from, to) => {
    const [low, high] = from < to ? [from, to] : [to, from];
    if (low === high) return 0;
    if (!cached || Date.now() - cached.at > FRESH_MS) {
      const counts = countBuckets();
      cached = { at: Date.now(), counts };
      counts.catch(() => {
        cached = null;
      });
    }
    const counts = await cached.counts;
    return counts.slice(low + 1, high + 1).reduce((a, b) => a + b, 0);
  };
}

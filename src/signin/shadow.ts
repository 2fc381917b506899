import { sql } from 'drizzle-orm';
import type { DrizzleDatabase } from '../core/db.js';

/** What one check of an imported hash at WorkOS showed (a shadow check or a healed sign-in). */
export type FormatOutcome = 'match' | 'mismatch' | 'other';

/**
 * Counts one outcome for a source hash format (a `workos-migrate/hashes` format id), with first and
 * last seen. Counts only: no user id, email or hash.
 */
export async function recordFormatOutcome(
  db: DrizzleDatabase,
  format: string,
  outcome: FormatOutcome,
  options: { healed?: boolean } = {},
): Promise<void> {
  const matched = outcome === 'match' ? 1 : 0;
  const mismatched = outcome === 'mismatch' ? 1 : 0;
  const other = outcome === 'other' ? 1 : 0;
  const healed = options.healed ? 1 : 0;
  await db.execute(
    sql`INSERT INTO workos_migrate.format_checks AS f (format, matched, mismatched, other, healed)
        VALUES (${format}, ${matched}, ${mismatched}, ${other}, ${healed})
        ON CONFLICT (format) DO UPDATE SET matched = f.matched + EXCLUDED.matched,
          mismatched = f.mismatched + EXCLUDED.mismatched, other = f.other + EXCLUDED.other,
          healed = f.healed + EXCLUDED.healed, last_seen_at = now()`,
  );
}

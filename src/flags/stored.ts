import { sql } from 'drizzle-orm';
import { type DrizzleDatabase, query } from '../core/db.js';

/** The flag values kept in `workos_migrate.settings`: the source when neither env nor Unleash sets one. */
export interface StoredFlags {
  freeze: boolean;
  rolloutPercent: number;
}

export async function readStoredFlags(db: DrizzleDatabase): Promise<StoredFlags> {
  const rows = await query<{ key: string; value: unknown }>(
    db,
    sql`SELECT key, value FROM workos_migrate.settings WHERE key IN ('freeze', 'rollout_percent')`,
  );
  const values = new Map(rows.map((row) => [row.key, row.value]));
  const percent = Number(values.get('rollout_percent') ?? 0);
  return {
    freeze: values.get('freeze') === true,
    rolloutPercent: Number.isInteger(percent) && percent >= 0 && percent <= 100 ? percent : 0,
  };
}

export async function writeStoredFlag(
  db: DrizzleDatabase,
  key: 'freeze' | 'rollout_percent',
  value: boolean | number,
): Promise<void> {
  await db.execute(
    sql`INSERT INTO workos_migrate.settings (key, value) VALUES (${key}, ${JSON.stringify(value)}::jsonb)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
  );
}

import type { SQL } from 'drizzle-orm';

/**
 * What the library needs of the app's Drizzle database: raw SQL and transactions. Both the
 * node-postgres, postgres.js and PGlite drivers provide it; their result shapes differ (`rowsOf`).
 */
export interface DrizzleDatabase {
  execute(query: SQL): PromiseLike<unknown>;
  transaction<T>(work: (tx: DrizzleTransaction) => Promise<T>): Promise<T>;
}

export interface DrizzleTransaction {
  execute(query: SQL): PromiseLike<unknown>;
}

/** postgres.js answers an array of rows; PGlite and node-postgres answer `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}

export async function query<T>(db: DrizzleTransaction, statement: SQL): Promise<T[]> {
  return rowsOf<T>(await db.execute(statement));
}

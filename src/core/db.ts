import type { SQL } from 'drizzle-orm';
import { databaseError } from './errors.js';

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

const translated = new WeakSet<object>();

function translatedExecute(target: DrizzleTransaction, statement: SQL): Promise<unknown> {
  return Promise.resolve(target.execute(statement)).catch((error: unknown) => {
    throw databaseError(error);
  });
}

/** One transaction of the app's own (e.g. the one handed to an app callback) with failures translated. */
export function withTransactionErrors(tx: DrizzleTransaction): DrizzleTransaction {
  return { execute: (statement) => translatedExecute(tx, statement) };
}

/**
 * The app's database with every failure translated by `databaseError` (PostgreSQL's message and what to
 * do, no SQL text or parameter values): what the engine runs on, so no error it raises or stores leaks them.
 */
export function withDatabaseErrors(db: DrizzleDatabase): DrizzleDatabase {
  if (translated.has(db)) return db;
  const wrapped: DrizzleDatabase = {
    execute: (statement) => translatedExecute(db, statement),
    transaction: (work) =>
      db
        .transaction((tx) => work(withTransactionErrors(tx)))
        .catch((error: unknown) => {
          throw databaseError(error);
        }),
  };
  translated.add(wrapped);
  return wrapped;
}

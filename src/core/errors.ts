/** Why a user could not be mirrored: stable codes that `status()`, dead letters and the CLI show. */
export type ReasonCode =
  | 'missing_email'
  | 'invalid_email'
  | 'external_id_too_long'
  | 'invalid_metadata'
  | 'email_owned_elsewhere'
  | 'external_id_conflict'
  | 'waiting_on_user'
  | 'deleted_in_workos'
  | 'not_ours'
  /** A row without workos_user_id whose email is not the one synced: never taken for the same person. */
  | 'identity_unclear'
  /** WorkOS answered a create or update without a field that was sent (twice). */
  | 'workos_ignored_change'
  | 'invalid_password_hash'
  | 'workos_rejected'
  | 'too_many_attempts'
  | 'internal_error'
  | 'environment_mismatch';

/** An error the library raises on purpose: `code` is stable, `message` says what to do. */
export class WorkosMigrateError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WorkosMigrateError';
  }
}

/** A configuration value that cannot be used; the message names the option. */
export class ConfigError extends WorkosMigrateError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('invalid_config', `workos-migrate: option ${option} ${message}`);
    this.name = 'ConfigError';
  }
}

/** A query the database refused: its own message and what to do, never the SQL or its parameters. */
export class DatabaseError extends WorkosMigrateError {
  constructor(
    /** PostgreSQL's SQLSTATE (e.g. `42501`), or the network error code (`ECONNREFUSED`). */
    readonly sqlState: string | undefined,
    message: string,
  ) {
    super('database_error', message);
    this.name = 'DatabaseError';
  }
}

interface DriverError {
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

/**
 * The driver's own error inside drizzle's wrapper (`Failed query: <sql> params: <values>`, the
 * PostgreSQL error as `cause`), or null when the error did not come from the database.
 */
function driverError(error: unknown): { message: string; code: string | undefined } | null {
  let wrapped = false;
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const shaped = current as DriverError;
    const message = typeof shaped.message === 'string' ? shaped.message : '';
    const code = typeof shaped.code === 'string' ? shaped.code : undefined;
    if (message.startsWith('Failed query:')) wrapped = true;
    else if (code && (/^[0-9A-Z]{5}$/.test(code) || /^E[A-Z]+$/.test(code))) return { message, code };
    else if (wrapped && message) return { message, code };
    current = shaped.cause;
  }
  return wrapped ? { message: 'the database refused the query (no message)', code: undefined } : null;
}

/** What to do about the SQLSTATEs users meet; the message names the object. */
function whatToDo(code: string | undefined, message: string): string | undefined {
  const library = message.includes('workos_migrate');
  switch (code) {
    case '42P01':
    case '3F000':
    case '42883':
      return library
        ? 'run `workos-migrate install` (or apply installSql()) first'
        : 'check the table and column names in defineUsersMapping';
    case '42703':
      return 'a mapped column is missing: check defineUsersMapping (and its casing option)';
    case '42501':
      return 'install as the owner of the users table; a role that runs the worker gets its GRANTs from `workos-migrate install --worker-role <role>` (printed with --print)';
    case '28P01':
    case '28000':
      return 'check the user and password of the connection (DATABASE_URL)';
    case '3D000':
      return 'check the database name of the connection (DATABASE_URL)';
    case '55P03':
      return 'another transaction holds a lock it needs; retry, or look for long-running transactions';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case '57P01':
    case '08006':
      return 'check that PostgreSQL is running and reachable at the configured address';
    default:
      return undefined;
  }
}

/**
 * The one translation of a database failure for people: PostgreSQL's message (never the SQL text or
 * its parameter values, which can hold emails, hashes or tokens), its code, and what to do. Errors that
 * did not come from the database are returned as they are.
 */
export function databaseError(error: unknown): unknown {
  if (error instanceof WorkosMigrateError) return error;
  const found = driverError(error);
  if (!found) return error;
  const advice = whatToDo(found.code, found.message);
  return new DatabaseError(
    found.code,
    `workos-migrate: the database refused: ${found.message}${found.code ? ` (${found.code})` : ''}${advice ? `; ${advice}` : ''}`,
  );
}

/** The database's own message for a failed query, never its SQL or parameters. */
export function databaseMessage(error: unknown): string {
  return driverError(error)?.message ?? (error instanceof Error ? error.message : String(error));
}

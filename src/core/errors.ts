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

/**
 * The database's own message for a failed query, never its SQL or parameters: drizzle wraps driver
 * errors as `Failed query: <sql> params: <values>` and keeps the PostgreSQL error as `cause`.
 */
export function databaseMessage(error: unknown): string {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const shaped = current as { message?: unknown; cause?: unknown };
    const message = typeof shaped.message === 'string' ? shaped.message : undefined;
    if (message !== undefined && !message.startsWith('Failed query:')) return message;
    current = shaped.cause;
  }
  return 'the database refused the query (no message)';
}

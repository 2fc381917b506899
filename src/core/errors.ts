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

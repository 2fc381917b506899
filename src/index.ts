export {
  type AuthkitOptions,
  type CutoverOptions,
  defineConfig,
  type FlagsOptions,
  type LoginOptions,
  type PasswordResetRequest,
  type ProvenFormatsOptions,
  type ShadowOptions,
  type UnleashOptions,
  type WorkerOptions,
  type WorkosMigrateConfig,
  type WorkosMigrateConfigWithoutDb,
  type WorkosOnlyUser,
} from './core/config.js';
export type { DrizzleDatabase, DrizzleTransaction } from './core/db.js';
export { ConfigError, DatabaseError, type ReasonCode, WorkosMigrateError } from './core/errors.js';
export type { Logger } from './core/logger.js';
export {
  defineUsersMapping,
  type HashOptions,
  type UsersMapping,
  type UsersMappingInput,
} from './core/mapping.js';
export {
  type CompleteSignInFailure,
  type CompleteSignInInput,
  type CompleteSignInReason,
  type CompleteSignInResult,
  type CompleteSignInSuccess,
  type CutoverDecision,
  createWorkosMigrate,
  type DeadLetter,
  type DeadLetterPage,
  type FormatEvidence,
  type LegacyCredentials,
  type LegacyReason,
  type LoginInput,
  type LoginReason,
  type LoginResult,
  type MigrationStatus,
  type MigrationStatusWithFlags,
  type PendingSignIn,
  type SignInInput,
  type SignInRoute,
  type SyncResult,
  type WorkosMigrate,
} from './signin/engine.js';

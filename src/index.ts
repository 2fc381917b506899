export {
  defineConfig,
  type PasswordResetRequest,
  type WorkerOptions,
  type WorkosMigrateConfig,
} from './core/config.js';
export type { DrizzleDatabase, DrizzleTransaction } from './core/db.js';
export { ConfigError, type ReasonCode, WorkosMigrateError } from './core/errors.js';
export type { Logger } from './core/logger.js';
export {
  defineUsersMapping,
  type HashOptions,
  type UsersMapping,
  type UsersMappingInput,
} from './core/mapping.js';
export {
  createWorkosMigrate,
  type MigrationStatus,
  type SyncResult,
  type WorkosMigrate,
} from './sync/index.js';

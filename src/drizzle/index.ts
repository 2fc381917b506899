export { type EmbeddedDatabase, openEmbeddedDatabase } from './embedded.js';
export { checkRole, type RoleReport, workerGrantsSql } from './roles.js';
export {
  appliedDeletes,
  counts,
  formatChecks,
  leader,
  loginAttempts,
  outbox,
  settings,
  syncState,
  workosMigrateEmailIndex,
  workosMigrateSchema,
  workosUserId,
} from './schema.js';
export {
  CAPTURE_VERSION,
  captureSql,
  checkColumns,
  enqueueUserSync,
  install,
  installedState,
  installSql,
  uninstallSql,
} from './sql.js';

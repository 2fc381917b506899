// What the commands that work on the database share: the `--config` flag, loading and always
// closing the setup, and turning the library's errors into the CLI's exit codes.
import type { Command } from 'commander';
import { sql } from 'drizzle-orm';
import type { DrizzleDatabase } from '../core/db.js';
import { query } from '../core/db.js';
import { DatabaseError, databaseError, WorkosMigrateError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { type CliSetup, loadSetup, withoutPrefix } from './config.js';
import { addCommand, type CommonFlags, UsageError } from './conventions.js';

export interface EngineFlags extends CommonFlags {
  config?: string;
}

/** A subcommand that reads the config file: `--json` and `--config PATH`. */
export function addEngineCommand(program: Command, name: string, description: string): Command {
  return addCommand(program, name, description).option(
    '--config <path>',
    'config file (default: workos-migrate.config.ts, .mts, .js or .mjs in the current directory)',
  );
}

/**
 * Library errors that mean "fix the setup", not "the work failed": exit 2 like any other
 * configuration error.
 */
const SETUP_CODES = new Set([
  'invalid_config',
  'not_installed',
  'environment_mismatch',
  'database_locked',
  'workos_auth',
  'column_missing',
  'flag_source_mismatch',
  'invalid_rollout',
  'unleash_admin_token_missing',
  'role_missing',
  'other_mapping_installed',
  'invalid_role',
]);

/** UsageError for setup problems (exit 2), a plain Error otherwise (exit 1); one line either way. */
/** Database refusals that are the setup's to fix (privileges, not installed, credentials): exit 2. */
const SETUP_SQLSTATES = new Set(['42501', '42P01', '3F000', '42883', '42703', '28P01', '28000', '3D000']);

export function toCliError(error: unknown): unknown {
  if (error instanceof UsageError) return error;
  // A driver error becomes PostgreSQL's message and what to do, never drizzle's "Failed query ... params".
  const translated = databaseError(error);
  if (translated instanceof DatabaseError) {
    const message = withoutPrefix(translated.message);
    return SETUP_SQLSTATES.has(translated.sqlState ?? '') ? new UsageError(message) : new Error(message);
  }
  if (translated instanceof WorkosMigrateError) {
    const message = withoutPrefix(translated.message);
    return SETUP_CODES.has(translated.code) ? new UsageError(message) : new Error(message);
  }
  return translated;
}

/** Loads the config, runs `work`, and closes the database whatever happens. */
export async function withSetup<T>(flags: EngineFlags, work: (setup: CliSetup) => Promise<T>): Promise<T> {
  let setup: CliSetup | undefined;
  try {
    setup = await loadSetup({ configPath: flags.config });
    return await work(setup);
  } catch (error) {
    throw toCliError(error);
  } finally {
    await setup?.close();
  }
}

/** Whether the library's schema exists (install ran, uninstall did not). */
export async function schemaInstalled(db: DrizzleDatabase): Promise<boolean> {
  const rows = await query<{ present: boolean }>(
    db,
    sql`SELECT to_regclass('workos_migrate.outbox') IS NOT NULL AS present`,
  );
  return rows[0]?.present === true;
}

export async function requireSchema(db: DrizzleDatabase): Promise<void> {
  if (!(await schemaInstalled(db))) {
    throw new UsageError(
      'workos-migrate is not installed in this database: run `workos-migrate install` first',
    );
  }
}

/** Engine log lines on stderr, for commands that run the worker without a logger in the config. */
export function stderrLogger(write: (text: string) => void, levels: readonly string[]): Logger {
  const line =
    (level: string) =>
    (obj: object, msg?: string): void => {
      if (!levels.includes(level)) return;
      const fields = Object.keys(obj).length > 0 ? ` ${JSON.stringify(obj)}` : '';
      write(`${new Date().toISOString()} ${level} ${withoutPrefix(msg ?? '')}${fields}\n`);
    };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

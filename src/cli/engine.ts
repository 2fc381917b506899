// What the commands that work on the database share: the `--config` flag, loading and always
// closing the setup, and turning the library's errors into the CLI's exit codes.
import type { Command } from 'commander';
import { sql } from 'drizzle-orm';
import type { DrizzleDatabase } from '../core/db.js';
import { query } from '../core/db.js';
import { WorkosMigrateError } from '../core/errors.js';
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
export function toCliError(error: unknown): unknown {
  if (error instanceof UsageError) return error;
  if (error instanceof WorkosMigrateError) {
    const message = withoutPrefix(error.message);
    return SETUP_CODES.has(error.code) ? new UsageError(message) : new Error(message);
  }
  const code = (error as { code?: string } | null)?.code;
  // Insufficient privilege: the role cannot do what the command needs (e.g. own the users table).
  if (code === '42501') {
    return new UsageError(
      `the database refused: ${(error as Error).message}; run this as the owner of the users table`,
    );
  }
  return error;
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

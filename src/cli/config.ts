// Loading `workos-migrate.config.ts` (or .mts/.js/.mjs, or --config PATH) and opening its database.
//
// The file default-exports `defineConfig({...})`, the same config the plugin takes. `db` may be left
// out: the CLI then connects to env DATABASE_URL with whichever driver is installed (postgres.js, else
// node-postgres `pg`), or without it opens the embedded PGlite database in `.workos-migrate/pglite`.
// TypeScript files are loaded with jiti, as drizzle-kit loads `drizzle.config.ts`.
import { statSync } from 'node:fs';
import { extname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { type ResolvedConfig, resolveConfig, type WorkosMigrateConfig } from '../core/config.js';
import type { DrizzleDatabase } from '../core/db.js';
import { ConfigError, WorkosMigrateError } from '../core/errors.js';
import type { UsersMapping } from '../core/mapping.js';
import { quote, UsageError } from './conventions.js';
import { maskUrl } from './format.js';

export const CONFIG_FILES = [
  'workos-migrate.config.ts',
  'workos-migrate.config.mts',
  'workos-migrate.config.js',
  'workos-migrate.config.mjs',
] as const;

export const EMBEDDED_DIR = '.workos-migrate/pglite';

/** Stands in for the database while the config is validated, before anything is opened. */
const UNOPENED: DrizzleDatabase = {
  execute: () => Promise.reject(new Error('database not opened yet')),
  transaction: () => Promise.reject(new Error('database not opened yet')),
};

/** Commands that make no WorkOS call still validate the rest of the config; this stands in for the key. */
const NO_KEY_NEEDED = 'sk_unused_by_this_command';

export interface OpenedDatabase {
  db: DrizzleDatabase;
  /** Where it is, for people: a URL without its password, a directory, or the config file. */
  description: string;
  kind: 'config' | 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface CliSetup {
  /** The config file, absolute. */
  file: string;
  /** As exported by the file (`db` possibly absent). */
  config: Omit<WorkosMigrateConfig, 'db'> & { db?: WorkosMigrateConfig['db'] };
  mapping: UsersMapping;
  env: NodeJS.ProcessEnv;
  /** Opens the database on first use (PGlite takes a lock file; postgres.js a pool). */
  database(): Promise<OpenedDatabase>;
  /**
   * The full config with the database, validated (a bad option is a UsageError naming it). Without
   * `needsWorkos` a missing API key is tolerated: the command makes no WorkOS call.
   */
  engineConfig(options?: {
    needsWorkos?: boolean;
    worker?: WorkosMigrateConfig['worker'];
    logger?: WorkosMigrateConfig['logger'];
  }): Promise<{ config: WorkosMigrateConfig; resolved: ResolvedConfig }>;
  /** Closes whatever `database()` opened. Safe to call twice. */
  close(): Promise<void>;
}

export interface LoadOptions {
  configPath?: string | undefined;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** `--config PATH` or the first of CONFIG_FILES in `cwd`. */
export function findConfigFile(cwd: string, explicit?: string): string {
  if (explicit !== undefined) {
    if (explicit.trim() === '') throw new UsageError('--config must be a file path (got "")');
    const file = resolve(cwd, explicit);
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat?.isFile()) throw new UsageError(`--config ${quote(explicit)}: no such file`);
    return file;
  }
  for (const name of CONFIG_FILES) {
    const file = resolve(cwd, name);
    if (statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
  }
  throw new UsageError(
    `no workos-migrate.config.ts (or .mts, .js, .mjs) in ${cwd}: create one that default-exports defineConfig({ users: defineUsersMapping({...}) }), or pass --config PATH`,
  );
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? '';
}

/** The library's own errors start with `workos-migrate: `; the CLI adds that prefix itself. */
export function withoutPrefix(message: string): string {
  return message.replace(/^workos-migrate:\s*/, '');
}

async function importConfigFile(file: string, shown: string): Promise<unknown> {
  let module: unknown;
  try {
    if (/\.[mc]?ts$/.test(extname(file))) {
      const { createJiti } = await import('jiti');
      const jiti = createJiti(import.meta.url, { interopDefault: true });
      module = await jiti.import(file);
    } else {
      module = await import(pathToFileURL(file).href);
    }
  } catch (error) {
    // By name too: the file may have loaded its own copy of the library.
    if (error instanceof ConfigError || (error as Error | null)?.name === 'ConfigError') {
      throw new UsageError(`${shown}: ${withoutPrefix((error as Error).message)}`);
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${shown} could not be loaded: ${firstLine(message)}`);
  }
  const exported = (module as { default?: unknown } | null)?.default;
  return typeof exported === 'function' ? await (exported as () => unknown)() : exported;
}

/** Loads and checks the config file; opens nothing yet. */
export async function loadSetup(options: LoadOptions = {}): Promise<CliSetup> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const file = findConfigFile(cwd, options.configPath);
  const shown = relative(cwd, file) || file;
  const value = await importConfigFile(file, shown);
  if (!value || typeof value !== 'object') {
    throw new UsageError(`${shown} must default-export defineConfig({ users: defineUsersMapping({...}) })`);
  }
  const config = value as CliSetup['config'];
  const mapping = config.users as UsersMapping | undefined;
  if (!mapping?.columns || !mapping.users) {
    throw new UsageError(
      `${shown}: option users is missing: set it to defineUsersMapping({ table, id, email, ... })`,
    );
  }

  let opened: Promise<OpenedDatabase> | null = null;
  const database = (): Promise<OpenedDatabase> => {
    opened ??= openDatabase(config, shown, env, cwd);
    return opened;
  };

  return {
    file,
    config,
    mapping,
    env,
    database,
    async engineConfig(extra = {}) {
      // Validated before the database is opened, so a typo does not first create a PGlite directory.
      const check = (db: DrizzleDatabase): { full: WorkosMigrateConfig; resolved: ResolvedConfig } => {
        const full: WorkosMigrateConfig = {
          ...config,
          db,
          ...(extra.worker ? { worker: { ...config.worker, ...extra.worker } } : {}),
          ...(extra.logger && !config.logger ? { logger: extra.logger } : {}),
        };
        if (!extra.needsWorkos && !(config.workos?.apiKey ?? env.WORKOS_API_KEY)) {
          full.workos = { ...config.workos, apiKey: NO_KEY_NEEDED };
        }
        try {
          return { full, resolved: resolveConfig(full, env) };
        } catch (error) {
          if (error instanceof ConfigError) throw new UsageError(`${shown}: ${withoutPrefix(error.message)}`);
          throw error;
        }
      };
      if (!config.db) check(UNOPENED);
      const { full, resolved } = check((await database()).db);
      return { config: full, resolved };
    },
    async close() {
      const pending = opened;
      opened = null;
      if (!pending) return;
      const db = await pending.catch(() => null);
      await db?.close();
    },
  };
}

async function checkConnection(db: DrizzleDatabase, setting: string): Promise<void> {
  try {
    await db.execute(sql`SELECT 1`);
  } catch (error) {
    // Drizzle wraps the driver's error ("Failed query: ..."): the innermost cause says what went wrong.
    let inner: unknown = error;
    while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
    const message = inner instanceof Error ? inner.message || inner.name : String(inner);
    const code = (inner as { code?: string }).code;
    throw new UsageError(`${setting} cannot be reached: ${firstLine(message)}${code ? ` (${code})` : ''}`);
  }
}

function isModuleMissing(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  // Quoted, as Node names the package: a path in the message may contain the bare name.
  return code === 'ERR_MODULE_NOT_FOUND' && (message ?? '').includes(`'${name}'`);
}

/**
 * Ends the pool or client behind a Drizzle database the config file made, when it exposes one. A
 * postgres.js client is a function whose `end` takes options; node-postgres's `Pool.end` takes a callback.
 */
async function closeClient(db: unknown): Promise<void> {
  const client = (db as { $client?: { end?: unknown; close?: unknown } } | null)?.$client;
  if (!client) return;
  if (typeof client.end === 'function') {
    if (typeof (client as unknown) === 'function')
      await (client.end as (o: object) => Promise<void>)({ timeout: 5 });
    else await (client.end as () => Promise<void>)();
  } else if (typeof client.close === 'function') await (client.close as () => Promise<void>)();
}

/** A pool on DATABASE_URL through the first driver installed: postgres.js, then node-postgres. */
async function connectUrl(url: string): Promise<OpenedDatabase> {
  const description = maskUrl(url);
  try {
    const postgres = (await import('postgres')).default;
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const client = postgres(url, { max: 10, onnotice: () => {}, connect_timeout: 10 });
    return {
      db: drizzle(client) as unknown as DrizzleDatabase,
      description,
      kind: 'postgres',
      close: () => client.end({ timeout: 5 }).catch(() => undefined),
    };
  } catch (error) {
    if (!isModuleMissing(error, 'postgres')) throw error;
  }
  try {
    const pg = (await import('pg')).default;
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
    // An idle client's error (server restart) must not crash the CLI; the next query reports it.
    pool.on('error', () => {});
    return {
      db: drizzle(pool) as unknown as DrizzleDatabase,
      description,
      kind: 'postgres',
      close: () => pool.end().catch(() => undefined),
    };
  } catch (error) {
    if (!isModuleMissing(error, 'pg')) throw error;
  }
  throw new UsageError(
    'DATABASE_URL is set but no PostgreSQL driver is installed: npm install pg (node-postgres) or postgres (postgres.js), or export your own Drizzle db as option db of the config file',
  );
}

async function openDatabase(
  config: CliSetup['config'],
  shown: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<OpenedDatabase> {
  if (config.db) {
    const db = config.db;
    if (typeof db.execute !== 'function' || typeof db.transaction !== 'function') {
      throw new UsageError(
        `${shown}: option db must be a Drizzle database (drizzle-orm/node-postgres, drizzle-orm/postgres-js or drizzle-orm/pglite), or left out to use DATABASE_URL`,
      );
    }
    const opened: OpenedDatabase = {
      db,
      description: `the db of ${shown}`,
      kind: 'config',
      close: () => closeClient(db).catch(() => undefined),
    };
    try {
      await checkConnection(db, `option db of ${shown}`);
    } catch (error) {
      await opened.close();
      throw error;
    }
    return opened;
  }

  const url = env.DATABASE_URL?.trim();
  if (url) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {}
    if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol)) {
      throw new UsageError(
        'DATABASE_URL must be a postgres:// URL such as postgres://user:password@host:5432/app',
      );
    }
    const opened = await connectUrl(url);
    try {
      await checkConnection(opened.db, `DATABASE_URL (${maskUrl(url)})`);
    } catch (error) {
      await opened.close();
      throw error;
    }
    return opened;
  }

  const { openEmbeddedDatabase } = await import('../drizzle/embedded.js');
  const dir = resolve(cwd, EMBEDDED_DIR);
  try {
    const embedded = await openEmbeddedDatabase(dir);
    return {
      db: embedded.db,
      description: `embedded PGlite database in ${relative(cwd, dir) || dir}`,
      kind: 'pglite',
      close: () => embedded.close().catch(() => undefined),
    };
  } catch (error) {
    if (isModuleMissing(error, '@electric-sql/pglite')) {
      throw new UsageError(
        'DATABASE_URL is not set and @electric-sql/pglite is not installed: set DATABASE_URL, pass db in the config, or npm install @electric-sql/pglite',
      );
    }
    if (error instanceof WorkosMigrateError) throw new UsageError(withoutPrefix(error.message));
    throw error;
  }
}

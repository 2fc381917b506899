import type { Column } from 'drizzle-orm';
import { toCamelCase, toSnakeCase } from 'drizzle-orm/casing';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { ConfigError } from './errors.js';

/** A Firebase project's password hash parameters (Firebase console, or `firebase auth:export`). */
export interface FirebaseHashParameters {
  /** base64 signer key (`base64_signer_key`). */
  signerKey: string;
  /** base64 salt separator (`base64_salt_separator`, usually `Bw==`). */
  saltSeparator: string;
  rounds: number;
  memCost: number;
}

/** What a stored hash format needs beyond the string (see `workos-migrate/hashes`). */
export interface HashOptions {
  /** Needed for Firebase hashes. */
  firebase?: FirebaseHashParameters;
  /** The app mixes a secret pepper into its hashes (e.g. Devise's `config.pepper`): nothing is importable. */
  pepper?: boolean;
  /**
   * How to read a bare hex digest column (32/40/64/128 hex characters). Always unsupported, but the format
   * and reason are more precise. Without it the length decides.
   */
  bareHexFormat?: 'md5' | 'sha1' | 'sha256' | 'sha512';
  /**
   * Only for an environment whose ranges WorkOS support widened: the hash parameters WorkOS accepts.
   * Each key given replaces that default (WorkOS's documented ranges); hashes outside stay with the
   * app (login-time migration or reset) with a precise reason code.
   */
  workosRanges?: WorkosHashRanges;
}

/** An inclusive range of a hash parameter. */
export interface HashParameterRange {
  min: number;
  max: number;
}

/** The hash parameters WorkOS imports. Defaults: WorkOS's documented ranges (docs/hashes.md). */
export interface WorkosHashRanges {
  /**
   * Iterations per PBKDF2 digest; a digest not listed is refused. Given digests replace their default,
   * the others keep it. Default: sha256 600,000-1,000,000, sha512 210,000-1,000,000, no sha1.
   */
  pbkdf2Iterations?: Partial<Record<'sha1' | 'sha256' | 'sha512', HashParameterRange>>;
  /** Argon2 versions (19 = 1.3, 16 = 1.0). Default `[19]`. */
  argon2Versions?: (16 | 19)[];
  /** Argon2 memory in KiB. Default 4,096-262,144. */
  argon2MemoryKiB?: HashParameterRange;
  /** Argon2 passes. Default 1-5. */
  argon2Time?: HashParameterRange;
  /** The least passes for argon2i. Default 3. */
  argon2iMinTime?: number;
  /** Argon2 lanes. Default 1-8. */
  argon2Parallelism?: HashParameterRange;
}

export interface UsersMappingInput {
  /** The app's users table (a Drizzle `pgTable`). */
  table: PgTable;
  id: Column;
  email: Column;
  firstName?: Column;
  lastName?: Column;
  emailVerified?: Column;
  /** The column holding the stored password hash, when it lives on the users table. */
  passwordHash?: Column;
  /** A column naming the hash's format per row, when the app stores several. */
  passwordHashType?: Column;
  /** A boolean column: disabled users stay on the legacy login. */
  disabled?: Column;
  /** WorkOS metadata key -> column (at most 10 keys, ASCII, values up to 600 characters). */
  metadata?: Record<string, Column>;
  /** When password hashes live in their own table, keyed by user id. */
  credentials?: { table: PgTable; userId: Column; passwordHash: Column };
  hashOptions?: HashOptions;
  /** Drizzle's `casing` option, when the app's `drizzle()` call sets it. */
  casing?: 'snake_case' | 'camelCase';
}

/** SQL-side names resolved from the Drizzle definitions. */
export interface ResolvedTable {
  schema: string;
  name: string;
  /** `"schema"."name"`, quoted. */
  qualified: string;
}

export interface UsersMapping {
  readonly input: UsersMappingInput;
  readonly users: ResolvedTable;
  /** Database column names, keyed by mapping field. Absent fields are not mapped. */
  readonly columns: {
    id: string;
    email: string;
    firstName?: string;
    lastName?: string;
    emailVerified?: string;
    passwordHash?: string;
    passwordHashType?: string;
    disabled?: string;
    workosUserId: string;
  };
  readonly metadataColumns: Record<string, string>;
  readonly credentials?: { table: ResolvedTable; userId: string; passwordHash: string };
  readonly hashOptions: HashOptions;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal (standard_conforming_strings, on by default since PostgreSQL 9.1). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function resolveTable(table: PgTable, option: string): ResolvedTable {
  let config: ReturnType<typeof getTableConfig>;
  try {
    config = getTableConfig(table);
  } catch {
    throw new ConfigError(option, 'must be a Drizzle pgTable');
  }
  const schema = config.schema ?? 'public';
  return { schema, name: config.name, qualified: `${quoteIdent(schema)}.${quoteIdent(config.name)}` };
}

/**
 * A column's database name. With `drizzle({ casing })` a column declared without a name reports its
 * TypeScript key (`firstName`) while the database has `first_name`: apply the same conversion.
 */
function columnName(
  column: Column | undefined,
  table: PgTable,
  option: string,
  casing?: string,
): string | undefined {
  if (column === undefined) return undefined;
  if (!column || typeof column !== 'object' || typeof (column as { name?: unknown }).name !== 'string') {
    throw new ConfigError(option, 'must be a column of the mapped table');
  }
  if ((column as unknown as { table?: unknown }).table !== table) {
    throw new ConfigError(option, 'must be a column of the same table as users.table');
  }
  if (!column.keyAsName || !casing) return column.name;
  return casing === 'snake_case' ? toSnakeCase(column.name) : toCamelCase(column.name);
}

/** Describes the app's users table to the library. Column names come from the Drizzle definitions. */
export function defineUsersMapping(input: UsersMappingInput): UsersMapping {
  if (!input || typeof input !== 'object') throw new ConfigError('users', 'must be a users mapping');
  const users = resolveTable(input.table, 'users.table');
  const casing = input.casing;
  if (casing !== undefined && casing !== 'snake_case' && casing !== 'camelCase') {
    throw new ConfigError('users.casing', `must be 'snake_case' or 'camelCase' (got ${String(casing)})`);
  }
  const name = (field: keyof UsersMappingInput & string, column: Column | undefined) =>
    columnName(column, input.table, `users.${field}`, casing);
  const id = name('id', input.id);
  const email = name('email', input.email);
  if (!id) throw new ConfigError('users.id', 'is required (the primary key column)');
  if (!email) throw new ConfigError('users.email', 'is required');
  const columns = {
    id,
    email,
    firstName: name('firstName', input.firstName),
    lastName: name('lastName', input.lastName),
    emailVerified: name('emailVerified', input.emailVerified),
    passwordHash: name('passwordHash', input.passwordHash),
    passwordHashType: name('passwordHashType', input.passwordHashType),
    disabled: name('disabled', input.disabled),
    workosUserId: 'workos_user_id',
  };
  const metadataColumns: Record<string, string> = {};
  const metadataKeys = Object.keys(input.metadata ?? {});
  if (metadataKeys.length > 10)
    throw new ConfigError('users.metadata', 'can map at most 10 keys (a WorkOS limit)');
  for (const key of metadataKeys) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: WorkOS metadata keys are ASCII
    if (key.length > 40 || !/^[\x00-\x7f]+$/.test(key)) {
      throw new ConfigError(`users.metadata.${key}`, 'must be an ASCII key of at most 40 characters');
    }
    metadataColumns[key] = name('metadata', input.metadata?.[key]) as string;
  }
  let credentials: UsersMapping['credentials'];
  if (input.credentials) {
    if (input.passwordHash) {
      throw new ConfigError('users.credentials', 'cannot be used together with users.passwordHash');
    }
    const table = resolveTable(input.credentials.table, 'users.credentials.table');
    const column = (field: 'userId' | 'passwordHash') =>
      columnName(
        input.credentials?.[field],
        input.credentials?.table as PgTable,
        `users.credentials.${field}`,
        casing,
      );
    credentials = {
      table,
      userId: column('userId') as string,
      passwordHash: column('passwordHash') as string,
    };
    if (!credentials.userId || !credentials.passwordHash) {
      throw new ConfigError('users.credentials', 'needs table, userId and passwordHash');
    }
  }
  checkWorkosRanges(input.hashOptions?.workosRanges);
  return {
    input,
    users,
    columns,
    metadataColumns,
    ...(credentials ? { credentials } : {}),
    hashOptions: input.hashOptions ?? {},
  };
}

/** A widened range that cannot be read is refused here, not silently replaced by the default. */
function checkWorkosRanges(ranges: WorkosHashRanges | undefined): void {
  if (ranges === undefined) return;
  const option = 'users.hashOptions.workosRanges';
  if (typeof ranges !== 'object' || ranges === null) throw new ConfigError(option, 'must be an object');
  const checkRange = (value: unknown, name: string) => {
    const range = value as HashParameterRange | null;
    if (
      typeof range !== 'object' ||
      range === null ||
      !Number.isInteger(range.min) ||
      !Number.isInteger(range.max) ||
      range.min < 1 ||
      range.min > range.max
    ) {
      throw new ConfigError(`${option}.${name}`, 'must be { min, max }, whole numbers with 1 <= min <= max');
    }
  };
  for (const [digest, range] of Object.entries(ranges.pbkdf2Iterations ?? {})) {
    if (digest !== 'sha1' && digest !== 'sha256' && digest !== 'sha512') {
      throw new ConfigError(
        `${option}.pbkdf2Iterations`,
        `has an unknown digest ${digest} (sha1, sha256, sha512)`,
      );
    }
    checkRange(range, `pbkdf2Iterations.${digest}`);
  }
  for (const key of ['argon2MemoryKiB', 'argon2Time', 'argon2Parallelism'] as const) {
    if (ranges[key] !== undefined) checkRange(ranges[key], key);
  }
  const versions = ranges.argon2Versions;
  if (
    versions !== undefined &&
    (!Array.isArray(versions) || versions.length === 0 || versions.some((v) => v !== 16 && v !== 19))
  ) {
    throw new ConfigError(`${option}.argon2Versions`, 'must be a non-empty list of 16 and/or 19');
  }
  const minTime = ranges.argon2iMinTime;
  if (minTime !== undefined && (!Number.isInteger(minTime) || minTime < 1)) {
    throw new ConfigError(`${option}.argon2iMinTime`, 'must be a whole number of at least 1');
  }
}

import { type SQL, sql } from 'drizzle-orm';
import { type DrizzleTransaction, query } from '../core/db.js';
import { emailLookupSql, normaliseEmail } from '../core/email.js';
import { quoteIdent, type UsersMapping } from '../core/mapping.js';

/** The app's current row for one user, read through the mapping. */
export interface LocalUser {
  id: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  emailVerified: boolean;
  passwordHash: string | null;
  passwordHashType: string | null;
  disabled: boolean;
  metadata: Record<string, string>;
  workosUserId: string | null;
}

const selects = new WeakMap<UsersMapping, string>();

/** The SELECT list for a mapping (built once per mapping): every mapped column under a fixed alias. */
export function localUserSelect(mapping: UsersMapping): string {
  let select = selects.get(mapping);
  if (select === undefined) {
    select = buildLocalUserSelect(mapping);
    selects.set(mapping, select);
  }
  return select;
}

function buildLocalUserSelect(mapping: UsersMapping): string {
  const { columns } = mapping;
  const col = (name: string | undefined, alias: string, cast = '::text') =>
    name ? `u.${quoteIdent(name)}${cast} AS ${quoteIdent(alias)}` : `NULL AS ${quoteIdent(alias)}`;
  const passwordHash = mapping.credentials
    ? `(SELECT c.${quoteIdent(mapping.credentials.passwordHash)}::text FROM ${mapping.credentials.table.qualified} c
        WHERE c.${quoteIdent(mapping.credentials.userId)}::text = u.${quoteIdent(columns.id)}::text LIMIT 1) AS "passwordHash"`
    : col(columns.passwordHash, 'passwordHash');
  const metadata = Object.entries(mapping.metadataColumns).map(([key, name]) => col(name, `meta:${key}`));
  return [
    col(columns.id, 'id'),
    col(columns.email, 'email'),
    col(columns.firstName, 'firstName'),
    col(columns.lastName, 'lastName'),
    columns.emailVerified
      ? `COALESCE(u.${quoteIdent(columns.emailVerified)}::boolean, false) AS "emailVerified"`
      : 'false AS "emailVerified"',
    passwordHash,
    col(columns.passwordHashType, 'passwordHashType'),
    columns.disabled
      ? `COALESCE(u.${quoteIdent(columns.disabled)}::boolean, false) AS "disabled"`
      : 'false AS "disabled"',
    col(columns.workosUserId, 'workosUserId'),
    ...metadata,
  ].join(', ');
}

const idTypes = new WeakMap<UsersMapping, Promise<string>>();

/**
 * The SQL type of the users table's id column (e.g. `integer`, `uuid`), so lookups compare in that
 * type and use the primary key: `id::text = $1` would scan the whole table for every user.
 */
export function idColumnType(db: DrizzleTransaction, mapping: UsersMapping): Promise<string> {
  let known = idTypes.get(mapping);
  if (!known) {
    known = query<{ type: string }>(
      db,
      sql`SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
          WHERE a.attrelid = ${mapping.users.qualified}::regclass AND a.attname = ${mapping.columns.id}`,
    ).then((rows) => rows[0]?.type ?? 'text');
    known.catch(() => idTypes.delete(mapping));
    idTypes.set(mapping, known);
  }
  return known;
}

const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
};
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * The local id an external id names, or null when it is not one of ours: it must carry the prefix and
 * the rest must parse as the id column's type (`okta|00u1abc` is no integer id, whatever the prefix).
 * A cast that fails in SQL would otherwise turn a stranger's WorkOS user into a poison row.
 */
export async function localIdOf(
  db: DrizzleTransaction,
  mapping: UsersMapping,
  prefix: string,
  externalId: string | null | undefined,
): Promise<string | null> {
  if (!externalId?.startsWith(prefix)) return null;
  const id = externalId.slice(prefix.length);
  if (id === '') return null;
  const type = await idColumnType(db, mapping);
  const range = INTEGER_RANGES[type];
  if (range) {
    if (!/^-?\d+$/.test(id)) return null;
    const value = BigInt(id);
    return value >= range[0] && value <= range[1] ? id : null;
  }
  if (type === 'uuid') return UUID.test(id) ? id : null;
  return id;
}

/** `<column> = $id` compared in the id column's own type. */
export async function idEquals(
  db: DrizzleTransaction,
  mapping: UsersMapping,
  column: SQL,
  userId: string,
): Promise<SQL> {
  return sql`${column} = ${userId}::${sql.raw(await idColumnType(db, mapping))}`;
}

export async function loadLocalUser(
  db: DrizzleTransaction,
  mapping: UsersMapping,
  select: string,
  userId: string,
): Promise<LocalUser | null> {
  const rows = await query<Record<string, unknown>>(
    db,
    sql`SELECT ${sql.raw(select)} FROM ${sql.raw(mapping.users.qualified)} u
        WHERE ${await idEquals(db, mapping, sql.raw(`u.${quoteIdent(mapping.columns.id)}`), userId)}`,
  );
  return rows[0] ? toLocalUser(mapping, rows[0]) : null;
}

/**
 * The user a sign-in names: the one whose normalised email (`emailLookupSql`) matches, served by
 * the expression index `install` creates; among several, the one whose email matches exactly.
 */
export async function findLocalUserByEmail(
  db: DrizzleTransaction,
  mapping: UsersMapping,
  select: string,
  email: string,
): Promise<LocalUser | null> {
  const column = `u.${quoteIdent(mapping.columns.email)}`;
  const rows = await query<Record<string, unknown>>(
    db,
    sql`SELECT ${sql.raw(select)} FROM ${sql.raw(mapping.users.qualified)} u
        WHERE ${sql.raw(emailLookupSql(column))} = ${normaliseEmail(email)} LIMIT 10`,
  );
  const exact = rows.filter((row) => row.email === email);
  const only = exact.length === 1 ? exact : rows;
  // Two local users with one email: which one signs in is not ours to guess.
  return only.length === 1 && only[0] ? toLocalUser(mapping, only[0]) : null;
}

function toLocalUser(mapping: UsersMapping, row: Record<string, unknown>): LocalUser {
  const metadata: Record<string, string> = {};
  for (const key of Object.keys(mapping.metadataColumns)) {
    const value = row[`meta:${key}`];
    if (typeof value === 'string') metadata[key] = value;
  }
  return {
    id: String(row.id),
    email: (row.email as string | null) ?? null,
    firstName: (row.firstName as string | null) ?? null,
    lastName: (row.lastName as string | null) ?? null,
    emailVerified: row.emailVerified === true,
    passwordHash: (row.passwordHash as string | null) ?? null,
    passwordHashType: (row.passwordHashType as string | null) ?? null,
    disabled: row.disabled === true,
    metadata,
    workosUserId: (row.workosUserId as string | null) ?? null,
  };
}

/**
 * The app's current rows for several users in one statement, keyed by the ids asked for (absent: no
 * such row). The ids are compared in the id column's own type, so the primary key serves each one.
 */
export async function loadLocalUsers(
  db: DrizzleTransaction,
  mapping: UsersMapping,
  select: string,
  userIds: readonly string[],
): Promise<Map<string, LocalUser>> {
  const type = await idColumnType(db, mapping);
  const rows = await query<Record<string, unknown>>(
    db,
    sql`SELECT ids.id AS "claimedId", ${sql.raw(select)}
        FROM jsonb_array_elements_text(${JSON.stringify(userIds)}::jsonb) AS ids(id)
        JOIN ${sql.raw(mapping.users.qualified)} u ON u.${sql.raw(quoteIdent(mapping.columns.id))} = ids.id::${sql.raw(type)}`,
  );
  return new Map(rows.map((row) => [String(row.claimedId), toLocalUser(mapping, row)]));
}

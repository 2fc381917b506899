import { sql } from 'drizzle-orm';
import { type DrizzleTransaction, query } from '../core/db.js';
import { WorkosMigrateError } from '../core/errors.js';
import { quoteIdent, quoteLiteral, type UsersMapping } from '../core/mapping.js';

/**
 * One privilege a role needs, as the GRANT that gives it and the catalog check that says whether it is
 * held. `%r` stands for the role (a string literal in the check, an identifier in the GRANT).
 */
interface Need {
  grant: string;
  check: string;
}

const ENQUEUE = 'workos_migrate.enqueue(text, boolean, boolean, text)';
const FOLD_COUNTS = 'workos_migrate.fold_counts()';
const TAKE_LOGIN_ATTEMPT = 'workos_migrate.take_login_attempt(text, integer, bigint)';
const LIBRARY_TABLES = [
  'outbox',
  // verify --full's scratch table (its run's rows only, deleted at the end).
  'verify_seen',
  'sync_state',
  'leader',
  'settings',
  'applied_deletes',
  'format_checks',
] as const;

/**
 * What a role that runs the worker (or calls `login()`, `syncNow()`, `status()`, the admin routes) needs:
 * the library's schema and tables, the enqueue function, read access to the mapped tables and the right
 * to write back `workos_user_id`. The app's own writes need none of this (the capture is SECURITY DEFINER).
 */
function workerNeeds(mapping: UsersMapping): Need[] {
  const users = mapping.users.qualified;
  const usersLiteral = quoteLiteral(users);
  const workosColumn = mapping.columns.workosUserId;
  const needs: Need[] = [
    {
      grant: 'GRANT USAGE ON SCHEMA workos_migrate TO %r',
      check: `has_schema_privilege(%r, 'workos_migrate', 'USAGE')`,
    },
    ...LIBRARY_TABLES.map((table) => ({
      grant: `GRANT SELECT, INSERT, UPDATE, DELETE ON workos_migrate.${table} TO %r`,
      // A list of privileges in has_table_privilege means "any of": check each one.
      check: ['SELECT', 'INSERT', 'UPDATE', 'DELETE']
        .map((privilege) => `has_table_privilege(%r, 'workos_migrate.${table}', '${privilege}')`)
        .join(' AND '),
    })),
    // status() reads the kept counts and folds them; the triggers that append to them run as the owner.
    {
      grant: 'GRANT SELECT ON workos_migrate.counts TO %r',
      check: `has_table_privilege(%r, 'workos_migrate.counts', 'SELECT')`,
    },
    {
      grant: `GRANT EXECUTE ON FUNCTION ${FOLD_COUNTS} TO %r`,
      check: `has_function_privilege(%r, '${FOLD_COUNTS}', 'EXECUTE')`,
    },
    {
      grant: `GRANT EXECUTE ON FUNCTION ${ENQUEUE} TO %r`,
      check: `has_function_privilege(%r, '${ENQUEUE}', 'EXECUTE')`,
    },
    // login()'s legacy attempt limit (the function writes its own table, as the owner).
    {
      grant: `GRANT EXECUTE ON FUNCTION ${TAKE_LOGIN_ATTEMPT} TO %r`,
      check: `has_function_privilege(%r, '${TAKE_LOGIN_ATTEMPT}', 'EXECUTE')`,
    },
    { grant: `GRANT SELECT ON ${users} TO %r`, check: `has_table_privilege(%r, ${usersLiteral}, 'SELECT')` },
    {
      grant: `GRANT UPDATE (${quoteIdent(workosColumn)}) ON ${users} TO %r`,
      check: `has_column_privilege(%r, ${usersLiteral}, ${quoteLiteral(workosColumn)}, 'UPDATE')`,
    },
  ];
  if (mapping.credentials) {
    const credentials = mapping.credentials.table.qualified;
    needs.push({
      grant: `GRANT SELECT ON ${credentials} TO %r`,
      check: `has_table_privilege(%r, ${quoteLiteral(credentials)}, 'SELECT')`,
    });
  }
  return needs;
}

/** The GRANT statements for the worker's role (`install --print --worker-role NAME`). */
export function workerGrantsSql(mapping: UsersMapping, role: string): string {
  if (!role.trim())
    throw new WorkosMigrateError('invalid_role', 'workos-migrate: the worker role name is empty');
  return `${workerNeeds(mapping)
    .map((need) => `${need.grant.replaceAll('%r', quoteIdent(role))};`)
    .join('\n')}\n`;
}

/** What a database role can do with an installed mapping: `install --app-role/--worker-role` prints it. */
export interface RoleReport {
  role: string;
  /** Which writes the role may make to the users table; each one is captured (no grant on workos_migrate needed). */
  writesUsers: ('INSERT' | 'UPDATE' | 'DELETE')[];
  /** The GRANTs the role still lacks to run the worker (empty: it can). */
  workerMissing: string[];
}

export async function checkRole(
  db: DrizzleTransaction,
  mapping: UsersMapping,
  role: string,
): Promise<RoleReport> {
  const exists = await query<{ n: number }>(
    db,
    sql`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ${role}`,
  );
  if ((exists[0]?.n ?? 0) === 0) {
    throw new WorkosMigrateError(
      'role_missing',
      `workos-migrate: database role ${role} does not exist; create it (CREATE ROLE ... LOGIN) or pass the role your app connects as`,
    );
  }
  const needs = workerNeeds(mapping);
  const r = quoteLiteral(role);
  const users = quoteLiteral(mapping.users.qualified);
  const checks = [
    ...(['INSERT', 'UPDATE', 'DELETE'] as const).map(
      (privilege) => `has_table_privilege(${r}, ${users}, '${privilege}') AS "${privilege}"`,
    ),
    ...needs.map((need, index) => `(${need.check.replaceAll('%r', r)}) AS "need${index}"`),
  ];
  const [row] = await query<Record<string, boolean>>(db, sql.raw(`SELECT ${checks.join(', ')}`));
  return {
    role,
    writesUsers: (['INSERT', 'UPDATE', 'DELETE'] as const).filter((privilege) => row?.[privilege]),
    workerMissing: needs
      .filter((_, index) => !row?.[`need${index}`])
      .map((need) => `${need.grant.replaceAll('%r', quoteIdent(role))};`),
  };
}

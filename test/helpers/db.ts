// A fresh, uniquely named database per test file, inside the server from test/global-setup.ts.
// Usage:
//   let db: TestDatabase;
//   beforeAll(async () => { db = await createTestDatabase(); });
//   afterAll(() => db.drop());
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';

export interface TestDatabase {
  /** Connection URL of the new database (same role and server as the admin URL). */
  url: string;
  /** Database name, e.g. for assertions on pg_stat_activity. */
  name: string;
  /** Terminates the database's connections and drops it. Safe to call twice. */
  drop(): Promise<void>;
}

/** A short-lived single-connection admin client: no pool kept open between tests. */
async function withAdmin<T>(run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
  try {
    return await run(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Roles made by createRole, per database: dropped after their database (roles are cluster-wide). */
const rolesOf = new Map<string, string[]>();

/**
 * A LOGIN role for one test database, e.g. an app role that does not own the tables: `grants` run as
 * the admin inside the database (given the role's name, unquoted). Answers the role and its connection URL.
 */
export async function createRole(
  database: TestDatabase,
  label: string,
  grants: (role: string) => string[] = () => [],
): Promise<{ role: string; url: string }> {
  const role = `${database.name}_${label}`.slice(0, 63);
  const password = randomBytes(12).toString('hex');
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
    rolesOf.set(database.name, [...(rolesOf.get(database.name) ?? []), role]);
    for (const statement of grants(role)) await sql.unsafe(statement);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const url = new URL(database.url);
  url.username = role;
  url.password = password;
  return { role, url: url.toString() };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  // Names are unique across parallel files and across runs sharing a TEST_DATABASE_URL server.
  const name = `wm_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  // template0 instead of the default template1: CREATE DATABASE fails if anyone is connected to its template.
  await withAdmin((sql) => sql.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`));
  const url = new URL(inject('pgAdminUrl'));
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(async (sql) => {
        // Pools the test forgot to end would otherwise make DROP DATABASE fail. WITH (FORCE) (PG 13+) does
        // the same; the explicit terminate also covers servers where FORCE is not enough (prepared xacts aside).
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
        await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        for (const role of rolesOf.get(name) ?? []) await sql.unsafe(`DROP ROLE IF EXISTS "${role}"`);
        rolesOf.delete(name);
      });
    },
  };
}

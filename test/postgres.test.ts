// Checks the test infrastructure itself: a real PostgreSQL, one isolated database per createTestDatabase().
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

describe('test PostgreSQL', () => {
  let db: TestDatabase;
  let sql: postgres.Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = postgres(db.url, { onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  it('is a real PostgreSQL server', async () => {
    const [row] = await sql`show server_version`;
    expect(row?.server_version).toMatch(/^\d+(\.\d+)?/);
    const [version] = await sql`select version() as version, current_database() as db`;
    expect(version?.version).toMatch(/^PostgreSQL \d+/);
    expect(version?.db).toBe(db.name);
  });

  it('creates tables, inserts and selects (UTF-8)', async () => {
    await sql`create table users (id serial primary key, email text not null unique, name text)`;
    await sql`insert into users ${sql([
      { email: 'a@example.com', name: 'Zoë' },
      { email: 'b@example.com', name: '山田' },
    ])}`;
    const rows = await sql<{ email: string; name: string }[]>`select email, name from users order by id`;
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { email: 'a@example.com', name: 'Zoë' },
      { email: 'b@example.com', name: '山田' },
    ]);
    await expect(sql`insert into users (email) values ('a@example.com')`).rejects.toMatchObject({
      code: '23505',
    });
  });

  it('isolates test databases from each other, and drop() removes one with open connections', async () => {
    const other = await createTestDatabase();
    const otherSql = postgres(other.url, { onnotice: () => {} });
    try {
      expect(other.name).not.toBe(db.name);
      const [missing] = await otherSql`select to_regclass('public.users') as users`;
      expect(missing?.users).toBeNull();
      await otherSql`create table users (id int)`;
      await otherSql`insert into users values (1), (2), (3)`;
      const [count] = await sql`select count(*)::int as n from users`;
      expect(count?.n).toBe(2); // still this file's own table
    } finally {
      // Connection deliberately still open: drop() must terminate it.
      await other.drop();
      await otherSql.end({ timeout: 1 }).catch(() => {});
    }
    const admin = postgres(inject('pgAdminUrl'), { max: 1 });
    try {
      const rows = await admin`select 1 from pg_database where datname = ${other.name}`;
      expect(rows).toHaveLength(0);
    } finally {
      await admin.end();
    }
  });
});

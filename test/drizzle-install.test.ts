import bcrypt from 'bcryptjs';
import { sql } from 'drizzle-orm';
import { boolean, integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkosMigrate, type DrizzleDatabase, defineUsersMapping } from 'workos-migrate';
import {
  enqueueUserSync,
  install,
  installedState,
  installSql,
  uninstallSql,
  workosUserId,
} from 'workos-migrate/drizzle';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestEmulator } from './helpers/emulator.js';

let database: TestDatabase;
let client: postgres.Sql;
let db: DrizzleDatabase;
let t: Awaited<ReturnType<typeof startTestEmulator>>;

beforeAll(async () => {
  database = await createTestDatabase();
  client = postgres(database.url, { max: 6, onnotice: () => {} });
  db = drizzle(client) as unknown as DrizzleDatabase;
  // Sign-ins here check the mirrored password, not email verification (on by default in WorkOS).
  t = await startTestEmulator({ requireEmailVerification: false });
});

afterAll(async () => {
  await t.close();
  await client.end({ timeout: 5 });
  await database.drop();
});

// Declared without database names: with drizzle({ casing: 'snake_case' }) they are first_name etc.
const members = pgTable('members', {
  id: serial().primaryKey(),
  emailAddress: text(),
  firstName: text(),
  verified: boolean().notNull().default(false),
  workosUserId: workosUserId(),
});

describe('install', () => {
  it('printable SQL applies in one transaction and is recognised as current', async () => {
    await client.unsafe('CREATE TABLE accounts (id serial PRIMARY KEY, email text, pw text)');
    const accounts = pgTable('accounts', {
      id: serial('id').primaryKey(),
      email: text('email'),
      pw: text('pw'),
    });
    const mapping = defineUsersMapping({
      table: accounts,
      id: accounts.id,
      email: accounts.email,
      passwordHash: accounts.pw,
    });
    const script = installSql(mapping);
    expect(script).toContain('--> statement-breakpoint');
    // What drizzle-kit does with a custom migration: every statement, in one transaction.
    await client.begin(async (tx) => {
      for (const statement of script.split('--> statement-breakpoint')) await tx.unsafe(statement);
    });
    expect(await installedState(db, mapping)).toMatchObject({ state: 'current' });
    // A different mapping of the same table is stale: the worker refuses to start.
    const wider = defineUsersMapping({ table: accounts, id: accounts.id, email: accounts.email });
    expect((await installedState(db, wider)).state).toBe('stale');
    const engine = createWorkosMigrate({
      db,
      users: wider,
      workos: { apiKey: t.emulator.apiKey, clientId: t.emulator.clientId, apiUrl: t.emulator.url },
    });
    await expect(engine.worker.start()).rejects.toThrow(
      /does not match this mapping.*workos-migrate install/,
    );
    // Uninstall drops the library's schema and triggers and keeps the column.
    await client.unsafe(uninstallSql(mapping));
    expect((await installedState(db, mapping)).state).toBe('missing');
    const columns =
      await client`SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'`;
    expect(columns.map((row) => row.column_name)).toContain('workos_user_id');
    await client`INSERT INTO accounts (email) VALUES ('after@example.com')`;
  });

  it('concurrent installs from three connections all succeed', async () => {
    await client.unsafe('CREATE TABLE IF NOT EXISTS teammates (id serial PRIMARY KEY, email text)');
    const teammates = pgTable('teammates', { id: serial('id').primaryKey(), email: text('email') });
    const mapping = defineUsersMapping({ table: teammates, id: teammates.id, email: teammates.email });
    const pools = [0, 1, 2].map(() => postgres(database.url, { max: 1, onnotice: () => {} }));
    try {
      await Promise.all(pools.map((pool) => install(drizzle(pool) as unknown as DrizzleDatabase, mapping)));
      expect(await installedState(db, mapping)).toMatchObject({ state: 'current' });
      // The unique index was built and is valid.
      const [index] = await client`SELECT i.indisvalid AS valid, i.indisunique AS unique FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'teammates_workos_user_id_unique'`;
      expect(index).toEqual({ valid: true, unique: true });
    } finally {
      await Promise.all(pools.map((pool) => pool.end({ timeout: 5 })));
      await client.unsafe(uninstallSql(mapping));
    }
  });

  it('refuses a second mapping over the first (install and the printed SQL) and the first keeps working', async () => {
    await client.unsafe('CREATE TABLE IF NOT EXISTS staff (id serial PRIMARY KEY, email text)');
    await client.unsafe(
      'CREATE TABLE IF NOT EXISTS clients (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text)',
    );
    const staff = pgTable('staff', { id: serial('id').primaryKey(), email: text('email') });
    const clients = pgTable('clients', { id: text('id').primaryKey(), email: text('email') });
    const first = defineUsersMapping({ table: staff, id: staff.id, email: staff.email });
    const second = defineUsersMapping({ table: clients, id: clients.id, email: clients.email });
    await install(db, first);
    try {
      const refusal =
        /already mirrors another mapping \(capture trigger on public\.staff\).*workos-migrate uninstall/;
      await expect(install(db, second)).rejects.toThrow(refusal);
      const script = installSql(second);
      await expect(
        client.begin(async (tx) => {
          for (const statement of script.split('--> statement-breakpoint')) await tx.unsafe(statement);
        }),
      ).rejects.toThrow(refusal);
      // Nothing of the second mapping was applied; the first table's writes are still captured.
      const [column] = await client`SELECT count(*)::int AS n FROM information_schema.columns
        WHERE table_name = 'clients' AND column_name = 'workos_user_id'`;
      expect(column?.n).toBe(0);
      await client`INSERT INTO staff (email) VALUES ('still@example.com')`;
      await client`INSERT INTO clients (email) VALUES ('other@example.com')`;
      expect(await client`SELECT count(*)::int AS n FROM workos_migrate.outbox`).toEqual([{ n: 1 }]);
      expect((await installedState(db, first)).state).toBe('current');
      // Reinstalling the same mapping is fine; after uninstalling, the second one installs.
      await install(db, first);
      await client.unsafe(uninstallSql(first));
      await install(db, second);
      expect((await installedState(db, second)).state).toBe('current');
    } finally {
      await client.unsafe(uninstallSql(second));
      await client.unsafe(uninstallSql(first));
    }
  });

  it("honours drizzle's casing, and says so when the mapping's casing is wrong", async () => {
    await client.unsafe(
      'CREATE TABLE members (id serial PRIMARY KEY, email_address text, first_name text, verified boolean NOT NULL DEFAULT false)',
    );
    const wrong = defineUsersMapping({ table: members, id: members.id, email: members.emailAddress });
    await expect(install(db, wrong)).rejects.toThrow(/emailAddress.*casing/);
    const mapping = defineUsersMapping({
      table: members,
      id: members.id,
      email: members.emailAddress,
      firstName: members.firstName,
      emailVerified: members.verified,
      casing: 'snake_case',
    });
    expect(mapping.columns).toMatchObject({ email: 'email_address', firstName: 'first_name' });
    await install(db, mapping);
    expect((await installedState(db, mapping)).state).toBe('current');
    await client.unsafe(uninstallSql(mapping));
  });
});

describe('capture without a trigger, and credentials in their own table', () => {
  const people = pgTable('people', {
    id: serial('id').primaryKey(),
    email: text('email'),
    name: text('name'),
  });
  const secrets = pgTable('secrets', {
    id: serial('id').primaryKey(),
    personId: integer('person_id').notNull(),
    hash: text('hash'),
  });
  const mapping = defineUsersMapping({
    table: people,
    id: people.id,
    email: people.email,
    firstName: people.name,
    credentials: { table: secrets, userId: secrets.personId, passwordHash: secrets.hash },
  });

  it('mirrors password changes made in the credentials table', async () => {
    await client.unsafe('CREATE TABLE people (id serial PRIMARY KEY, email text, name text)');
    await client.unsafe(
      'CREATE TABLE secrets (id serial PRIMARY KEY, person_id integer NOT NULL, hash text)',
    );
    await install(db, mapping);
    const engine = createWorkosMigrate({
      db,
      users: mapping,
      workos: { apiKey: t.emulator.apiKey, clientId: t.emulator.clientId, apiUrl: t.emulator.url },
      worker: { pollMs: 20, leaderLeaseMs: 600 },
    });
    await engine.worker.start();
    try {
      const [person] =
        await client`INSERT INTO people (email, name) VALUES ('cred@example.com', 'Cred') RETURNING id`;
      await client`INSERT INTO secrets (person_id, hash) VALUES (${person?.id}, ${bcrypt.hashSync('first secret', 4)})`;
      expect(await engine.syncNow(person?.id)).toMatchObject({ status: 'synced' });
      await client`UPDATE secrets SET hash = ${bcrypt.hashSync('second secret', 4)} WHERE person_id = ${person?.id}`;
      expect(await engine.syncNow(person?.id)).toMatchObject({ status: 'synced' });
      await t.workos.userManagement.authenticateWithPassword({
        email: 'cred@example.com',
        password: 'second secret',
        clientId: t.emulator.clientId,
      });
    } finally {
      await engine.worker.stop();
      await client.unsafe(uninstallSql(mapping));
    }
  });

  it('enqueueUserSync commits and rolls back with the app transaction', async () => {
    await install(db, mapping);
    // An app whose role cannot own a trigger: no trigger, explicit calls instead.
    await client.unsafe('DROP TRIGGER workos_migrate_capture ON people');
    const typed = drizzle(client);
    await typed.transaction(async (tx) => {
      const [row] = await tx
        .insert(people)
        .values({ email: 'kept@example.com' })
        .returning({ id: people.id });
      await enqueueUserSync(tx as unknown as DrizzleDatabase, row?.id as number);
    });
    await typed
      .transaction(async (tx) => {
        const [row] = await tx
          .insert(people)
          .values({ email: 'rolled@example.com' })
          .returning({ id: people.id });
        await enqueueUserSync(tx as unknown as DrizzleDatabase, row?.id as number);
        throw new Error('app error');
      })
      .catch(() => undefined);
    const rows = await typed.execute(sql`SELECT user_id FROM workos_migrate.outbox`);
    expect(rows).toHaveLength(1);
    await client.unsafe(uninstallSql(mapping));
  });
});

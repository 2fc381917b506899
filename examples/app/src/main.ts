// `npm start`: the example app on embedded defaults. It listens first, seeds a legacy user base on
// the first run, backfills it into WorkOS through the plugin's worker, and says where to look.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { count as countRows, sql } from 'drizzle-orm';
import { install } from 'workos-migrate/drizzle';
import { buildApp } from './app.js';
import { usersMapping } from './config.js';
import { connectWorkos, migrationOptions, openDatabase } from './runtime.js';
import { USERS_DDL, users } from './schema.js';
import { seedUsers } from './seed.js';

const port = Number(process.env.PORT ?? 3000);
const seedCount = Number(process.env.SEED_USERS ?? 3000);
const say = (line: string) => process.stdout.write(`${line}\n`);

// The in-process emulator keeps its state beside the embedded database: without it, a second start
// would find every user "synced" locally while WorkOS starts empty. `rm -rf .workos-migrate` starts over.
mkdirSync('.workos-migrate', { recursive: true });
const LOG_FILE = '.workos-migrate/app.log';
const workos = await connectWorkos({
  emulatorWritesPerSecond: 250,
  emulatorDataFile: '.workos-migrate/emulator.json',
});
say(`WorkOS: ${workos.description}`);
const database = await openDatabase();
say(`Database: ${database.description}`);
await database.db.execute(sql.raw(USERS_DDL));
// In a real app: `workos-migrate install` or a drizzle-kit custom migration (it needs table ownership).
await install(database.db, usersMapping);

const adminToken = process.env.WORKOS_MIGRATE_ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
// A token of the operator's own is never echoed; a generated demo token is, so the commands below run.
const shownToken = process.env.WORKOS_MIGRATE_ADMIN_TOKEN ? '$WORKOS_MIGRATE_ADMIN_TOKEN' : adminToken;
const app = await buildApp({
  db: database.db,
  adminToken,
  // JSON log lines go to a file, so they never interleave with the progress lines below.
  logger: { level: process.env.LOG_LEVEL ?? 'warn', file: LOG_FILE },
  migration: migrationOptions(workos),
  // AuthKit sends the browser back to <PUBLIC_URL>/auth/callback (default the listening address).
  ...(process.env.PUBLIC_URL ? { publicUrl: process.env.PUBLIC_URL } : {}),
});
const close = async () => {
  await app.close();
  await database.close();
  await workos.emulator?.close();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say('Stopping...');
    void close().then(() => process.exit(0));
  });
}
const url = await app.listen({ port, host: '127.0.0.1' });
say(`App listening on ${url} (logs: ${LOG_FILE})`);

const [{ n: count } = { n: 0 }] = await database.db.select({ n: countRows() }).from(users);
if (count === 0) {
  say(
    `Seeding ${seedCount.toLocaleString('en-US')} legacy users (bcrypt, argon2id, Django pbkdf2, md5, social logins, a few dirty rows)...`,
  );
  const seeded = await seedUsers(database.db, seedCount);
  say(`Seeded ${seeded.inserted.toLocaleString('en-US')} users.`);
}
const queued = await app.workosMigrate.enqueueBackfill();
say(`Backfill: ${queued.toLocaleString('en-US')} users queued; the worker mirrors them into WorkOS.`);
say('');
say('Where to look:');
say(`  curl -s -H "Authorization: Bearer ${shownToken}" ${url}/workos-migrate/status`);
say(`  npx workos-migrate freeze on --app-url ${url} --token "${shownToken}"`);
say(
  `  npx workos-migrate rollout 10 --app-url ${url} --token "${shownToken}"   # then 50, 100; 0 is the kill switch`,
);
say(
  `  curl -s -X POST ${url}/login -H 'content-type: application/json' -d '{"email":"user1@example.com","password":"legacy-password-1"}'`,
);
if (workos.emulator)
  say(`  ${url}/sign-in in a browser: email first, then the legacy form or AuthKit by the rollout`);
say('');

const started = Date.now();
for (;;) {
  const status = await app.workosMigrate.status();
  const pending = status.pending.live + status.pending.backfill;
  if (pending === 0) {
    const dead =
      Object.entries(status.dead)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ') || 'none';
    const passwords = Object.entries(status.passwordStates)
      .map(([state, n]) => `${state} ${n}`)
      .join(', ');
    say(
      `Backfill done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${status.synced} of ${status.users} users in WorkOS; dead letters: ${dead}; passwords: ${passwords}.`,
    );
    say('The app keeps running (Ctrl+C stops it); every signup, edit and delete is mirrored live.');
    break;
  }
  say(`  ${status.synced} synced, ${pending} pending`);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
}

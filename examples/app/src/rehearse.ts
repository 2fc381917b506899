// `npm run rehearse`: the whole migration, scripted, on embedded defaults and the emulator with
// latency and faults. Seed, dry run, import under live traffic, freeze on/off, a shadow phase (legacy
// decides, WorkOS is tried in the background, per hash format), ramp 0 -> 10 -> 50 -> 100 with logins
// at each step, AuthKit sign-ins through the app's sign-in page at 100%, verify. Ends with a report;
// exits 1 when verification fails.
// `--misread-hash-type bcrypt` (or REHEARSE_MISREAD_HASH_TYPE) has the emulator read one imported
// type differently: the shadow phase blocks that format, and sign-ins routed to WorkOS heal it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkOS } from '@workos-inc/node';
import { sql } from 'drizzle-orm';
import { createWorkosMigrate, type FormatEvidence } from 'workos-migrate';
import { install } from 'workos-migrate/drizzle';
import {
  expectCode,
  type HostedAnswer,
  hostedGoogleSignIn,
  hostedPasswordSignIn,
  type MisreadHashType,
} from 'workos-migrate/emulator';
import { analyze } from 'workos-migrate/hashes';
import { buildApp } from './app.js';
import { EXTERNAL_ID_PREFIX, usersMapping } from './config.js';
import { verifyPassword } from './passwords.js';
import { connectWorkos, migrationOptions, openDatabase } from './runtime.js';
import { USERS_DDL, users } from './schema.js';
import { seededEmail, seededKind, seededPassword, seedUsers } from './seed.js';

const USERS = Number(process.env.REHEARSE_USERS ?? 2000);
const LOGIN_SAMPLE = 150;
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tally = (map: Record<string, number>, key: string) => {
  map[key] = (map[key] ?? 0) + 1;
};
const list = (map: Record<string, number>) =>
  Object.entries(map)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ') || 'none';

const misreadFlag = process.argv.indexOf('--misread-hash-type');
const MISREAD = (misreadFlag >= 0 ? process.argv[misreadFlag + 1] : process.env.REHEARSE_MISREAD_HASH_TYPE) as
  | MisreadHashType
  | undefined;
/** One line per source hash format, as `workos-migrate status` prints it. */
const formatLines = (formats: readonly FormatEvidence[]) =>
  formats.map(
    (f) =>
      `   ${f.format.padEnd(12)} users ${f.users}, shadow-checked ${f.shadowChecked}, matched ${f.matched}, mismatched ${f.mismatched}, healed ${f.healed}: ${f.verdict}`,
  );

const dataDir = mkdtempSync(join(tmpdir(), 'workos-migrate-rehearsal-'));
const workos = await connectWorkos({
  emulatorWritesPerSecond: 250,
  faults: { latencyMs: { min: 20, max: 80 }, errorRate: 0.02, dropRate: 0.01, rateLimitRate: 0.01 },
});
say(
  `WorkOS: ${workos.description}${workos.emulator ? ', with 20-80 ms latency and 2% errors, 1% drops, 1% 429s' : ''}`,
);
if (MISREAD) {
  if (!workos.emulator)
    throw new Error('--misread-hash-type needs the local emulator (unset WORKOS_API_KEY)');
  workos.emulator.control.configure({ misreadHashTypes: [MISREAD] });
  say(`WorkOS emulator reads imported ${MISREAD} hashes differently (--misread-hash-type ${MISREAD})`);
}
const database = await openDatabase(join(dataDir, 'pglite'));
say(`Database: ${database.description}`);
const { db } = database;
await db.execute(sql.raw(USERS_DDL));
await install(db, usersMapping);

// 1. Seed the legacy user base.
const seedStart = Date.now();
await seedUsers(db, USERS);
say(`1. Seeded ${USERS} legacy users + 3 dirty rows in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

// 2. Dry run: what will not import, before anything is written to WorkOS.
const rows = await db.select({ email: users.email, hash: users.passwordHash }).from(users);
const hashes = analyze(rows.map((row) => row.hash));
const seen = new Set<string>();
let duplicates = 0;
let invalidEmails = 0;
for (const row of rows) {
  const email = row.email?.trim().toLowerCase();
  if (!email || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) invalidEmails += 1;
  else if (seen.has(email)) duplicates += 1;
  else seen.add(email);
}
say(
  `2. Dry run: ${hashes.convertible} hashes convertible, ${hashes.unsupported} not (${Object.keys(
    hashes.reasons,
  )
    .filter((code) => code !== 'no_password')
    .join(', ')}), ` +
    `${hashes.noPassword} without a password; ${invalidEmails} missing or invalid emails, ${duplicates} duplicates after normalising`,
);

// 3. The app, live, with the plugin's worker.
const adminToken = 'rehearsal-admin-token-0123456789';
const app = await buildApp({
  db,
  adminToken,
  migration: {
    ...migrationOptions(workos, { leaseMs: 6_000 }),
    // The emulator takes shadow checks faster than the default 2 per second real WorkOS gets.
    ...(workos.emulator ? { shadow: { ratePerSecond: 50, queueSize: 500 } } : {}),
  },
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
const call = async (method: string, path: string, body?: unknown, token?: string) => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
};
const admin = (path: string, body: unknown) => call('POST', `/workos-migrate${path}`, body, adminToken);

const importStart = Date.now();
const queued = await app.workosMigrate.enqueueBackfill();
say(
  `3. Import: ${queued} users queued; live traffic meanwhile (signups, edits, email and password changes, deletes)`,
);
const live: Record<string, number> = {};
const changedPasswords = new Map<number, string>();
const changedEmails = new Map<number, string>();
const deleted = new Set<number>();
const emailOf = (n: number) => changedEmails.get(n) ?? seededEmail(n);
const passwordOf = (n: number) => changedPasswords.get(n) ?? seededPassword(n);
const sessionFor = async (n: number) => {
  const answer = await call('POST', '/login', { email: emailOf(n), password: passwordOf(n) });
  return answer.status === 200 ? String(answer.body.session) : null;
};
for (let i = 0; i < 60; i++) {
  const n = 1 + ((i * 37) % USERS);
  if (seededKind(n) === 'social' || n % 97 === 0) continue;
  const session = await sessionFor(n);
  if (!session) {
    tally(live, 'login failed');
    continue;
  }
  switch (i % 5) {
    case 0:
      tally(
        live,
        `signup ${(await call('POST', '/signup', { email: `new${i}@example.com`, password: `new-password-${i}` })).status}`,
      );
      break;
    case 1:
      tally(
        live,
        `edit ${(await call('PATCH', '/me', { firstName: `Renamed${i}`, plan: 'team' }, session)).status}`,
      );
      break;
    case 2: {
      const email = `moved${i}@example.com`;
      tally(live, `email ${(await call('POST', '/me/email', { email }, session)).status}`);
      changedEmails.set(n, email);
      break;
    }
    case 3: {
      const password = `changed-password-${i}`;
      tally(live, `password ${(await call('POST', '/me/password', { password }, session)).status}`);
      changedPasswords.set(n, password);
      break;
    }
    default:
      if (i % 20 === 4) {
        tally(live, `delete ${(await call('DELETE', '/me', undefined, session)).status}`);
        deleted.add(n);
      } else tally(live, `edit ${(await call('PATCH', '/me', { lastName: `Last${i}` }, session)).status}`);
  }
}
say(`   live requests: ${list(live)}`);

// 4. Freeze on and off, live.
await admin('/freeze', { on: true });
await sleep(50);
const frozen = await call('POST', '/signup', {
  email: 'during-freeze@example.com',
  password: 'frozen-password-1',
});
await admin('/freeze', { on: false });
const thawed = await call('POST', '/signup', {
  email: 'after-freeze@example.com',
  password: 'thawed-password-1',
});
const freezeOk = frozen.status === 503 && frozen.body.error === 'signups_frozen' && thawed.status === 201;
say(
  `4. Freeze: signup while frozen -> ${frozen.status} ${String(frozen.body.error)}; after unfreezing -> ${thawed.status}`,
);

// Wait for the import (and the live changes) to drain.
let status = await app.workosMigrate.status();
while (status.pending.live + status.pending.backfill > 0) {
  if (Date.now() - importStart > 600_000) break;
  await sleep(500);
  status = await app.workosMigrate.status();
}
const importSeconds = (Date.now() - importStart) / 1000;
say(
  `   import drained in ${importSeconds.toFixed(1)} s: ${status.synced} of ${status.users} users in WorkOS`,
);

// 5. Ramp 0 -> 10 -> 50 -> 100 with logins at each step. Random faults end here (latency stays): a
// sign-in through WorkOS that meets a 5xx is refused, never sent to legacy, so every failure below
// would be a finding rather than noise.
workos.emulator?.control.configure({ faults: { latencyMs: { min: 20, max: 80 } } });
const sample: number[] = [];
for (let n = 1; sample.length < LOGIN_SAMPLE && n <= USERS; n += 7) {
  if (seededKind(n) !== 'social' && n % 97 !== 0 && !deleted.has(n)) sample.push(n);
}
const logins: Record<string, number> = {};
const loginFailures: string[] = [];
const sides = new Map<number, string[]>();
// WorkOS asks a user whose email is not verified to verify it (on by default, as in WorkOS): for a
// user the app itself has not verified that is the expected step, not a lock-out.
const unverified = new Set(
  (await db.select({ email: users.email, verified: users.emailVerified }).from(users))
    .filter((row) => !row.verified && row.email !== null)
    .map((row) => String(row.email)),
);
// Shadow phase: at 0% the legacy check decides each sample login and the same password is tried at
// WorkOS in the background; the per-format table says which formats may be routed.
await admin('/rollout', { percent: 0 });
for (const n of sample) {
  const answer = await call('POST', '/login', { email: emailOf(n), password: passwordOf(n) });
  if (answer.status !== 200)
    loginFailures.push(`${emailOf(n)} in the shadow phase: ${String(answer.body.reason)}`);
}
const shadowStart = Date.now();
for (;;) {
  const shadow = (await app.workosMigrate.status()).shadow;
  if (!shadow || shadow.queued === 0 || Date.now() - shadowStart > 120_000) break;
  await sleep(200);
}
await sleep(500); // the last check in flight
const shadowFormats = (await app.workosMigrate.status()).formats;
say(`5. Shadow phase: ${sample.length} legacy logins checked at WorkOS in the background; per hash format:`);
for (const line of formatLines(shadowFormats)) say(line);
for (const percent of [0, 10, 50, 100]) {
  await admin('/rollout', { percent });
  for (const n of sample) {
    const answer = await call('POST', '/login', { email: emailOf(n), password: passwordOf(n) });
    const side = String(answer.body.side);
    const expectedStep =
      answer.status === 403 &&
      answer.body.reason === 'email-verification-required' &&
      unverified.has(emailOf(n));
    if (answer.status !== 200 && !expectedStep)
      loginFailures.push(`${emailOf(n)} at ${percent}%: ${String(answer.body.reason)}`);
    tally(
      logins,
      `${percent}%: ${side} ${
        answer.status === 200
          ? 'ok'
          : expectedStep
            ? 'asked to verify the email'
            : `failed (${String(answer.body.reason)})`
      }`,
    );
    sides.set(n, [...(sides.get(n) ?? []), side]);
  }
}
// Sticky and monotonic: once on WorkOS, a user stays there as the percentage rises.
const movedBack = [...sides.values()].filter((seq) =>
  seq.some((side, i) => side === 'legacy' && seq.slice(0, i).includes('workos')),
).length;
const failedLogins = Object.entries(logins)
  .filter(([key]) => key.includes('failed'))
  .reduce((sum, [, n]) => sum + n, 0);
say(`6. Ramp: ${list(logins)}`);

// 6b. AuthKit at 100%: a few people through the app's sign-in page (email first, then the hosted
// page, then the app's callback), as a browser would, cookies included. Users outside the ramp's
// sample, so WorkOS's per-email sign-in limit is not spent twice.
const authkit: Record<string, number> = {};
if (workos.emulator) {
  const browse = () => {
    const cookies = new Map<string, string>();
    return async (path: string, form?: Record<string, string>) => {
      const response = await fetch(new URL(path, url), {
        method: form ? 'POST' : 'GET',
        redirect: 'manual',
        headers: {
          cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
      });
      for (const line of response.headers.getSetCookie()) {
        const [name = '', value = ''] = (line.split(';')[0] ?? '').split('=');
        cookies.set(name, value);
      }
      return response;
    };
  };
  const viaAuthkit = async (n: number, hosted: (authorizeUrl: string) => Promise<HostedAnswer>) => {
    const go = browse();
    const first = await go('/sign-in', { email: emailOf(n) });
    const authorizeUrl = first.headers.get('location');
    if (first.status !== 303 || !authorizeUrl?.startsWith(workos.emulator?.url ?? '-'))
      return 'not sent to AuthKit';
    const answer = await hosted(authorizeUrl);
    if ('page' in answer) return `stayed on the hosted ${answer.page} page (${answer.error})`;
    const callback = await go(expectCode(answer).location);
    const accountPage = await go(callback.headers.get('location') ?? '/account');
    const html = await accountPage.text();
    return html.includes(`(user ${n})`) ? 'signed in as themselves' : `not signed in (${callback.status})`;
  };
  const eligible = (n: number) =>
    !deleted.has(n) && n % 97 !== 0 && !sample.includes(n) && !unverified.has(emailOf(n));
  const passwordUsers = [2, 3, 4, 5, 6, 7]
    .filter((n) => eligible(n) && seededKind(n) === 'bcrypt')
    .slice(0, 3);
  const socialUser = [16, 17, 18, 19, 36, 37].find((n) => eligible(n) && seededKind(n) === 'social');
  for (const n of passwordUsers) {
    const outcome = await viaAuthkit(n, (u) =>
      hostedPasswordSignIn(u, { email: emailOf(n), password: passwordOf(n) }),
    );
    tally(authkit, `password: ${outcome}`);
    if (outcome !== 'signed in as themselves')
      loginFailures.push(`${emailOf(n)} through AuthKit: ${outcome}`);
  }
  if (socialUser !== undefined) {
    const outcome = await viaAuthkit(socialUser, (u) =>
      hostedGoogleSignIn(u, { email: emailOf(socialUser) }),
    );
    tally(authkit, `Google: ${outcome}`);
    if (outcome !== 'signed in as themselves')
      loginFailures.push(`${emailOf(socialUser)} through Google: ${outcome}`);
  }
  const wrongUser = passwordUsers[0];
  if (wrongUser !== undefined) {
    const outcome = await viaAuthkit(wrongUser, (u) =>
      hostedPasswordSignIn(u, { email: emailOf(wrongUser), password: 'not-it' }),
    );
    tally(authkit, `wrong password: ${outcome}`);
    if (!outcome.includes('invalid_credentials'))
      loginFailures.push(`a wrong password through AuthKit: ${outcome}`);
  }
  say(`   AuthKit through the app's sign-in page: ${list(authkit)}`);
}

// With a misread format: its users stayed on legacy (format-unproven). An operator who routes them
// anyway (gate off) has each sign-in heal the import; nobody may be locked out.
let healedLogins = 0;
if (MISREAD) {
  const ungated = createWorkosMigrate({
    ...migrationOptions(workos),
    worker: {},
    db,
    cutover: { requireProvenFormats: false },
    shadow: false,
  });
  await ungated.start({ worker: false });
  const healing: Record<string, number> = {};
  for (const n of sample) {
    const result = await ungated.login({
      email: emailOf(n),
      password: passwordOf(n),
      verifyLegacy: ({ password: given, passwordHash }) => verifyPassword(given, passwordHash),
    });
    const expectedStep = result.reason === 'email-verification-required' && unverified.has(emailOf(n));
    if (!result.ok && !expectedStep) loginFailures.push(`${emailOf(n)} with the gate off: ${result.reason}`);
    if (result.ok && result.healed) healedLogins += 1;
    tally(healing, result.ok ? `${result.side} ok${result.healed ? ' (healed)' : ''}` : `${result.reason}`);
  }
  await ungated.close();
  say(`7. Gate off, every sample user signs in once: ${list(healing)}`);
  for (const line of formatLines((await app.workosMigrate.status()).formats)) say(line);
}

// 8. Verify: every local user in WorkOS with equal fields, nothing extra (read back through the SDK).
const client = new WorkOS(workos.apiKey, {
  ...(workos.apiUrl
    ? {
        apiHostname: new URL(workos.apiUrl).hostname,
        port: Number(new URL(workos.apiUrl).port),
        https: false,
      }
    : {}),
});
const remote = new Map<string, { email: string; firstName: string | null; lastName: string | null }>();
let after: string | undefined;
for (;;) {
  const page = await client.userManagement.listUsers({
    limit: 100,
    order: 'asc',
    ...(after ? { after } : {}),
  });
  for (const user of page.data) if (user.externalId) remote.set(user.externalId, user);
  after = page.listMetadata.after ?? undefined;
  if (!after) break;
}
const local = await db.select().from(users);
const deadRows = await app.workosMigrate.status();
const problems: string[] = [];
let checked = 0;
// Two local users share an email after normalising (user 1 and the ' USER1@Example.com ' row): WorkOS
// keeps emails unique, so whichever the worker reached first is in WorkOS and the other is
// dead-lettered as email_owned_elsewhere. Which one is for a person to decide (the dry run names them).
const duplicatePair = local.filter((row) => row.email?.trim().toLowerCase() === seededEmail(1));
const duplicatesInWorkos = duplicatePair.filter((row) => remote.has(`${EXTERNAL_ID_PREFIX}${row.id}`)).length;
if (duplicatePair.length === 2 && duplicatesInWorkos !== 1)
  problems.push(
    `${duplicatesInWorkos} of the two users sharing ${seededEmail(1)} are in WorkOS, expected exactly 1`,
  );
for (const row of local) {
  const user = remote.get(`${EXTERNAL_ID_PREFIX}${row.id}`);
  const dirty = !row.email || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(row.email.trim());
  if (dirty || (duplicatePair.includes(row) && !user)) continue; // expected dead letters, reported below
  checked += 1;
  if (!user) problems.push(`local user ${row.id} missing in WorkOS`);
  else if (
    user.email !== row.email ||
    user.firstName !== row.firstName ||
    (row.lastName !== null && user.lastName !== row.lastName)
  )
    problems.push(
      `local user ${row.id} differs in WorkOS (local ${row.email} / ${row.firstName} / ${row.lastName}, WorkOS ${user.email} / ${user.firstName} / ${user.lastName})`,
    );
}
const localIds = new Set(local.map((row) => `${EXTERNAL_ID_PREFIX}${row.id}`));
for (const externalId of remote.keys())
  if (!localIds.has(externalId)) problems.push(`WorkOS user ${externalId} has no local user`);
if (!freezeOk) problems.push('the freeze did not answer 503 then accept');
if (movedBack > 0) problems.push(`${movedBack} users moved back to legacy while the rollout rose`);
if (failedLogins > 0 || loginFailures.length > 0)
  problems.push(`${loginFailures.length} logins failed: ${loginFailures.slice(0, 5).join('; ')}`);
if (MISREAD) {
  const misread = (await app.workosMigrate.status()).formats.filter((f) => f.mismatched > 0);
  if (misread.length === 0) problems.push(`the shadow phase found no mismatch with ${MISREAD} misread`);
  // Every affected user who signed in (verified email: the others stop at WorkOS's verification step
  // before the second sign-in) was healed.
  const healedCount = misread.reduce((total, f) => total + f.healed, 0);
  if (healedCount === 0 || healedLogins === 0) problems.push('no affected user was healed at sign-in');
}
const expectedDead = 3;
const deadCount = Object.values(deadRows.dead).reduce((a, b) => a + b, 0);
if (deadCount !== expectedDead) {
  // Say which and why: the library's outbox keeps the reason and the last error of each.
  const dead = await db.execute(
    sql`SELECT user_id, dead_reason, last_error FROM workos_migrate.outbox WHERE dead ORDER BY user_id`,
  );
  const deadList = (Array.isArray(dead) ? dead : (dead as unknown as { rows: unknown[] }).rows) as {
    user_id: string;
    dead_reason: string;
    last_error: string | null;
  }[];
  problems.push(
    `${deadCount} dead letters, expected the ${expectedDead} dirty rows: ${deadList
      .map((row) => `user ${row.user_id} ${row.dead_reason} (${row.last_error ?? 'no error'})`)
      .join('; ')}`,
  );
}

// 9. Report.
const byFormat: Record<string, number> = {};
for (let n = 1; n <= USERS; n++) if (!deleted.has(n)) tally(byFormat, seededKind(n));
const counters = workos.emulator?.control.counters();
say('');
say('Rehearsal report');
say(
  `  users:            ${status.users} local, ${status.synced} in WorkOS; by seeded format: ${list(byFormat)}`,
);
say(`  password states:  ${list(deadRows.passwordStates)}`);
say(`  dead letters:     ${list(deadRows.dead)} (the dirty rows: duplicate email, no email, invalid email)`);
say(
  `  import:           ${importSeconds.toFixed(1)} s under live traffic; oldest pending change now ${deadRows.oldestPendingSeconds === null ? 'none' : `${deadRows.oldestPendingSeconds.toFixed(1)} s`}`,
);
say(`  logins:           ${list(logins)}; moved back to legacy while ramping: ${movedBack}`);
if (workos.emulator) say(`  AuthKit:          ${list(authkit)}`);
say('  hash formats:');
for (const line of formatLines((await app.workosMigrate.status()).formats)) say(`  ${line}`);
if (counters)
  say(
    `  WorkOS requests:  ${counters.total}, 429 answers ${counters.rateLimited}, injected faults: ${list(counters.faults)}`,
  );
say(
  `  verify:           ${checked} users checked; ${problems.length === 0 ? 'PASSED' : `FAILED:\n    - ${problems.slice(0, 20).join('\n    - ')}`}`,
);

await app.close();
await database.close();
await workos.emulator?.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);

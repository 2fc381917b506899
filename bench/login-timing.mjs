// What an unauthenticated login request costs, and whether its timing tells who has an account.
//
//   npm run build && node bench/login-timing.mjs [--users 100000] [--rounds 41] [--lookups 200] [--out login-timing] [--timeout 600]
//
// One PostgreSQL (embedded, durable defaults), a users table with `users` rows that predate the install
// (a bcrypt cost-10 hash each, as `bcryptHash()` makes), then `install` (which builds the email index).
// 1. Lookup: median latency of the email lookup login() runs (`lower(btrim(email::text, E' \\t\\n\\r\\f\\v')) = $1`, the same edge whitespace as normaliseEmail), with the
//    index install creates, and with it dropped (the sequential scan of the issue), `lookups` each.
// 2. Timing: login() on the legacy side (stored rollout 0), a wrong password for a real user against an
//    unknown email, interleaved, `rounds` each, with the app's verifyLegacy = bcrypt.compare; the unknown
//    email is checked against `login.unknownUserHash` (default: bcrypt cost 10). WorkOS is not called.
// Target: unknown / known median within 2x (0.5 to 2). Writes bench/results/<out>.md.

import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { createWorkosMigrate } from 'workos-migrate';
import {
  bcryptHash,
  commandLine,
  flags,
  fmt,
  machineLines,
  median,
  pass,
  runBench,
  serverVersion,
  setupApp,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({ users: 100_000, rounds: 41, lookups: 200, out: 'login-timing', timeout: 600 });

async function lookupMedian(client, email, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await client.unsafe(
      `SELECT id FROM users u WHERE lower(btrim(u.email::text, E' \\t\\n\\r\\f\\v')) = $1 LIMIT 10`,
      [email],
    );
    times.push(performance.now() - started);
  }
  return median(times);
}

await runBench('login-timing', args.timeout, async (h) => {
  const pg = await startPostgres({ settings: DURABLE });
  h.defer(() => pg.stop());
  const hash = await bcryptHash();
  const { client, db, mapping } = await setupApp(h, pg.url, 'bench_login', { count: args.users, hash });
  const version = await serverVersion(client);
  await client.unsafe('ANALYZE users');
  const [known] = await client.unsafe('SELECT email FROM users ORDER BY id LIMIT 1');
  h.check();

  const plan = await client.unsafe(
    `EXPLAIN SELECT id FROM users u WHERE lower(btrim(u.email::text, E' \\t\\n\\r\\f\\v')) = 'nobody@example.com' LIMIT 10`,
  );
  const withIndex = await lookupMedian(client, 'nobody@example.com', args.lookups);
  const [index] = await client.unsafe(
    `SELECT indexdef FROM pg_indexes WHERE indexname = 'users_workos_migrate_email_idx'`,
  );
  await client.unsafe('DROP INDEX users_workos_migrate_email_idx');
  const withoutIndex = await lookupMedian(client, 'nobody@example.com', Math.max(5, args.lookups / 20));
  await client.unsafe(index.indexdef);
  await client.unsafe('ANALYZE users');
  h.check();

  const migrate = createWorkosMigrate({
    db,
    users: mapping,
    // Never called: every login below stays on the legacy side.
    workos: { apiKey: 'sk_test_unused', clientId: 'client_unused', apiUrl: 'http://127.0.0.1:9' },
    login: { legacyAttemptLimit: false },
  });
  h.defer(() => migrate.close());
  await migrate.flags.setRollout(0);
  const verifyLegacy = ({ password, passwordHash }) =>
    passwordHash ? bcrypt.compare(password, passwordHash) : false;
  const times = { known: [], unknown: [] };
  for (let i = 0; i < args.rounds; i++) {
    for (const [kind, email] of [
      ['known', known.email],
      ['unknown', `nobody-${i}@example.com`],
    ]) {
      const started = performance.now();
      const result = await migrate.login({ email, password: 'not the password', verifyLegacy });
      times[kind].push(performance.now() - started);
      if (result.ok) throw new Error('a wrong password signed in');
    }
    h.check();
  }
  const knownMedian = median(times.known);
  const unknownMedian = median(times.unknown);
  const ratio = unknownMedian / knownMedian;

  await writeResult(
    args.out,
    [
      '# login(): email lookup and unknown-email timing',
      '',
      `Command: \`${commandLine()}\``,
      '',
      `${args.users.toLocaleString('en-US')} users, PostgreSQL ${version}, bcrypt cost 10 for every stored hash and for \`login.unknownUserHash\`.`,
      '',
      '| figure | value |',
      '|---|---|',
      `| lookup plan with install's index | \`${plan.map((row) => row['QUERY PLAN'].trim()).join(' / ')}\` |`,
      `| lookup median, with the index | ${fmt(withIndex, 3)} ms |`,
      `| lookup median, index dropped (sequential scan) | ${fmt(withoutIndex, 1)} ms |`,
      `| login() median, real user, wrong password (legacy) | ${fmt(knownMedian, 1)} ms |`,
      `| login() median, unknown email | ${fmt(unknownMedian, 1)} ms |`,
      `| unknown / known | ${fmt(ratio)} (target 0.5 to 2: ${pass(ratio >= 0.5 && ratio <= 2)}) |`,
      '',
      ...machineLines(),
      '',
    ].join('\n'),
  );
});

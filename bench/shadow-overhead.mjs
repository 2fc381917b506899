// What shadow checks cost a legacy sign-in, and whether their queue stays flat under a burst.
//
//   npm run build && node --expose-gc bench/shadow-overhead.mjs [--users 200] [--rounds 400] [--burst 10000] [--out shadow-overhead] [--timeout 600]
//
// One PostgreSQL (embedded), `users` users (bcrypt cost 4) mirrored into the emulator (a child
// process, no rate limits). Then, at rollout 0 (legacy decides), with the app's verifyLegacy =
// bcrypt.compare and the right password (so every sign-in is offered to the shadow checker):
// 1. Latency: login() through an engine with `shadow: false` and one with the default shadow options
//    (2 checks per second, queue of 100), interleaved ABBA, `rounds` each: p50 and p99.
//    Target: with / without within 1.05 for both.
// 2. Burst: `burst` sign-ins, 20 at a time, through the shadow engine: the queue's largest length and
//    the heap (after a GC) at 10%, 50% and 100% of the burst. Target: queue never above its size,
//    heap growth from 10% to 100% under 8 MiB (flat: it does not grow with the sign-ins).
// Writes bench/results/<out>.md.

import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { createWorkosMigrate } from 'workos-migrate';
import {
  commandLine,
  engineConfig,
  flags,
  fmt,
  machineLines,
  pass,
  percentile,
  runBench,
  serverVersion,
  setupApp,
  sleep,
  startEmulatorChild,
  writeResult,
} from './lib/common.mjs';
import { startPostgres } from './lib/postgres.mjs';

const args = flags({ users: 200, rounds: 1000, burst: 10_000, out: 'shadow-overhead', timeout: 600 });
const PASSWORD = 'correct horse battery staple';

const heapMiB = () => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

await runBench('shadow-overhead', args.timeout, async (h) => {
  const pg = await startPostgres();
  h.defer(() => pg.stop());
  const hash = bcrypt.hashSync(PASSWORD, 4);
  const { client, db, mapping } = await setupApp(h, pg.url, 'bench_shadow', { count: args.users, hash });
  const version = await serverVersion(client);
  // In its own process: its password checks must not share the app's event loop, as WorkOS does not.
  const emulator = await startEmulatorChild(h, [
    '--no-rate-limit',
    '--no-require-email-verification',
    '--no-events',
  ]);
  const base = engineConfig(mapping, db, emulator, { ratePerSecond: 500, concurrency: 16, pollMs: 20 });

  const mirror = createWorkosMigrate(base);
  h.defer(() => mirror.close());
  await mirror.start();
  await mirror.enqueueBackfill();
  for (;;) {
    const status = await mirror.status();
    if (status.pending.live + status.pending.backfill === 0) break;
    await sleep(200);
    h.check();
  }
  await mirror.close();
  const emails = (await client.unsafe('SELECT email FROM users ORDER BY id')).map((row) => row.email);

  const common = { ...base, login: { legacyAttemptLimit: false } };
  const off = createWorkosMigrate({ ...common, shadow: false });
  const on = createWorkosMigrate(common);
  h.defer(() => off.close());
  h.defer(() => on.close());
  await off.start({ worker: false });
  await on.start({ worker: false });
  await off.flags.setRollout(0);
  await sleep(1_100); // both engines read the stored rollout
  const verifyLegacy = ({ password, passwordHash }) =>
    passwordHash ? bcrypt.compare(password, passwordHash) : false;
  const signIn = async (engine, email) => {
    const started = performance.now();
    const result = await engine.login({ email, password: PASSWORD, verifyLegacy });
    if (!result.ok || result.side !== 'legacy') throw new Error(`unexpected answer: ${result.reason}`);
    return performance.now() - started;
  };

  // 1. Latency, ABBA.
  const times = { off: [], on: [] };
  for (let i = 0; i < args.rounds; i++) {
    const email = emails[i % emails.length];
    const order = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const kind of order) times[kind].push(await signIn(kind === 'on' ? on : off, email));
    h.check();
  }
  const stats = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  const offStats = stats(times.off);
  const onStats = stats(times.on);
  const p50Ratio = onStats.p50 / offStats.p50;
  const p99Ratio = onStats.p99 / offStats.p99;

  // 2. Burst through the shadow engine.
  const checkpoints = new Map([
    [Math.round(args.burst * 0.1), null],
    [Math.round(args.burst * 0.5), null],
    [args.burst, null],
  ]);
  let maxQueued = 0;
  let done = 0;
  let next = 0;
  const heapBefore = heapMiB();
  const worker = async () => {
    while (next < args.burst) {
      const i = next++;
      await signIn(on, emails[i % emails.length]);
      const finished = ++done;
      maxQueued = Math.max(maxQueued, (await on.status()).shadow.queued);
      if (checkpoints.has(finished)) checkpoints.set(finished, heapMiB());
    }
  };
  const burstStart = performance.now();
  await Promise.all(Array.from({ length: 20 }, worker));
  const burstSeconds = (performance.now() - burstStart) / 1000;
  const shadow = (await on.status()).shadow;
  const heaps = [...checkpoints.values()];
  const growth = (heaps[2] ?? 0) - (heaps[0] ?? 0);
  const queueSize = 100;

  await writeResult(
    args.out,
    [
      '# Shadow checks: legacy sign-in latency and queue memory',
      '',
      `Command: \`${commandLine()}\``,
      '',
      `${args.users} users mirrored into the emulator (a child process), PostgreSQL ${version}, bcrypt cost 4, rollout 0 (legacy decides), the right password (every sign-in is offered to the shadow checker). GC exposed: ${globalThis.gc ? 'yes' : 'no (run with --expose-gc)'}.`,
      '',
      '| figure | without shadow | with shadow (defaults) | with / without |',
      '|---|---|---|---|',
      `| login() p50, ${args.rounds} each, ABBA | ${fmt(offStats.p50)} ms | ${fmt(onStats.p50)} ms | ${fmt(p50Ratio, 3)} (target <= 1.05: ${pass(p50Ratio <= 1.05)}) |`,
      `| login() p99 | ${fmt(offStats.p99)} ms | ${fmt(onStats.p99)} ms | ${fmt(p99Ratio, 3)} (target <= 1.05: ${pass(p99Ratio <= 1.05)}) |`,
      '',
      `Burst: ${args.burst.toLocaleString('en-US')} sign-ins, 20 at a time, in ${fmt(burstSeconds, 1)} s.`,
      '',
      '| figure | value |',
      '|---|---|',
      `| heap before the burst | ${fmt(heapBefore, 1)} MiB |`,
      ...[...checkpoints.entries()].map(
        ([n, heap]) =>
          `| heap after ${n.toLocaleString('en-US')} sign-ins | ${fmt(heap ?? Number.NaN, 1)} MiB |`,
      ),
      `| heap growth, 10% -> 100% of the burst | ${fmt(growth, 1)} MiB (target < 8: ${pass(growth < 8)}) |`,
      `| largest queue length | ${maxQueued} (queue size ${queueSize}: ${pass(maxQueued <= queueSize)}) |`,
      `| offered / dropped / checked | ${shadow.offered} / ${shadow.dropped} / ${shadow.checked} |`,
      '',
      ...machineLines(),
      '',
    ].join('\n'),
  );
});

